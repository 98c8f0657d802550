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
from workflows.core.policy.model import MB, REMINDER_DEFAULT_DAYS, FileRule, Policy
from workflows.core.policy.national import NATIONAL, check_policy, validate_policy
from workflows.core.policy.per_school import school_policy
from workflows.core.policy.presets import PRESETS_DIR, load_policy, preset_names
from workflows.core.policy.reading import parse_policy
from workflows.core.policy.terms import (COURSE_KINDS, DISPUTE_CATEGORIES, DUTY_PROXY, KIND_LABELS,
                                         receipt_category_label)
from workflows.core.policy.violations import PolicyError, PolicyFileError
from workflows.core.policy.writing import policy_to_toml

__all__ = [
    "COURSE_KINDS", "DISPUTE_CATEGORIES", "DUTY_PROXY", "FileRule", "KIND_LABELS", "MB", "NATIONAL",
    "PRESETS_DIR", "Policy", "PolicyError", "PolicyFileError", "REMINDER_DEFAULT_DAYS", "check_policy",
    "describe", "load_policy", "parse_policy", "policy_to_toml", "preset_names", "receipt_category_label",
    "school_policy", "validate_policy",
]
