"""What people type into a field: free text and dates. One rule each, for every form, import and
API body that reaches a workflow (whole numbers: numbers.py)."""
from __future__ import annotations

from datetime import date

from workflows.core.errors import ContentRuleViolation, InvalidInput

# A reason is at most this long for items (退回原因), receipts (疑義說明), disputes (處理說明),
# records (刪除原因) and grade corrections (退回原因, 撤回原因). A training's deletion reason
# keeps its own, shorter limit (workflows/school/trainings.py).
REASON_MAX = 500


def text_field(value: str | None, *, field: str, label: str, max_chars: int, required: bool) -> str:
    """The text without surrounding white space; refused when required and blank, or too long."""
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"請填寫{label}。", field=field)
    if len(value) > max_chars:
        raise ContentRuleViolation(f"{label}共 {len(value)} 字，超過上限 {max_chars} 字。",
                                   rule="text_too_long", field=field, limit=max_chars)
    return value


def date_field(value, *, field: str, label: str, required: bool) -> date | None:
    """A day written as 2026-01-31 (a form's date input, a CSV cell, an API value), or a date."""
    if value in (None, ""):
        if required:
            raise InvalidInput(f"請填寫{label}。", field=field)
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{label}「{value}」不是有效的日期（例如 2026-01-31）。", field=field) from None
