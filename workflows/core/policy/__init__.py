"""School policy (補充規定) as data: the one object that answers every "how many / until when".

A school's policy is a TOML file (format: docs/policy.md; presets in policies/). Loading checks
the file format (unknown, missing or mistyped keys) and the national rule (作業要點第四點, the
national file limits), which no school may loosen, and reports every violation at once.

One module per job: `model` (the Policy and its answers), `terms` (what a policy speaks of, with
labels), `national` (the national rule and its checks), `violations`, `flat` (a policy as values
by TOML path), `reading` and `writing` (TOML), `literals`, `presets` (policies/ and files),
`per_school` (a school row's policy, parsed once) and `description` (rows people read).
"""
from workflows.core.policy.description import describe
from workflows.core.policy.model import (DISPUTE_OFFICE_DEFAULTS, MB, REMINDER_DEFAULT_DAYS,
                                         REMINDER_DEFAULT_HOUR, FileRule, ItemRule, Policy)
from workflows.core.policy.national import (DISPUTE_OFFICE_ROLES, NATIONAL, REMINDER_DAYS_MAX, RULES,
                                            NationalRules, check_policy, validate_policy)
from workflows.core.policy.per_school import parsed_policy, school_policy
from workflows.core.policy.presets import PRESETS_DIR, load_policy, preset_names
from workflows.core.policy.reading import parse_policy
from workflows.core.policy.terms import (COURSE_KINDS, DISPUTE_CATEGORIES, DIVISION_CODES, DUTY_PROXY,
                                         KIND_LABELS, KINDS, RECEIPT_CATEGORY_LABELS, SLOTS,
                                         receipt_category_label)
from workflows.core.policy.violations import MISSING, PolicyError, PolicyFileError, PolicyViolation
from workflows.core.policy.writing import policy_to_toml

__all__ = [
    "COURSE_KINDS", "DISPUTE_CATEGORIES", "DISPUTE_OFFICE_DEFAULTS", "DISPUTE_OFFICE_ROLES",
    "DIVISION_CODES", "DUTY_PROXY", "FileRule", "ItemRule", "KIND_LABELS", "KINDS", "MB", "MISSING",
    "NATIONAL", "NationalRules", "PRESETS_DIR", "Policy", "PolicyError", "PolicyFileError",
    "PolicyViolation", "RECEIPT_CATEGORY_LABELS", "REMINDER_DAYS_MAX", "REMINDER_DEFAULT_DAYS",
    "REMINDER_DEFAULT_HOUR", "RULES", "SLOTS", "check_policy", "describe", "load_policy",
    "parse_policy", "parsed_policy", "policy_to_toml", "preset_names", "receipt_category_label",
    "school_policy", "validate_policy",
]
