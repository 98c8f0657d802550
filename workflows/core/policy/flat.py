"""A policy as flat values keyed by TOML path (`course_outcome.document.max_mb`): the form a
policy file is read into and the national rule is checked on, so a file being read and a
Policy built in code are checked by the same code."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any

from workflows.core.policy.model import (MB, REMINDER_DEFAULT_DAYS, FileRule, ItemRule, Policy,
                                         bytes_to_mb)
from workflows.core.policy.terms import KINDS, SLOTS


def flatten(policy: Policy) -> dict[str, Any]:
    """Every value of `policy` by its TOML path (a file slot present: True, then its keys)."""
    v: dict[str, Any] = {
        "name": policy.name,
        "title": policy.title,
        "division": policy.division,
        "course_outcome.uploads_per_semester": policy.outcome_uploads_per_semester,
        "course_outcome.uploads_per_year": policy.outcome_uploads_per_year,
        "course_outcome.selections_per_year": policy.outcome_selections_per_year,
        "performance.uploads_per_year": policy.performance_uploads_per_year,
        "performance.selections_per_year": policy.performance_selections_per_year,
        "receipt.confirmation_days": policy.receipt_confirmation_days,
        "retention.departed_years": policy.retention_years,
        "calendar.certification_tail_working_days": policy.certification_tail_working_days,
        "calendar.outcome_upload_close_days_after_closing_ceremony":
            policy.outcome_upload_close_days_after_closing,
        "guardians.may_act": policy.guardians_may_act,
        "proxy_routing": policy.proxy_routing,
        "dispute_offices": policy.dispute_offices,
        "reminders.hour": policy.reminder_hour,
        **{f"reminders.{kind}": policy.reminder_days_before[kind] for kind in REMINDER_DEFAULT_DAYS},
    }
    for kind in KINDS:
        item = policy.item_rule(kind)
        v[f"{kind}.description_max_chars"] = item.description_max_chars
        v[f"{kind}.external_link"] = item.external_link
        for slot in SLOTS:
            rule: FileRule | None = getattr(item, slot)
            v[f"{kind}.{slot}"] = rule is not None
            if rule is not None:
                v[f"{kind}.{slot}.kinds"] = tuple(rule.kinds)
                v[f"{kind}.{slot}.max_mb"] = bytes_to_mb(rule.max_bytes)
    return v


def build(v: dict[str, Any]) -> Policy:
    """The Policy of flat values that were read and checked without a violation."""

    def item(kind: str) -> ItemRule:
        files = {}
        for slot in SLOTS:
            files[slot] = (FileRule(tuple(v[f"{kind}.{slot}.kinds"]),
                                    round(v[f"{kind}.{slot}.max_mb"] * MB))
                           if v[f"{kind}.{slot}"] else None)
        return ItemRule(document=files["document"], media=files["media"],
                        description_max_chars=v[f"{kind}.description_max_chars"],
                        external_link=v[f"{kind}.external_link"])

    return Policy(
        name=v["name"],
        title=v["title"],
        division=v["division"],
        outcome_uploads_per_semester=v["course_outcome.uploads_per_semester"],
        outcome_uploads_per_year=v["course_outcome.uploads_per_year"],
        outcome_selections_per_year=v["course_outcome.selections_per_year"],
        performance_uploads_per_year=v["performance.uploads_per_year"],
        performance_selections_per_year=v["performance.selections_per_year"],
        course_outcome=item("course_outcome"),
        performance=item("performance"),
        consultation_record=item("consultation_record"),
        receipt_confirmation_days=v["receipt.confirmation_days"],
        retention_years=v["retention.departed_years"],
        certification_tail_working_days=v["calendar.certification_tail_working_days"],
        outcome_upload_close_days_after_closing=
            v["calendar.outcome_upload_close_days_after_closing_ceremony"],
        guardians_may_act=v["guardians.may_act"],
        proxy_routing=MappingProxyType(dict(v["proxy_routing"])),
        dispute_offices=MappingProxyType(dict(v["dispute_offices"])),
        reminder_hour=v["reminders.hour"],
        reminder_days_before=MappingProxyType(
            {kind: v[f"reminders.{kind}"] for kind in REMINDER_DEFAULT_DAYS}),
    )

