"""Who may see what, within one school (the unit of work already hides other schools).

A student sees their own items; a guardian their linked students'; a subject teacher the items
of the courses they certify (their own and those they proxy for, workflows/people/routing.py); a
homeroom teacher (導師) their class; the working group's offices every student of the school.
Anything else answers NotFound, exactly as for a row that does not exist, so ids cannot be probed.
"""
from __future__ import annotations

from datetime import date

from persistence.tables import Course, Item, Receipt, SchoolClass, Student
from workflows.core.actors import Actor
from workflows.core.errors import NotFound
from workflows.people.working_group import sees_whole_school
from workflows.people.routing import Certifiers, certifiers, certifiers_for, course_of, courses_of_absent_teachers

def homeroom_classes(uow, actor: Actor) -> list[SchoolClass]:
    """The classes this staff member is homeroom teacher of, latest academic year first."""
    if not actor.is_staff:
        return []
    return list(uow.session.scalars(uow.select(SchoolClass).where(
        SchoolClass.homeroom_staff_id == actor.id).order_by(SchoolClass.academic_year.desc(),
                                                             SchoolClass.name)))


def homeroom_class_names(uow, actor: Actor) -> set[str]:
    classes = homeroom_classes(uow, actor)
    if not classes:
        return set()
    latest = classes[0].academic_year
    return {c.name for c in classes if c.academic_year == latest}


def certifiable_courses(uow, actor: Actor, *, on: date | None = None) -> dict[int, Certifiers]:
    """{course id: Certifiers} of every course whose outcomes this staff member may certify on
    `on` (Taipei; default today): their own (while they can) and those routed to them for an
    absent teacher."""
    if not actor.is_staff:
        return {}
    own = list(uow.session.scalars(uow.select(Course).where(Course.teacher_id == actor.id)))
    absent = courses_of_absent_teachers(uow, on)
    routes = certifiers_for(uow, list({c.id: c for c in own + absent}.values()), on=on)
    return {cid: route for cid, route in routes.items() if actor.id in route.staff_ids}


def can_view_student(uow, actor: Actor, student: Student) -> bool:
    if actor.kind == "student":
        return actor.id == student.id
    if actor.kind == "guardian":
        return student.id in actor.student_ids
    if sees_whole_school(actor):
        return True
    return actor.is_staff and student.class_name in homeroom_class_names(uow, actor)


def can_view_item(uow, actor: Actor, item: Item) -> bool:
    # Cheapest answers first: this runs on every request that touches an item.
    if actor.kind == "student":
        return actor.id == item.student_id
    if actor.kind == "guardian":
        return item.student_id in actor.student_ids
    if sees_whole_school(actor):
        return True
    if not actor.is_staff:
        return False
    if item.course_id is not None:
        course = course_of(uow, item.course_id)
        if actor.id in certifiers(uow, course).staff_ids:
            return True
    student = uow.get(Student, item.student_id, what="學生")
    return student.class_name in homeroom_class_names(uow, actor)


def require_student(uow, actor: Actor, student_id: int) -> Student:
    uow.require_member(actor)
    student = uow.get(Student, student_id, what="學生")
    if not can_view_student(uow, actor, student):
        raise NotFound(f"找不到學生（編號 {student_id}）")
    return student


def require_item(uow, actor: Actor, item_id: int, *, for_update: bool = False) -> Item:
    """The item, if `actor` may see it. `for_update`: read it locked, for a caller about to run a
    workflow that locks the item first anyway (the workflow's own lock then costs no query)."""
    uow.require_member(actor)
    item = uow.get(Item, item_id, for_update=for_update, what="學習歷程項目")
    if not can_view_item(uow, actor, item):
        raise NotFound(f"找不到學習歷程項目（編號 {item_id}）")
    return item


def require_receipt(uow, actor: Actor, receipt_id: int) -> Receipt:
    uow.require_member(actor)
    receipt = uow.get(Receipt, receipt_id, what="收訖明細")
    require_student(uow, actor, receipt.student_id)
    return receipt
