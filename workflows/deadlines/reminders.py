"""Reminders before deadlines (截止提醒).

When a window's reminder moment has come (`Policy.reminder_at`: the school's hour, N days
before the last day) and until the window closes, every person who still has something to do
gets one message in the outbox: once per person, kind and deadline (the outbox's unique key), so
someone who falls behind after the first run is reminded by a later one, nobody twice, and a
moved deadline reminds again. Who counts as "still has something to do" comes from the state
machines (the sources of the event they still owe).

| window | who | kind |
|---|---|---|
| course-outcome upload | students with drafts not submitted, or rejections not resubmitted | remind_drafts |
| certification | whoever certifies a course with items waiting (teacher or proxy) | remind_certification |
| selection | students who have selected nothing of a kind they could select | remind_selection |
| selection | homeroom teachers (導師): their class's students of the row above | remind_selection_class |
| receipt confirmation | students with a receipt neither confirmed nor disputed | remind_receipt |
| receipt confirmation | homeroom teachers: their class's students of the row above | remind_receipt_class |
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select

from persistence.tables import ITEM_KINDS, Course, Item, Receipt, SchoolClass, Staff, Student, Window
from states import MACHINES, sources_of
from workflows.deadlines import outbox
from workflows.core.clock import academic_year_of, format_deadline, taipei_date
from workflows.deadlines.outbox import Message
from workflows.core.policy import KIND_LABELS, receipt_category_label
from workflows.core.roles import EnrolmentStatus
from workflows.people.routing import certifiers_for
from workflows.items.rules import SELECTED_STATES

_OUTCOME = MACHINES["course_outcome"]
NOT_SUBMITTED = {"submit": tuple(sources_of(_OUTCOME, "submit")),
                 "resubmit": tuple(sources_of(_OUTCOME, "resubmit"))}
WAITING_FOR_TEACHER = tuple(sources_of(_OUTCOME, "certify"))
SELECTABLE = {kind: tuple(sources_of(MACHINES[kind], "select")) for kind in ITEM_KINDS}
UNANSWERED = tuple(sources_of(MACHINES["receipt"], "confirm"))


def due_windows(uow, now: datetime) -> list[Window]:
    """Open windows whose reminder moment has come."""
    policy = uow.policy
    windows = uow.session.scalars(uow.select(Window).where(
        Window.kind.in_(tuple(policy.reminder_days_before)), Window.starts_at <= now,
        Window.ends_at > now).order_by(Window.id))
    return [w for w in windows if policy.reminder_at(w.kind, w.starts_at, w.ends_at) <= now]


def run(uow, now: datetime) -> int:
    """Queue every reminder due at `now`; returns how many are new. Commits."""
    uow.serialise("reminders")
    messages: list[Message] = []
    for window in due_windows(uow, now):
        messages += _BUILDERS[window.kind](uow, window, now)
    queued = outbox.queue(uow, messages, now)
    uow.commit()
    return queued


# -- who still has something to do ------------------------------------------------------------

def _period(window: Window) -> str:
    return f"{window.academic_year} 學年度" + (f"第 {window.semester} 學期" if window.semester else "")


def _students(uow, ids, *, enrolled_only: bool) -> dict[int, Student]:
    query = uow.select(Student).where(Student.id.in_(ids))
    if enrolled_only:  # those who left cannot sign in; receipts reach them on paper
        query = query.where(Student.status == EnrolmentStatus.ENROLLED)
    return {s.id: s for s in uow.session.scalars(query)}


def _staff(uow, ids) -> dict[int, Staff]:
    return {s.id: s for s in uow.session.scalars(
        uow.select(Staff).where(Staff.id.in_(ids), Staff.active.is_(True)))}


def _to_student(kind: str, student: Student, window: Window, subject: str, body: str) -> Message:
    return Message(kind, "student", student.id, student.name, student.email, window.id,
                   window.ends_at, subject, f"{student.name} 同學您好：\n\n{body}")


def _to_staff(kind: str, staff: Staff, window: Window, subject: str, body: str) -> Message:
    return Message(kind, "staff", staff.id, staff.name, staff.email, window.id, window.ends_at,
                   subject, f"{staff.name} 老師您好：\n\n{body}")


def _drafts(uow, window: Window, now: datetime) -> list[Message]:
    rows = uow.session.execute(select(Item.student_id, Item.state, Item.title).where(
        Item.school_id == uow.school_id, Item.kind == "course_outcome",
        Item.academic_year == window.academic_year, Item.semester == window.semester,
        Item.state.in_(NOT_SUBMITTED["submit"] + NOT_SUBMITTED["resubmit"]))
        .order_by(Item.student_id, Item.id)).all()
    owed: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for student_id, state, title in rows:
        owed[student_id]["submit" if state in NOT_SUBMITTED["submit"] else "resubmit"].append(title)
    deadline = format_deadline(window.ends_at)
    messages = []
    for student in _students(uow, owed, enrolled_only=True).values():
        lines = [f"- {label}：{len(titles)} 件（{'、'.join(titles)}）"
                 for label, titles in (("草稿尚未送出認證", owed[student.id]["submit"]),
                                       ("認證失敗尚未重新送出", owed[student.id]["resubmit"])) if titles]
        body = (f"{_period(window)}課程學習成果上傳將於 {deadline} 截止。你目前還有：\n"
                + "\n".join(lines)
                + "\n\n截止後仍未送出的草稿會被鎖定，不能再送出認證。請登入學習歷程學校平臺處理。")
        messages.append(_to_student("remind_drafts", student, window,
                                    f"【學習歷程】課程學習成果上傳將於 {deadline} 截止", body))
    return messages


def _certification(uow, window: Window, now: datetime) -> list[Message]:
    waiting = dict(uow.session.execute(select(Item.course_id, func.count()).where(
        Item.school_id == uow.school_id, Item.kind == "course_outcome",
        Item.academic_year == window.academic_year, Item.semester == window.semester,
        Item.state.in_(WAITING_FOR_TEACHER)).group_by(Item.course_id)).all())
    if not waiting:
        return []
    courses = list(uow.session.scalars(uow.select(Course).where(Course.id.in_(waiting))
                                       .order_by(Course.name, Course.id)))
    routes = certifiers_for(uow, courses, on=taipei_date(now))
    lines: dict[int, list[str]] = defaultdict(list)
    for course in courses:
        route = routes[course.id]
        proxy = f"（代理{route.teacher.name}老師）" if route.proxied else ""
        for staff_id in route.staff_ids:
            lines[staff_id].append(f"- {course.name}（{course.code}）{proxy}：{waiting[course.id]} 件")
    deadline = format_deadline(window.ends_at)
    return [_to_staff("remind_certification", staff, window,
                      f"【學習歷程】課程學習成果認證將於 {deadline} 截止，尚有成果待認證",
                      f"{_period(window)}課程學習成果認證將於 {deadline} 截止，下列課程尚有學生的成果等待認證：\n"
                      + "\n".join(lines[staff.id])
                      + "\n\n截止時仍未認證的成果將列為「逾期未認證」，學生就不能勾選提交。")
            for staff in _staff(uow, lines).values()]


def not_selected(uow, academic_year: int) -> dict[int, dict[str, int]]:
    """{student id: {kind: items the student could select}} for students who have selected
    nothing of a kind they could select, in `academic_year`."""
    counts: dict[int, dict[str, list[int]]] = defaultdict(lambda: {k: [0, 0] for k in ITEM_KINDS})
    states = {s for kind in ITEM_KINDS for s in SELECTABLE[kind] + tuple(SELECTED_STATES[kind])}
    for student_id, kind, state, n in uow.session.execute(
            select(Item.student_id, Item.kind, Item.state, func.count()).where(
                Item.school_id == uow.school_id, Item.academic_year == academic_year,
                Item.state.in_(states)).group_by(Item.student_id, Item.kind, Item.state)):
        counts[student_id][kind][0 if state in SELECTABLE[kind] else 1] += n
    return {student_id: {kind: selectable for kind, (selectable, selected) in kinds.items()
                         if selectable and not selected}
            for student_id, kinds in counts.items()
            if any(selectable and not selected for selectable, selected in kinds.values())}


def _selection(uow, window: Window, now: datetime) -> list[Message]:
    missing = not_selected(uow, window.academic_year)
    students = _students(uow, missing, enrolled_only=True)
    deadline = format_deadline(window.ends_at)
    policy = uow.policy
    messages = []
    for student in students.values():
        lines = [f"- {KIND_LABELS[kind]}：可勾選 {n} 件，尚未勾選（每學年至多 {policy.selection_cap(kind)} 件）"
                 for kind, n in missing[student.id].items()]
        messages.append(_to_student(
            "remind_selection", student, window, f"【學習歷程】學習歷程資料勾選將於 {deadline} 截止",
            f"{_period(window)}學習歷程資料勾選將於 {deadline} 截止。你還沒有勾選：\n" + "\n".join(lines)
            + "\n\n沒有勾選的資料不會提交至學習歷程中央資料庫。請登入學習歷程學校平臺勾選。"))
    messages += _to_homerooms(uow, "remind_selection_class", window, now, students, {
        s.id: "、".join(f"{KIND_LABELS[k]}可勾選 {n} 件" for k, n in missing[s.id].items())
        for s in students.values()}, f"尚未勾選{_period(window)}學習歷程資料")
    return messages


def _receipts(uow, window: Window, now: datetime) -> list[Message]:
    rows = uow.session.execute(select(Receipt.student_id, Receipt.category).where(
        Receipt.school_id == uow.school_id, Receipt.window_id == window.id,
        Receipt.state.in_(UNANSWERED)).order_by(Receipt.student_id, Receipt.id)).all()
    owed: dict[int, list[str]] = defaultdict(list)
    for student_id, category in rows:
        owed[student_id].append(receipt_category_label(category))
    students = _students(uow, owed, enrolled_only=False)
    deadline = format_deadline(window.ends_at)
    messages = [_to_student(
        "remind_receipt", student, window, f"【學習歷程】收訖明細請於 {deadline} 前確認",
        f"你的{_period(window)}{'、'.join(owed[student.id])}收訖明細尚未確認，確認期間至 {deadline} 止。\n"
        "請登入學習歷程學校平臺，確認提交的內容與你上傳的資料相符，或提出疑義。\n"
        "逾期未確認也未提出疑義者，視為確認。")
        for student in students.values()]
    enrolled = {s.id: s for s in students.values() if s.status == EnrolmentStatus.ENROLLED}
    messages += _to_homerooms(uow, "remind_receipt_class", window, now, enrolled,
                              {sid: "、".join(owed[sid]) + "收訖明細" for sid in enrolled},
                              f"尚未確認{_period(window)}收訖明細")
    return messages


def homerooms(uow, students, now: datetime) -> dict[int, int]:
    """{student id: homeroom teacher's staff id}: the teacher of the student's class in the
    latest academic year up to now that has one (the class a teacher can follow up today)."""
    names = {s.class_name for s in students}
    classes = uow.session.scalars(uow.select(SchoolClass).where(
        SchoolClass.name.in_(names), SchoolClass.academic_year <= academic_year_of(taipei_date(now)),
        SchoolClass.homeroom_staff_id.is_not(None)).order_by(SchoolClass.academic_year))
    teacher_of = {c.name: c.homeroom_staff_id for c in classes}  # later years win
    return {s.id: teacher_of[s.class_name] for s in students if s.class_name in teacher_of}


def _to_homerooms(uow, kind: str, window: Window, now: datetime, students: dict[int, Student],
                  what: dict[int, str], task: str) -> list[Message]:
    """One list per homeroom teacher of the students who still owe `task`."""
    teacher_of = homerooms(uow, students.values(), now)
    lists: dict[int, list[Student]] = defaultdict(list)
    for student_id, staff_id in teacher_of.items():
        lists[staff_id].append(students[student_id])
    deadline = format_deadline(window.ends_at)
    out = []
    for staff in _staff(uow, lists).values():
        pupils = sorted(lists[staff.id], key=lambda s: (s.class_name, s.student_no))
        body = (f"下列學生{task}（{deadline} 截止），共 {len(pupils)} 人，請協助提醒：\n"
                + "\n".join(f"- {s.class_name} {s.student_no} {s.name}：{what[s.id]}" for s in pupils))
        out.append(_to_staff(kind, staff, window,
                             f"【學習歷程】貴班有 {len(pupils)} 名學生{task}（{deadline} 截止）", body))
    return out


_BUILDERS = {
    "course_outcome_upload": _drafts,
    "certification": _certification,
    "selection": _selection,
    "receipt_confirmation": _receipts,
}
