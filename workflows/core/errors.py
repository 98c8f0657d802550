"""Domain errors. Each carries a zh-TW message for people and an HTTP-like status for the web."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "domain_error"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        return {"error": self.code, "message": self.message, **self.details}


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class PasswordChangeRequired(DomainError):
    """The account holds a temporary password an admin set: only 變更密碼 is open to it."""

    status = 403
    code = "password_change_required"


class InvalidTransition(DomainError):
    """The machine does not allow this event from the current state (409)."""

    status = 409
    code = "invalid_transition"

    def __init__(self, *, kind: str, state: str, state_label: str, event: str, event_label: str,
                 allowed: list[tuple[str, str]]):
        allowed_text = "、".join(f"{label}（{eid}）" for eid, label in allowed) or "無"
        super().__init__(
            f"目前狀態為「{state_label}」（{state}），不能執行「{event_label}」（{event}）。"
            f"此狀態可執行：{allowed_text}",
            kind=kind, state=state, event=event, allowed_events=[eid for eid, _ in allowed])


class Conflict(DomainError):
    """Someone else changed the record first (409): reload, nothing was overwritten."""

    status = 409
    code = "conflict"


class RuleViolation(DomainError):
    """A national or school rule refuses the request (422): names the field, rule and limit."""

    status = 422
    code = "rule_violation"

    def __init__(self, message: str, *, rule: str, field: str | None = None, limit=None, **details):
        super().__init__(message, rule=rule, field=field, limit=limit, **details)
        self.rule = rule
        self.field = field
        self.limit = limit


class ContentRuleViolation(RuleViolation):
    """A rule on what the request itself holds (a file's kind, size or name, a text's length): the
    same request is refused whenever it is sent. Every other RuleViolation concerns the moment or
    the records (a window, a cap, an enrolment, what the item may hold), which the API answers 409
    so that a request its document calls valid is never a 422."""


class InvalidInput(DomainError):
    status = 400
    code = "invalid_input"

    def __init__(self, message: str, *, field: str, **details):
        super().__init__(message, field=field, **details)
        self.field = field


class CorruptState(DomainError):
    """A stored state value no machine knows: refuse to act rather than guess."""

    status = 500
    code = "corrupt_state"


class StorageFailed(DomainError):
    """The file store could not keep a file (disk full 507, write error 503): nothing was stored
    or recorded; the user may try again later. `reason`: no_space, write_error or failed."""

    code = "storage_failed"

    def __init__(self, message: str, *, reason: str, field: str):
        super().__init__(message, rule="storage_failed", field=field, reason=reason)
        self.status = 507 if reason == "no_space" else 503
