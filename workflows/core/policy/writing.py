"""Writing a policy as TOML in the documented format (docs/policy.md), the inverse of reading."""
from __future__ import annotations

from workflows.core.policy.literals import toml_key, toml_literal
from workflows.core.policy.model import FileRule, ItemRule, Policy, bytes_to_mb
from workflows.core.policy.national import NATIONAL
from workflows.core.policy.terms import SLOTS


def policy_to_toml(policy: Policy) -> str:
    """TOML text of `policy` in the documented format; parse_policy(policy_to_toml(p)) == p."""
    def item_lines(kind: str, item: ItemRule) -> list[str]:
        lines = [f"description_max_chars = {toml_literal(item.description_max_chars)}"]
        if item.external_link or kind in NATIONAL.external_link_kinds:
            lines.append(f"external_link = {toml_literal(item.external_link)}")
        for slot in SLOTS:
            rule: FileRule | None = getattr(item, slot)
            if rule is not None:
                lines.append(f"{slot} = {{ kinds = {toml_literal(list(rule.kinds))}, "
                             f"max_mb = {toml_literal(bytes_to_mb(rule.max_bytes))} }}")
        return lines

    out = [f"name = {toml_literal(policy.name)}", f"title = {toml_literal(policy.title)}",
           f"division = {toml_literal(policy.division)}", "", "[course_outcome]",
           f"uploads_per_semester = {toml_literal(policy.outcome_uploads_per_semester)}"]
    if policy.outcome_uploads_per_year is not None:
        out.append(f"uploads_per_year = {toml_literal(policy.outcome_uploads_per_year)}")
    out.append(f"selections_per_year = {toml_literal(policy.outcome_selections_per_year)}")
    out += item_lines("course_outcome", policy.course_outcome)
    out += ["", "[performance]"]
    if policy.performance_uploads_per_year is not None:
        out.append(f"uploads_per_year = {toml_literal(policy.performance_uploads_per_year)}")
    out.append(f"selections_per_year = {toml_literal(policy.performance_selections_per_year)}")
    out += item_lines("performance", policy.performance)
    out += ["", "[consultation_record]"] + item_lines("consultation_record",
                                                       policy.consultation_record)
    out += ["", "[receipt]", f"confirmation_days = {toml_literal(policy.receipt_confirmation_days)}",
            "", "[retention]", f"departed_years = {toml_literal(policy.retention_years)}",
            "", "[calendar]",
            f"certification_tail_working_days = {toml_literal(policy.certification_tail_working_days)}",
            "outcome_upload_close_days_after_closing_ceremony = "
            f"{toml_literal(policy.outcome_upload_close_days_after_closing)}",
            "", "[guardians]", f"may_act = {toml_literal(policy.guardians_may_act)}",
            "", "[proxy_routing]"]
    out += [f"{toml_key(k)} = {toml_literal(t)}" for k, t in policy.proxy_routing.items()]
    out += ["", "[dispute_offices]"]
    out += [f"{toml_key(k)} = {toml_literal(t)}" for k, t in policy.dispute_offices.items()]
    out += ["", "[reminders]", f"hour = {toml_literal(policy.reminder_hour)}"]
    out += [f"{kind} = {toml_literal(days)}" for kind, days in policy.reminder_days_before.items()]
    return "\n".join(out) + "\n"
