"""Paper-mail notices for the receipt confirmation (收訖明細確認紙本通知).

A student who left at the end of a semester or year may not be able to sign in to confirm the
receipt; the school then tells them by paper mail (seed 000 §七(二), seed 001 §五(三)). This
gathers, for one confirmation window, every departed student with a receipt still waiting: the
mailing address, the items to check, the period, and how to answer. Printing is audited on each
receipt, so the office can show when it notified whom.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from persistence.tables import Course, Item, Receipt, Window
from workflows.core.actors import Actor
from workflows.deadlines.boundaries import departed_with_receipts
from workflows.core.clock import format_deadline, format_taipei, roc_date, taipei_date
from workflows.core.errors import Forbidden, InvalidInput
from workflows.core.policy import receipt_category_label
from workflows.deadlines.reminders import UNANSWERED
from workflows.core.roles import ROLE_LABELS, Role
from workflows.core.transitions import note
from persistence.vocabulary import PERFORMANCE_CATEGORIES

NOTICE_ROLES = (Role.REGISTRY, Role.EXECUTIVE_SECRETARY, Role.ADMIN)


@dataclass(frozen=True)
class NoticeItem:
    title: str
    source: str  # the course, or the performance's category
    files: str


@dataclass(frozen=True)
class ReceiptNotice:
    label: str
    items: list[NoticeItem]


@dataclass(frozen=True)
class Notice:
    student_no: str
    name: str
    class_name: str
    guardian_name: str | None
    address: str | None
    receipts: list[ReceiptNotice]


@dataclass(frozen=True)
class NoticeBatch:
    school_name: str
    school_code: str
    academic_year: int
    opens: str
    deadline: str
    printed_on: str
    office: str
    notices: list[Notice]


def _files(item: Item) -> str:
    names = [n for n in (item.document_name, item.media_name) if n]
    return "、".join(names) + ("（外部連結）" if item.external_link else "") or "—"


def paper_notices(uow, actor: Actor, window_id: int, *, now: datetime) -> NoticeBatch:
    uow.require_member(actor)
    if actor.kind == "staff" and not actor.has(*NOTICE_ROLES):
        raise Forbidden("只有註冊組、執行秘書或學校管理者可以列印紙本通知。")
    window = uow.get(Window, window_id, what="期程")
    if window.kind != "receipt_confirmation":
        raise InvalidInput(f"期程 {window_id} 不是收訖明細確認期間。", field="window")
    notices = []
    for student in departed_with_receipts(uow, window):
        receipts = list(uow.session.scalars(uow.select(Receipt).where(
            Receipt.student_id == student.id, Receipt.window_id == window.id,
            Receipt.state.in_(UNANSWERED)).order_by(Receipt.id)))
        parts = []
        for receipt in receipts:
            items = list(uow.session.scalars(uow.select(Item).where(Item.receipt_id == receipt.id)
                                             .order_by(Item.semester, Item.id)))
            courses = {c.id: c.name for c in uow.session.scalars(uow.select(Course).where(
                Course.id.in_({i.course_id for i in items if i.course_id})))}
            parts.append(ReceiptNotice(
                f"{receipt.academic_year} 學年度{receipt_category_label(receipt.category)}",
                [NoticeItem(i.title, courses.get(i.course_id) or PERFORMANCE_CATEGORIES.get(i.category, "—"),
                            _files(i)) for i in items]))
            note(uow.session, school_id=uow.school_id, subject_kind="receipt", subject_id=receipt.id,
                 student_id=student.id, event="paper_notice", from_state=receipt.state,
                 to_state=receipt.state, actor=actor, at=now,
                 reason=f"列印紙本收訖明細確認通知（寄往：{student.mailing_address or '無通訊地址'}）")
        notices.append(Notice(student.student_no, student.name, student.class_name,
                              student.guardian_name, student.mailing_address, parts))
    uow.commit()
    return NoticeBatch(uow.school.name, uow.school.code, window.academic_year,
                       format_taipei(window.starts_at), format_deadline(window.ends_at),
                       roc_date(taipei_date(now)), ROLE_LABELS[Role.REGISTRY], notices)
