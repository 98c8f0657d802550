"""One-shot effects at a window's boundary, each recorded once in the ledger (deadline_runs):

- the selection window closes → the selections freeze (勾選結果凍結): the window's audit trail
  says how many items of how many students were selected as of the deadline; from then on the
  selection rule refuses changes (workflows/items/selection.py) until the school moves the deadline;
- the certification window closes → the working group (執行秘書, 設備組) gets the list of
  course outcomes not certified in time (逾期未認證), per course and certifier;
- a receipt confirmation window is open and departed students have receipts in it → the
  registry (註冊組) is told to mail paper notices (seed 000 §七(二); `portfolio notices`).

The ledger's key is (window, effect, boundary): a moved boundary is a new key, so the effect
happens again for the new deadline, and never twice for one.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, func, select

from persistence.tables import (ITEM_KINDS, Course, DeadlineRun, Item, Receipt, Staff, StaffRole,
                                Student, Window)
from states import MACHINES
from workflows.deadlines import outbox
from workflows.core.actors import system
from workflows.core.clock import format_deadline, format_taipei, taipei_date
from workflows.deadlines.outbox import Message
from workflows.core.policy import KIND_LABELS
from workflows.deadlines.reminders import UNANSWERED
from workflows.core.roles import DEPARTED_STATUSES, Role
from workflows.people.routing import certifiers_for
from workflows.items.rules import SELECTED_STATES
from workflows.core.transitions import note

WORKING_GROUP = (Role.EXECUTIVE_SECRETARY, Role.EQUIPMENT_SECTION)
NOT_CERTIFIED = MACHINES["course_outcome"].not_certified.id


def _pending(uow, kind: str, effect: str, edge, reached):
    """Windows of `kind` whose `edge` (starts_at / ends_at) satisfies `reached`, without a
    ledger row for this effect at that edge."""
    done = exists(select(1).where(DeadlineRun.school_id == Window.school_id,
                                  DeadlineRun.window_id == Window.id, DeadlineRun.effect == effect,
                                  DeadlineRun.due_at == edge))
    return list(uow.session.scalars(uow.select(Window).where(Window.kind == kind, reached, ~done)
                                    .order_by(Window.id)))


def _record(uow, window: Window, effect: str, due_at: datetime, now: datetime, changed: int) -> None:
    uow.session.add(DeadlineRun(school_id=uow.school_id, window_id=window.id, effect=effect,
                                due_at=due_at, ran_at=now, changed=changed))


def freeze_selection(uow, now: datetime) -> int:
    """Selections frozen at the close of each selection window; returns the items frozen."""
    frozen = 0
    for window in _pending(uow, "selection", "freeze_selection", Window.ends_at, Window.ends_at <= now):
        parts, total = [], 0
        for kind in ITEM_KINDS:
            items, students = uow.session.execute(select(
                func.count(), func.count(func.distinct(Item.student_id))).where(
                Item.school_id == uow.school_id, Item.kind == kind,
                Item.academic_year == window.academic_year,
                Item.state.in_(SELECTED_STATES[kind]))).one()
            parts.append(f"{KIND_LABELS[kind]} {items} 件（{students} 名學生）")
            total += items
        note(uow.session, school_id=uow.school_id, subject_kind="window", subject_id=window.id,
             event="freeze_selection", actor=system(), at=window.ends_at,
             reason=f"{window.academic_year} 學年度勾選期間截止，勾選結果凍結：" + "、".join(parts)
                    + f"（排程器於截止時處理；執行時間 {format_taipei(now)}）")
        _record(uow, window, "freeze_selection", window.ends_at, now, total)
        frozen += total
    return frozen


def _staff_with(uow, roles) -> list[Staff]:
    return list(uow.session.scalars(uow.select(Staff).where(
        Staff.active.is_(True), exists(select(1).where(
            StaffRole.school_id == Staff.school_id, StaffRole.staff_id == Staff.id,
            StaffRole.role.in_(roles)))).order_by(Staff.id)))


def report_not_certified(uow, now: datetime) -> int:
    """The working group's list at each certification close; returns the items listed."""
    listed = 0
    for window in _pending(uow, "certification", "report_not_certified", Window.ends_at,
                           Window.ends_at <= now):
        counts = dict(uow.session.execute(select(Item.course_id, func.count()).where(
            Item.school_id == uow.school_id, Item.kind == "course_outcome",
            Item.academic_year == window.academic_year, Item.semester == window.semester,
            Item.state == NOT_CERTIFIED).group_by(Item.course_id)).all())
        total = sum(counts.values())
        _record(uow, window, "report_not_certified", window.ends_at, now, total)
        listed += total
        if not total:
            continue
        courses = list(uow.session.scalars(uow.select(Course).where(Course.id.in_(counts))
                                           .order_by(Course.name, Course.id)))
        routes = certifiers_for(uow, courses, on=taipei_date(now))
        period = f"{window.academic_year} 學年度第 {window.semester} 學期"
        deadline = format_deadline(window.ends_at)
        body = (f"{period}課程學習成果認證期間已於 {deadline} 截止，下列成果逾期未認證，共 {total} 件：\n"
                + "\n".join(f"- {c.name}（{c.code}，{routes[c.id].describe()}）：{counts[c.id]} 件"
                            for c in courses)
                + "\n\n這些成果已列為「逾期未認證」，學生不能勾選提交；請工作小組追蹤處理。")
        outbox.queue(uow, [Message("report_not_certified", "staff", staff.id, staff.name, staff.email,
                                   window.id, window.ends_at,
                                   f"【學習歷程】{period}逾期未認證 {total} 件", f"{staff.name} 您好：\n\n{body}")
                           for staff in _staff_with(uow, WORKING_GROUP)], now)
    return listed


def departed_with_receipts(uow, window: Window) -> list[Student]:
    """Departed students with a receipt in `window` still waiting for them: they may not be able
    to sign in, so they are told on paper."""
    return list(uow.session.scalars(uow.select(Student).where(
        Student.status.in_(DEPARTED_STATUSES), exists(select(1).where(
            Receipt.school_id == Student.school_id, Receipt.student_id == Student.id,
            Receipt.window_id == window.id, Receipt.state.in_(UNANSWERED))))
        .order_by(Student.class_name, Student.student_no)))


def paper_notice_due(uow, now: datetime) -> int:
    """Tell the registry, once per opening, which departed students need a paper notice."""
    told = 0
    for window in _pending(uow, "receipt_confirmation", "paper_notice_due", Window.starts_at,
                           (Window.starts_at <= now) & (Window.ends_at > now)):
        students = departed_with_receipts(uow, window)
        if not students:  # receipts may be issued later in the window: look again next time
            continue
        _record(uow, window, "paper_notice_due", window.starts_at, now, len(students))
        told += len(students)
        body = (f"{window.academic_year} 學年度收訖明細確認期間自 {format_taipei(window.starts_at)} 開始，"
                f"至 {format_deadline(window.ends_at)} 截止。下列 {len(students)} 名已離校學生可能無法登入平臺確認，"
                "請以紙本郵寄通知（依補充規定；列印：portfolio notices --school "
                f"{uow.school.code} --window {window.id}）：\n"
                + "\n".join(f"- {s.student_no} {s.name}：{s.mailing_address or '（無通訊地址，請先補登）'}"
                            for s in students))
        outbox.queue(uow, [Message("paper_notice_due", "staff", staff.id, staff.name, staff.email,
                                   window.id, window.starts_at,
                                   f"【學習歷程】{len(students)} 名離校學生需郵寄收訖明細確認通知",
                                   f"{staff.name} 您好：\n\n{body}")
                           for staff in _staff_with(uow, (Role.REGISTRY,))], now)
    return told


def run(uow, now: datetime) -> dict[str, int]:
    """Every one-shot boundary effect due at `now`. Commits."""
    uow.serialise("boundaries")
    changed = {"freeze_selection": freeze_selection(uow, now),
               "report_not_certified": report_not_certified(uow, now),
               "paper_notice_due": paper_notice_due(uow, now)}
    uow.commit()
    return changed
