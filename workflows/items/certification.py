"""Submit for certification 送出認證, withdraw 撤回, resubmit 重新送出, certify 認證 and
reject 認證失敗 of course outcomes.

Students act while the upload window is open; teachers certify until the certification window
closes — in its teacher-only tail a rejection is final because the student can no longer resubmit.
"""
from __future__ import annotations

from datetime import datetime

from persistence.tables import Course, Item
from workflows.school import calendar
from workflows.core.actors import Actor, OnBehalf
from workflows.core.clock import now_or, taipei_date
from workflows.core.errors import Forbidden, InvalidInput, RuleViolation
from workflows.people.routing import Certifiers, certifiers
from workflows.core.guards import require_current
from workflows.core.fields import REASON_MAX, text_field
from workflows.items.rules import student_side
from workflows.core.transitions import fire, require_allowed
from workflows.core.unit_of_work import UnitOfWork


def lock_outcome(uow: UnitOfWork, item_id: int) -> Item:
    """The course outcome, locked for this transaction."""
    item = uow.get(Item, item_id, for_update=True, what="學習歷程項目")
    if item.kind != "course_outcome":
        raise InvalidInput("只有課程學習成果需要教師認證。", field="item_id")
    return item


def _student_move(uow: UnitOfWork, actor: Actor, item_id: int, event: str, doing: str, *,
                  expected_version: int | None, now: datetime | None) -> Item:
    now = now_or(now)
    item = lock_outcome(uow, item_id)
    actor = student_side(uow, actor, item.student_id)
    require_current(item, expected_version, what="這個項目")
    require_allowed(item, event)
    if event == "resubmit":
        _require_student_part_of_window(uow, item, now)
    else:
        calendar.require_open(uow, "course_outcome_upload", item.academic_year, item.semester, now,
                              doing=doing)
    if event in ("submit", "resubmit") and not (item.document_sha256 or item.media_sha256):
        raise InvalidInput("請先上傳文件或影音檔案再送出認證。", field="document")
    fire(uow.session, item, event, actor=actor, at=now)
    if event in ("submit", "resubmit"):
        item.submitted_at = now
    item.updated_at = now
    uow.commit()
    return item


def _require_student_part_of_window(uow, item: Item, now: datetime) -> None:
    upload = calendar.find(uow, "course_outcome_upload", item.academic_year, item.semester)
    certification = calendar.find(uow, "certification", item.academic_year, item.semester)
    if upload is not None and now >= upload.ends_at and calendar.is_open(certification, now):
        raise RuleViolation("學生上傳期限已過，目前為教師認證期間；認證失敗的成果已不能重新送出。",
                            rule="teacher_only_tail", field="window", window="certification")
    calendar.require_open(uow, "course_outcome_upload", item.academic_year, item.semester, now,
                          doing="重新送出認證")


def submit(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None,
           now: datetime | None = None) -> Item:
    return _student_move(uow, actor, item_id, "submit", "送出認證", expected_version=expected_version, now=now)


def withdraw(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None,
             now: datetime | None = None) -> Item:
    return _student_move(uow, actor, item_id, "withdraw", "撤回", expected_version=expected_version, now=now)


def resubmit(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None,
             now: datetime | None = None) -> Item:
    return _student_move(uow, actor, item_id, "resubmit", "重新送出認證",
                         expected_version=expected_version, now=now)


def certifying_actor(uow: UnitOfWork, actor: Actor, item: Item,
                     routes: dict[int, Certifiers] | None = None, *, now: datetime | None = None) -> Actor:
    """The actor as a certification of `item` is recorded: the course's certifier
    (people/routing.py), on behalf of the absent teacher when proxied. Anyone else is refused. `routes` caches the
    courses' routes across the items of one bulk action."""
    uow.require_member(actor)
    route = routes.get(item.course_id) if routes is not None else None
    if route is None:
        route = certifiers(uow, uow.get(Course, item.course_id, what="課程"), on=taipei_date(now_or(now)))
        if routes is not None:
            routes[item.course_id] = route
    if not (actor.kind == "staff" and actor.id in route.staff_ids):
        raise Forbidden(f"「{route.course.name}」的課程學習成果由{route.describe()}認證，你不能認證這項成果。")
    if route.proxied:  # audited as done for the absent teacher
        return actor.acting_for(OnBehalf("staff", route.teacher.id, route.teacher.name))
    return actor


def teacher_change(uow: UnitOfWork, actor: Actor, item: Item, event: str, *, reason: str | None,
                   expected_version: int | None, now: datetime,
                   routes: dict[int, Certifiers] | None = None) -> Item:
    """Certify or reject one locked outcome within the caller's transaction (no commit)."""
    actor = certifying_actor(uow, actor, item, routes, now=now)
    require_current(item, expected_version, what="這個項目")
    require_allowed(item, event)
    calendar.require_open(uow, "certification", item.academic_year, item.semester, now,
                          doing="認證" if event == "certify" else "退回")
    fire(uow.session, item, event, actor=actor, at=now, reason=reason)
    if event == "certify":
        item.certified_by_id, item.certified_at = actor.id, now
        item.certified_document_sha256 = item.document_sha256
        item.certified_media_sha256 = item.media_sha256
        item.rejection_reason = None
    else:
        item.rejection_reason = reason
    item.updated_at = now
    return item


def _teacher_move(uow: UnitOfWork, actor: Actor, item_id: int, event: str, *, reason: str | None,
                  expected_version: int | None, now: datetime | None) -> Item:
    item = teacher_change(uow, actor, lock_outcome(uow, item_id), event, reason=reason,
                          expected_version=expected_version, now=now_or(now))
    uow.commit()
    return item


def certify(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None,
            now: datetime | None = None) -> Item:
    """認證通過: binds the certification to the files' hashes as the teacher saw them."""
    return _teacher_move(uow, actor, item_id, "certify", reason=None,
                         expected_version=expected_version, now=now)


def reject(uow: UnitOfWork, actor: Actor, item_id: int, *, reason: str,
           expected_version: int | None = None, now: datetime | None = None) -> Item:
    """認證失敗, with the reason the student will read (required)."""
    reason = text_field(reason, field="reason", label="退回原因", max_chars=REASON_MAX, required=True)
    return _teacher_move(uow, actor, item_id, "reject", reason=reason,
                         expected_version=expected_version, now=now)
