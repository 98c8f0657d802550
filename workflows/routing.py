"""Who certifies a course's outcomes (認證): the course teacher while he can; when he cannot
(his account is inactive: he left, is on long leave, or an incident), whoever the school's policy
routes his kind of course to (代理人機制, seed 000 §五(四)2), acting on his behalf.

The certify permission and the teachers' reminders both ask this module, so the one who is
reminded is the one who may act. Per-person proxy lists with an order of precedence (the
`duty_proxy` route) are the working group's list (issue 5); until it exists such a course has
no certifier, and its waiting items show up in the working group's not-certified report.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from persistence.tables import Course, Staff, StaffRole
from workflows.policy import COURSE_KINDS, DUTY_PROXY
from workflows.roles import ROLE_LABELS, Role


@dataclass(frozen=True)
class Certifiers:
    """Who may certify one course's outcomes now."""

    course: Course
    teacher: Staff
    staff_ids: frozenset[int]
    route: str | None  # the policy's target when proxied (a Role code or duty_proxy), else None

    @property
    def proxied(self) -> bool:
        return not self.teacher.active

    def describe(self) -> str:
        """Who certifies, as a teacher or the working group reads it."""
        if not self.proxied:
            return f"任課教師{self.teacher.name}"
        if self.route is None:
            kind = COURSE_KINDS.get(self.course.route, self.course.route)
            return f"（任課教師{self.teacher.name}無法認證，本校補充規定未指定「{kind}」的代理人）"
        if self.route == DUTY_PROXY:
            return f"（任課教師{self.teacher.name}的職務代理人，尚未登錄）"
        return f"{ROLE_LABELS[Role(self.route)]}（代理任課教師{self.teacher.name}）"


def certifiers_for(uow, courses: list[Course]) -> dict[int, Certifiers]:
    """{course id: Certifiers} for many courses with two queries, whatever their number."""
    teachers = {s.id: s for s in uow.session.scalars(
        uow.select(Staff).where(Staff.id.in_({c.teacher_id for c in courses})))}
    routes = {c.id: uow.policy.proxy_routing.get(c.route) for c in courses
              if not teachers[c.teacher_id].active}
    roles = {r for r in routes.values() if r is not None and r != DUTY_PROXY}
    holders: dict[str, set[int]] = {role: set() for role in roles}
    if roles:
        for staff_id, role in uow.session.execute(
                select(StaffRole.staff_id, StaffRole.role).join(
                    Staff, (Staff.school_id == StaffRole.school_id) & (Staff.id == StaffRole.staff_id))
                .where(StaffRole.school_id == uow.school_id, StaffRole.role.in_(roles),
                       Staff.active.is_(True))):
            holders[role].add(staff_id)
    out = {}
    for course in courses:
        teacher = teachers[course.teacher_id]
        if teacher.active:
            out[course.id] = Certifiers(course, teacher, frozenset({teacher.id}), None)
        else:
            route = routes[course.id]
            out[course.id] = Certifiers(course, teacher, frozenset(holders.get(route, ())), route)
    return out


def certifiers(uow, course: Course) -> Certifiers:
    return certifiers_for(uow, [course])[course.id]
