"""Rules shared by the item use cases: who may act on an item, which states count against a cap,
and when an item may still be edited. Numbers come from the school's Policy; windows from
workflows/school/calendar.py; allowed moves from states/."""
from __future__ import annotations

from collections import deque

from sqlalchemy import func, select

from persistence.tables import ITEM_KINDS, Course, Enrolment, Item, Student
from states import MACHINES, edges, state_ids, state_label
from workflows.core.actors import Actor, OnBehalf
from workflows.core.errors import Forbidden, RuleViolation
from workflows.core.roles import EnrolmentStatus


def reachable(kind: str, start: str, *, skipping: set[str]) -> frozenset[str]:
    """States reachable from `start` in the kind's diagram without the `skipping` events."""
    seen, queue = {start}, deque([start])
    graph = edges(MACHINES[kind])
    while queue:
        state = queue.popleft()
        for edge in graph:
            if edge.source == state and edge.event not in skipping and edge.target not in seen:
                seen.add(edge.target)
                queue.append(edge.target)
    return frozenset(seen)


# An item counts as selected from `selected` on, through submission and receipt; un-selecting
# is the only way back out.
SELECTED_STATES = {kind: reachable(kind, "selected", skipping={"unselect"}) for kind in ITEM_KINDS}
# Every upload counts against the upload cap until it is deleted.
UPLOADED_STATES = {kind: state_ids(MACHINES[kind]) - {"deleted"} for kind in ITEM_KINDS}
# Where the student may still change files and text (with the upload window open). A change of
# file on a certified outcome voids the certification (event void_certification).
EDITABLE_STATES = {
    "course_outcome": frozenset({"draft", "rejected", "certified", "unselected"}),
    "performance": frozenset({"uploaded", "unselected"}),
}

TITLE_MAX = 80


def student_side(uow, actor: Actor, student_id: int) -> Actor:
    """A student acts on their own items; a guardian (家長或法定代理人) on their child's, where the
    school's policy allows, recorded as on behalf of the student."""
    uow.require_member(actor)
    if actor.kind == "student" and actor.id == student_id:
        return actor
    if actor.kind == "guardian" and student_id in actor.student_ids:
        if not uow.policy.guardians_may_act:
            raise Forbidden("本校規定家長或法定代理人只能檢視，不能代為操作。")
        student = uow.get(Student, student_id, what="學生")
        return actor.acting_for(OnBehalf("student", student.id, student.name))
    raise Forbidden("只能操作自己的學習歷程資料。")


def acting_rights(uow, actor: Actor, student_id: int) -> tuple[bool, str | None]:
    """(may act, why not): the same rule the use cases apply (rules.student_side)."""
    try:
        student_side(uow, actor, student_id)
    except Forbidden as refused:
        return False, refused.message if actor.kind == "guardian" else None
    return True, None


def require_enrolled(student: Student, *, doing: str) -> None:
    if student.status != EnrolmentStatus.ENROLLED:
        raise RuleViolation(f"學籍狀態不是在學，不能{doing}。", rule="not_enrolled", field="student")


def require_enrolled_in(uow, student_id: int, course: Course) -> None:
    found = uow.session.scalar(select(Enrolment.course_id).where(
        Enrolment.school_id == uow.school_id, Enrolment.course_id == course.id,
        Enrolment.student_id == student_id))
    if found is None:
        raise RuleViolation(f"你沒有修習「{course.name}」，不能上傳這門課的課程學習成果。",
                            rule="not_enrolled_in_course", field="course_id")


def count_items(uow, student_id: int, kind: str, academic_year: int, states, semester: int | None = None) -> int:
    statement = select(func.count()).select_from(Item).where(
        Item.school_id == uow.school_id, Item.student_id == student_id, Item.kind == kind,
        Item.academic_year == academic_year, Item.state.in_(states))
    if semester is not None:
        statement = statement.where(Item.semester == semester)
    return uow.session.scalar(statement)


def clear_certification(item) -> None:
    """Forget who certified which files: the certification no longer stands (the student
    changed a file, or the teacher undid it)."""
    item.certified_by_id = item.certified_at = None
    item.certified_document_sha256 = item.certified_media_sha256 = None


def item_state_label(item) -> str:
    return state_label(MACHINES[item.kind], item.state)
