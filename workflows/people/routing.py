"""Who certifies a course's outcomes (認證) on a given day (Taipei): the course teacher while he
can (active, and no unavailability covering that day), or a departed teacher whose certify-only
account still runs (Staff.certify_only_until, 減緩原帳號消滅時間); when he cannot, whoever the
school's policy routes his kind of course to (代理人機制, seed 000 §五(四)2), acting on his behalf:
a role → its holders available that day (none: the role's own proxy list); `duty_proxy` → his
first available proxy (workflows/people/proxies.py, 代理順位 with chains).

The certify permission, the queue, the status pages and the teachers' reminders all ask this
module, so the one who is reminded is the one who may act.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select

from persistence.tables import Course, Staff, StaffRole, Unavailability
from workflows.people.accounts import staff_may_act
from workflows.core.clock import taipei_date, utc_now
from workflows.core.policy import COURSE_KINDS, DUTY_PROXY
from workflows.people.proxies import ProxyBook, covering, covers, known_periods, unavailable_ids
from workflows.core.roles import ROLE_LABELS, Role


@dataclass(frozen=True)
class Certifiers:
    """Who may certify one course's outcomes on one day."""

    course: Course
    teacher: Staff
    staff_ids: frozenset[int]
    route: str | None  # the policy's target when proxied (a Role code or duty_proxy), else None
    proxied: bool = False  # the teacher cannot act that day; staff_ids act on his behalf
    acting_name: str | None = None  # the duty proxy's name, when there is one

    def describe(self) -> str:
        """Who certifies, as a teacher or the working group reads it."""
        if not self.proxied:
            return f"任課教師{self.teacher.name}"
        if self.route is None:
            kind = COURSE_KINDS.get(self.course.route, self.course.route)
            return f"（任課教師{self.teacher.name}無法認證，本校補充規定未指定「{kind}」的代理人）"
        if self.route == DUTY_PROXY:
            if self.acting_name is None:
                return f"（任課教師{self.teacher.name}的職務代理人，尚未登錄或皆無法代理）"
            return f"職務代理人{self.acting_name}（代理任課教師{self.teacher.name}）"
        return f"{ROLE_LABELS[Role(self.route)]}（代理任課教師{self.teacher.name}）"


def today() -> date:
    return taipei_date(utc_now())


def certifies_himself(teacher: Staff, on: date, unavailable: frozenset[int]) -> bool:
    """Active, or departed with a certify-only account through `on`; and not marked unavailable."""
    return teacher.id not in unavailable and staff_may_act(teacher, on)


def certifiers_for(uow, courses: list[Course], *, on: date | None = None) -> dict[int, Certifiers]:
    """{course id: Certifiers} for many courses with a few queries, whatever their number; none
    for teachers this unit of work already read (the one certifying, usually)."""
    on = on or today()
    wanted = {c.teacher_id for c in courses}
    teachers = {tid: row for tid in wanted if (row := uow.loaded(Staff, tid)) is not None}
    if missing := wanted - teachers.keys():
        for row in uow.session.scalars(uow.select(Staff).where(Staff.id.in_(missing))):
            uow.hold(row)
            teachers[row.id] = row
    periods = _periods(uow, set(teachers))
    away = frozenset(tid for tid in teachers if _covers(periods[tid], on))
    absent = {tid for tid, t in teachers.items() if not certifies_himself(t, on, away)}
    unavailable = unavailable_ids(uow, on) if absent else away
    routes = {c.id: uow.policy.proxy_routing.get(c.route) for c in courses if c.teacher_id in absent}
    roles = {r for r in routes.values() if r is not None and r != DUTY_PROXY}
    holders: dict[str, set[int]] = {role: set() for role in roles}
    if roles:
        for staff_id, role in uow.session.execute(
                select(StaffRole.staff_id, StaffRole.role).join(
                    Staff, (Staff.school_id == StaffRole.school_id) & (Staff.id == StaffRole.staff_id))
                .where(StaffRole.school_id == uow.school_id, StaffRole.role.in_(roles),
                       Staff.active.is_(True))):
            if staff_id not in unavailable:
                holders[role].add(staff_id)
    book = None
    if any(r == DUTY_PROXY for r in routes.values()) or any(not h for h in holders.values()):
        book = ProxyBook.load(uow, on, principals=sorted(absent), unavailable=unavailable)
        for role, ids in holders.items():
            if not ids and (stand_in := book.acting_for_role(role)) is not None:
                ids.add(stand_in)
    out = {}
    for course in courses:
        teacher = teachers[course.teacher_id]
        if teacher.id not in absent:
            out[course.id] = Certifiers(course, teacher, frozenset({teacher.id}), None)
            continue
        route = routes[course.id]
        if route == DUTY_PROXY:
            acting = book.acting_for(teacher.id)
            out[course.id] = Certifiers(course, teacher, frozenset(() if acting is None else {acting}),
                                        route, True, book.names.get(acting))
        else:
            out[course.id] = Certifiers(course, teacher, frozenset(holders.get(route, ())), route, True)
    return out


def _covers(periods, on: date) -> bool:
    return any(covers(start, end, on) for start, end in periods)


def _periods(uow, staff_ids: set[int]) -> dict[int, list[tuple[date, date | None]]]:
    known = known_periods(uow)
    if missing := staff_ids - known.keys():
        for sid in missing:
            known[sid] = []
        for sid, start, end in uow.session.execute(
                uow.select(Unavailability.staff_id).add_columns(Unavailability.starts_on, Unavailability.ends_on)
                .where(Unavailability.staff_id.in_(sorted(missing)))):
            known[sid].append((start, end))
    return {sid: known[sid] for sid in staff_ids}


def course_of(uow, course_id: int) -> Course:
    """The course (held for the unit of work) with its teacher's unavailability periods, in one
    query: the access check on an item costs no more than reading its course."""
    course = uow.loaded(Course, course_id)
    known = known_periods(uow)
    if course is not None and course.teacher_id in known:
        return course
    rows = uow.session.execute(
        uow.select(Course).add_columns(Unavailability.starts_on, Unavailability.ends_on)
        .outerjoin(Unavailability, (Unavailability.school_id == Course.school_id)
                   & (Unavailability.staff_id == Course.teacher_id))
        .where(Course.id == course_id)).all()
    if not rows:
        return uow.get(Course, course_id, what="課程")  # NotFound, in its usual words
    course = rows[0][0]
    uow.hold(course)
    known[course.teacher_id] = [(start, end) for _, start, end in rows if start is not None]
    return course


def certifiers(uow, course: Course, *, on: date | None = None) -> Certifiers:
    return certifiers_for(uow, [course], on=on)[course.id]


def courses_of_absent_teachers(uow, on: date | None = None) -> list[Course]:
    """Courses whose teacher may not certify himself on `on`: inactive (even with a certify-only
    date: checked by certifiers_for) or marked unavailable that day."""
    on = on or today()
    away = uow.select(Unavailability.staff_id).where(covering(on))
    return list(uow.session.scalars(uow.select(Course).join(
        Staff, (Staff.school_id == Course.school_id) & (Staff.id == Course.teacher_id))
        .where(or_(Staff.active.is_(False), Course.teacher_id.in_(away)))))
