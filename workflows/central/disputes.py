"""Disputes 疑義: a student who finds a receipt (收訖明細) wrong disputes it; each disputed item goes
to the office responsible for its category (the policy's [dispute_offices]), which settles it
either by answering the student (resolution "answered": nothing changes) or by correcting the
data and marking it for resubmission in a new batch (resolution "resubmit"). Both close the
dispute (`resolve`) with a reason the student reads.

A semester batch's receipt (基本資料及幹部紀錄, or 修課紀錄) has no items: the dispute is the
receipt's own. It goes to the offices of the categories it covers (basic_cadre: the policy's
basic_data and cadre offices, either may settle it; courses: the courses office) and is settled
the same two ways. The receipt stays disputed (its machine's final state); the settlement is its
audit row (event resolve_answered / resolve_resubmit, the reason the student reads), so a
settled dispute is the one with such a row.

The executive secretary (執行秘書) and the school admin see and may settle every dispute. While
someone of an office is unavailable, his proxy handles the office's disputes, audited as acting
for him (workflows/people/offices.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from persistence.tables import AuditEntry, Item, Receipt, Student
from persistence.vocabulary import DisputeResolution, ReceiptCategory
from workflows.core.clock import now_or
from workflows.core.actors import Actor
from workflows.core.errors import Conflict, Forbidden, InvalidInput, RuleViolation
from workflows.core.guards import require_current
from workflows.people.offices import acting_for_dispute_offices, categories_for
from workflows.core.policy import KIND_LABELS
from workflows.core.roles import ROLE_LABELS, Role
from workflows.core.fields import REASON_MAX, text_field
from workflows.core.transitions import fire, record, require_allowed
from workflows.core.unit_of_work import UnitOfWork

RESOLUTIONS = DisputeResolution.labels()
# A semester receipt's category -> the [dispute_offices] categories it covers.
RECEIPT_DISPUTE_CATEGORIES = {"basic_cadre": ("basic_data", "cadre"), "courses": ("courses",)}
RECEIPT_CATEGORY_LABELS = {c.value: c.label for c in (ReceiptCategory.BASIC_CADRE, ReceiptCategory.COURSES)}
# The audit event of a receipt-level settlement, by resolution.
RESOLVE_EVENTS = {kind: f"resolve_{kind}" for kind in RESOLUTIONS}


@dataclass(frozen=True)
class DisputeRow:
    """One open dispute in an office's queue: an item's, or (item_id None) a semester receipt's."""

    item_id: int | None
    kind: str
    kind_label: str
    title: str
    student_id: int
    student_no: str
    student_name: str
    class_name: str
    receipt_id: int | None
    reason: str | None  # what the student said does not match
    disputed_at: datetime
    age: timedelta
    office: str
    office_label: str
    version: int  # of the item or receipt as the queue shows it: the settlement carries it (stale-page guard)

    @property
    def anchor(self) -> str:
        return f"dispute-{self.item_id}" if self.item_id is not None else f"dispute-receipt-{self.receipt_id}"

    @property
    def age_text(self) -> str:
        days, hours = self.age.days, self.age.seconds // 3600
        return f"{days} 日 {hours} 小時" if days else f"{hours} 小時"


def office_label(role: str) -> str:
    return ROLE_LABELS.get(Role(role), role)


def dispute_queue(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> list[DisputeRow]:
    """Open disputes for the actor's office(s), oldest first, with their age since the dispute."""
    now = now_or(now)
    uow.require_member(actor)
    categories = categories_for(uow, actor, now=now)
    if not categories:
        raise Forbidden("只有疑義處理單位（依補充規定）、執行秘書或學校管理者可以查看疑義。")
    kinds = [c for c in categories if c in KIND_LABELS]
    if not kinds:
        return sorted(_receipt_rows(uow, categories, now), key=lambda r: (r.disputed_at, r.receipt_id))
    rows = uow.session.execute(
        uow.select(Item).join(Student, (Student.school_id == Item.school_id) & (Student.id == Item.student_id))
        .where(Item.state == "disputed", Item.kind.in_(kinds))
        .with_only_columns(Item.id, Item.kind, Item.title, Item.receipt_id, Student.id,
                           Student.student_no, Student.name, Student.class_name, Item.version)).all()
    if not rows:
        return sorted(_receipt_rows(uow, categories, now), key=lambda r: (r.disputed_at, r.receipt_id))
    disputed = {}  # item id -> (at, reason) of its latest dispute
    for subject_id, at, reason in uow.session.execute(
            select(AuditEntry.subject_id, AuditEntry.at, AuditEntry.reason).where(
                AuditEntry.school_id == uow.school_id, AuditEntry.event == "dispute",
                AuditEntry.subject_kind.in_(kinds), AuditEntry.subject_id.in_([r[0] for r in rows]))
            .order_by(AuditEntry.at)):
        disputed[subject_id] = (at, reason)
    out = []
    for item_id, kind, title, receipt_id, student_id, student_no, name, class_name, version in rows:
        at, reason = disputed.get(item_id, (now, None))
        office = uow.policy.dispute_office(kind)
        out.append(DisputeRow(item_id, kind, KIND_LABELS[kind], title, student_id, student_no, name,
                              class_name, receipt_id, reason, at, max(now - at, timedelta(0)),
                              office, office_label(office), version))
    out += _receipt_rows(uow, categories, now)
    return sorted(out, key=lambda r: (r.disputed_at, r.item_id or 0, r.receipt_id or 0))


def _settlement(uow: UnitOfWork, actor: Actor, kind: str, reason: str) -> str:
    """The checks every settlement shares: staff only, a known kind, a reason the student reads."""
    uow.require_member(actor)
    if kind not in RESOLUTIONS:
        raise InvalidInput(f"處理方式「{kind}」不存在；請選擇：" + "、".join(
            f"{label}（{k}）" for k, label in RESOLUTIONS.items()), field="kind")
    reason = text_field(reason, field="reason", label="處理說明", max_chars=REASON_MAX, required=True)
    if actor.kind != "staff":
        raise Forbidden("學生與家長不能處理疑義；疑義由學校負責單位處理。")
    return reason


def resolve(uow: UnitOfWork, actor: Actor, item_id: int, *, kind: str, reason: str,
            expected_version: int | None = None, now: datetime | None = None) -> Item:
    """處理疑義: the responsible office closes a dispute by answering the student ("answered") or
    by correcting the data for a new batch ("resubmit"), with a reason the student reads."""
    now = now_or(now)
    reason = _settlement(uow, actor, kind, reason)
    item = uow.get(Item, item_id, for_update=True, what="學習歷程項目")
    require_current(item, expected_version, what="這個項目")
    require_allowed(item, "resolve")
    acting = acting_for_dispute_offices(uow, actor, now).get(item.kind)
    if acting is None:
        office = uow.policy.dispute_office(item.kind)
        raise Forbidden(f"{KIND_LABELS[item.kind]}的疑義由{office_label(office)}處理"
                        "（或其代理人、執行秘書、學校管理者），你不能處理這件疑義。")
    actor = acting
    # The audit reason is what the student reads; the kind is kept on the item.
    fire(uow.session, item, "resolve", actor=actor, at=now, reason=reason)
    item.resolution, item.resolution_note, item.updated_at = kind, reason, now
    uow.commit()
    return item


# --------------------------------------------------------------------------- semester receipts


def _offices_of(uow: UnitOfWork, receipt_category: str) -> list[str]:
    """The offices (role codes) that settle disputes of a semester receipt, without repeats."""
    return list(dict.fromkeys(uow.policy.dispute_office(c)
                              for c in RECEIPT_DISPUTE_CATEGORIES[receipt_category]))


def receipt_resolutions(uow: UnitOfWork, receipt_ids) -> dict[int, tuple[str, str | None, datetime]]:
    """{receipt id: (resolution, the office's reason, when)} of the settled receipt-level disputes."""
    ids = list(receipt_ids)
    if not ids:
        return {}
    kinds = {event: kind for kind, event in RESOLVE_EVENTS.items()}
    return {subject_id: (kinds[event], reason, at) for subject_id, event, reason, at in uow.session.execute(
        select(AuditEntry.subject_id, AuditEntry.event, AuditEntry.reason, AuditEntry.at).where(
            AuditEntry.school_id == uow.school_id, AuditEntry.subject_kind == "receipt",
            AuditEntry.event.in_(list(kinds)), AuditEntry.subject_id.in_(ids))
        .order_by(AuditEntry.at, AuditEntry.id))}


def _receipt_rows(uow: UnitOfWork, categories: list[str], now: datetime) -> list[DisputeRow]:
    """The open receipt-level disputes whose categories the actor handles (any one of them)."""
    mine = [c for c, covered in RECEIPT_DISPUTE_CATEGORIES.items() if set(covered) & set(categories)]
    if not mine:
        return []
    rows = uow.session.execute(
        uow.select(Receipt).join(Student, (Student.school_id == Receipt.school_id) & (Student.id == Receipt.student_id))
        .where(Receipt.state == "disputed", Receipt.category.in_(mine))
        .with_only_columns(Receipt.id, Receipt.category, Receipt.academic_year, Receipt.closed_at,
                           Receipt.reason, Student.id, Student.student_no, Student.name, Student.class_name,
                           Receipt.version)).all()
    settled = receipt_resolutions(uow, [r[0] for r in rows])
    out = []
    for receipt_id, category, year, at, reason, student_id, student_no, name, class_name, version in rows:
        if receipt_id in settled:
            continue
        offices = _offices_of(uow, category)
        at = at or now
        out.append(DisputeRow(None, category, RECEIPT_CATEGORY_LABELS[category],
                              f"{year} 學年度{RECEIPT_CATEGORY_LABELS[category]}收訖明細", student_id, student_no,
                              name, class_name, receipt_id, reason, at, max(now - at, timedelta(0)),
                              offices[0], "、".join(office_label(o) for o in offices), version))
    return out


def resolve_receipt(uow: UnitOfWork, actor: Actor, receipt_id: int, *, kind: str, reason: str,
                    expected_version: int | None = None, now: datetime | None = None) -> Receipt:
    """處理疑義 of a semester receipt (基本資料及幹部紀錄 / 修課紀錄): an office of its categories
    answers the student ("answered") or marks the student's records corrected for a
    resubmission batch ("resubmit"), with a reason the student reads. Settled once."""
    now = now_or(now)
    reason = _settlement(uow, actor, kind, reason)
    receipt = uow.get(Receipt, receipt_id, for_update=True, what="收訖明細")
    require_current(receipt, expected_version, what="這份收訖明細")
    if receipt.category not in RECEIPT_DISPUTE_CATEGORIES:
        raise RuleViolation("這份收訖明細的疑義依項目處理，請在疑義清單中處理各項目。",
                            rule="receipt_dispute_by_item", field="receipt_id")
    if receipt.state != "disputed":
        raise Conflict("這份收訖明細目前不是「提出疑義」狀態，沒有待處理的疑義。")
    if receipt.id in receipt_resolutions(uow, [receipt.id]):
        raise Conflict("這件疑義已經處理過了；處理說明已送給學生。")
    acting = acting_for_dispute_offices(uow, actor, now)
    actor = next((acting[c] for c in RECEIPT_DISPUTE_CATEGORIES[receipt.category] if c in acting), None)
    if actor is None:
        offices = "或".join(office_label(o) for o in _offices_of(uow, receipt.category))
        raise Forbidden(f"{RECEIPT_CATEGORY_LABELS[receipt.category]}的疑義由{offices}處理"
                        "（或其代理人、執行秘書、學校管理者），你不能處理這件疑義。")
    # The state stays disputed (final); the audit row is the settlement and what the student reads.
    record(uow.session, receipt, event=RESOLVE_EVENTS[kind], from_state=receipt.state, actor=actor,
           at=now, reason=reason)
    uow.commit()
    return receipt
