"""Bulk certification 批次認證 and its undo 復原.

A teacher certifies many waiting course outcomes at once, by the same rules as one at a time
(workflows/items/certification.py): the course routes to them, the certification window is open, the
item is waiting, and it has not changed since the teacher's page was loaded. All or nothing: one
refusal certifies none of them, and the message names the item.

The undo (event revoke_certification) puts items this teacher certified back to waiting, while
the certification window is open and before the student selected them.
"""
from __future__ import annotations

from datetime import datetime

from persistence.tables import Item
from workflows.school import calendar
from workflows.core.clock import now_or
from workflows.core.actors import Actor
from workflows.items.certification import certifying_actor, lock_outcome, teacher_change
from workflows.core.errors import DomainError, Forbidden, InvalidInput, RuleViolation
from workflows.core.guards import require_current
from workflows.people.routing import Certifiers
from workflows.items.rules import clear_certification
from workflows.core.transitions import fire, require_allowed
from workflows.core.unit_of_work import UnitOfWork

# One page of the queue holds at most 200 rows; more in one request is not a person clicking.
BULK_MAX = 200


def _ids(item_ids, *, doing: str) -> list[int]:
    """Distinct ids in ascending order: concurrent bulk actions lock rows in the same order."""
    try:
        ids = sorted({int(i) for i in item_ids})
    except (TypeError, ValueError):
        raise InvalidInput("項目編號格式不正確，請重新載入頁面後再操作。", field="item_ids") from None
    if not ids:
        raise InvalidInput(f"請先勾選要{doing}的項目。", field="item_ids")
    if len(ids) > BULK_MAX:
        raise RuleViolation(f"一次最多{doing} {BULK_MAX} 件，這次勾選了 {len(ids)} 件；請分批操作。",
                            rule="bulk_too_many", field="item_ids", limit=BULK_MAX)
    return ids


def _naming(error: DomainError, item: Item) -> DomainError:
    """The same refusal, saying which of the many items it is about."""
    error.message = f"「{item.title}」（編號 {item.id}）：{error.message}"
    error.args = (error.message,)
    error.details["item_id"] = item.id
    return error


def _each(uow: UnitOfWork, actor: Actor, item_ids, *, doing: str,
          expected_versions: dict[int, int | None] | None, now: datetime, change) -> list[int]:
    """All or nothing: lock each item in ascending id order, apply `change(item, expected
    version, routes)`, and commit once; a refusal names the item it is about."""
    uow.require_member(actor)
    ids = _ids(item_ids, doing=doing)
    versions = expected_versions or {}
    routes: dict[int, Certifiers] = {}
    for item_id in ids:
        item = lock_outcome(uow, item_id)
        try:
            change(item, versions.get(item_id), routes)
        except DomainError as error:
            raise _naming(error, item) from None
    uow.commit()
    return ids


def bulk_certify(uow: UnitOfWork, actor: Actor, item_ids, *,
                 expected_versions: dict[int, int | None] | None = None,
                 now: datetime | None = None) -> list[int]:
    """Certify every listed item in one transaction; the certified ids, ascending.
    `expected_versions` ({item id: version the page showed}) is the stale-page guard."""
    now = now_or(now)

    def certify(item: Item, expected: int | None, routes: dict[int, Certifiers]) -> None:
        teacher_change(uow, actor, item, "certify", reason=None, expected_version=expected,
                       now=now, routes=routes)

    return _each(uow, actor, item_ids, doing="認證", expected_versions=expected_versions, now=now,
                 change=certify)


def undo_certification(uow: UnitOfWork, actor: Actor, item_ids, *,
                       expected_versions: dict[int, int | None] | None = None,
                       now: datetime | None = None) -> list[int]:
    """撤銷認證 of items this actor certified: back to waiting (submitted), certification cleared.
    Only while the certification window is open and the item is still certified (not selected).
    All or nothing; the revoked ids, ascending. `expected_versions` as for bulk_certify."""
    now = now_or(now)

    def revoke(item: Item, expected: int | None, routes: dict[int, Certifiers]) -> None:
        on_record = certifying_actor(uow, actor, item, routes, now=now)
        require_current(item, expected, what="這個項目")
        if item.state == "certified" and item.certified_by_id != actor.id:
            raise Forbidden("這項成果不是你認證的，只能復原自己認證的項目。")
        require_allowed(item, "revoke_certification")
        calendar.require_open(uow, "certification", item.academic_year, item.semester, now,
                              doing="復原認證")
        fire(uow.session, item, "revoke_certification", actor=on_record, at=now)
        clear_certification(item)
        item.updated_at = now

    return _each(uow, actor, item_ids, doing="復原認證", expected_versions=expected_versions, now=now,
                 change=revoke)
