"""Central submission 提交 and the receipt 收訖明細: staff submit each student's selected items
for a year; each student gets a receipt to confirm 確認 or dispute 疑義 within the confirmation
window (≥ 3 days); what is neither is deemed confirmed 逾期視為確認 by the scheduler's sweep.

Submission batches with roster export and receipt import are issue 5; this module holds the
per-student rules they will call.
"""
from __future__ import annotations

from datetime import datetime

from persistence.tables import Item, Receipt, Window
from workflows.school import calendar
from workflows.core.clock import now_or
from workflows.core.actors import Actor
from workflows.core.errors import RuleViolation
from workflows.core.guards import require_current
from workflows.people.offices import require_submission_office
from workflows.core.policy import KIND_LABELS
from workflows.core.fields import REASON_MAX, text_field
from workflows.items.rules import student_side
from workflows.core.transitions import fire, start
from workflows.core.unit_of_work import UnitOfWork


def submit_selected(uow: UnitOfWork, actor: Actor, *, kind: str, academic_year: int,
                    confirmation_window_id: int, student_ids: list[int] | None = None,
                    now: datetime | None = None) -> int:
    """Mark every selected item of `kind` for `academic_year` as submitted to the central
    database and issue one receipt per student. Returns the number of receipts issued.
    Selections must be frozen (selection window closed) and the confirmation window long enough."""
    now = now_or(now)
    actor = require_submission_office(uow, actor, "提交中央資料庫", now=now)
    selection = calendar.find(uow, "selection", academic_year, 0)
    if selection is not None and now < selection.ends_at:
        raise RuleViolation(f"勾選期間尚未結束（{calendar.describe(selection)}），學生的勾選還可能變動，不能提交。",
                            rule="selection_still_open", field="academic_year")
    window = calendar.require_confirmation_window(uow, confirmation_window_id, now,
                                                  field="confirmation_window_id")
    query = uow.select(Item).where(Item.kind == kind, Item.academic_year == academic_year,
                                   Item.state == "selected")
    if student_ids is not None:  # a batch for some students only (e.g. one grade-12 track)
        query = query.where(Item.student_id.in_(student_ids))
    items = uow.session.scalars(query.order_by(Item.student_id, Item.id).with_for_update()).all()
    receipts: dict[int, Receipt] = {}
    for item in items:
        receipt = receipts.get(item.student_id)
        if receipt is None:
            receipt = Receipt(school_id=uow.school_id, student_id=item.student_id, category=kind,
                              academic_year=academic_year, window_id=window.id, issued_at=now)
            start(uow.session, receipt, event="issue", actor=actor, at=now,
                  reason=f"{academic_year} 學年度{KIND_LABELS[kind]}提交中央資料庫")
            receipts[item.student_id] = receipt
        fire(uow.session, item, "submit_central", actor=actor, at=now)
        item.receipt_id = receipt.id
        item.updated_at = now
    uow.commit()
    return len(receipts)


def _answer(uow: UnitOfWork, actor: Actor, receipt_id: int, event: str, item_event: str, *,
            reason: str | None, expected_version: int | None, now: datetime | None) -> Receipt:
    now = now_or(now)
    receipt = uow.get(Receipt, receipt_id, for_update=True, what="收訖明細")
    actor = student_side(uow, actor, receipt.student_id)
    require_current(receipt, expected_version, what="這份收訖明細")
    window = uow.get(Window, receipt.window_id, what="收訖明細確認期間")
    calendar.require_inside(window, now, doing="確認收訖明細" if event == "confirm" else "提出疑義")
    fire(uow.session, receipt, event, actor=actor, at=now, reason=reason)
    receipt.closed_at, receipt.reason = now, reason
    for item in uow.session.scalars(uow.select(Item).where(Item.receipt_id == receipt.id)
                                    .with_for_update()).all():
        fire(uow.session, item, item_event, actor=actor, at=now, reason=reason)
        item.updated_at = now
    uow.commit()
    return receipt


def confirm(uow: UnitOfWork, actor: Actor, receipt_id: int, *, expected_version: int | None = None,
            now: datetime | None = None) -> Receipt:
    """確認收訖: what was submitted matches what the student uploaded."""
    return _answer(uow, actor, receipt_id, "confirm", "confirm_receipt", reason=None,
                   expected_version=expected_version, now=now)


def dispute(uow: UnitOfWork, actor: Actor, receipt_id: int, *, reason: str,
            expected_version: int | None = None, now: datetime | None = None) -> Receipt:
    """提出疑義, with what does not match (required); the responsible office handles it."""
    reason = text_field(reason, field="reason", label="疑義說明", max_chars=REASON_MAX, required=True)
    return _answer(uow, actor, receipt_id, "dispute", "dispute", reason=reason,
                   expected_version=expected_version, now=now)


def receipts_of(uow: UnitOfWork, student_id: int) -> list[Receipt]:
    return list(uow.session.scalars(uow.select(Receipt).where(Receipt.student_id == student_id)
                                    .order_by(Receipt.issued_at)))
