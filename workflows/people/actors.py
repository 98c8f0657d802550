"""The Actor of a student or a staff member, read from their school's rows in a unit of work.

A staff member's roles are read once per request: signing in reads them with the account
(sign_in_sessions.resolve) and leaves them on the session (`remember_staff_roles`), so the first
`staff_actor` of that session answers without a query.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from persistence.tables import Staff, StaffRole, Student
from workflows.core.actors import Actor
from workflows.core.errors import NotFound
from workflows.core.roles import Role
from workflows.core.unit_of_work import UnitOfWork

_SIGNED_IN_ROLES = "portfolio.signed_in_roles"


def student_actor(uow: UnitOfWork, student_id: int) -> Actor:
    """The student `student_id` of the unit of work's school as the one acting, or NotFound."""
    student = uow.get(Student, student_id, what="學生")
    return Actor("student", student.id, student.name, uow.school_id)


def staff_actor(uow: UnitOfWork, staff_id: int) -> Actor:
    """The staff member `staff_id` of the unit of work's school with their roles, or NotFound."""
    # Read at sign-in in this same session (remember_staff_roles): no query. Taken once, so a
    # later call in the unit of work (after a change of roles) reads afresh.
    roles = uow.session.info.pop(_SIGNED_IN_ROLES, {}).get(staff_id)
    staff = uow.session.get(Staff, staff_id) if roles is not None else None
    if staff is not None and staff.school_id == uow.school_id:
        uow.hold(staff)
        return Actor("staff", staff.id, staff.name, uow.school_id, roles)
    # The staff member and their roles in one query.
    rows = uow.session.execute(
        uow.select(Staff).add_columns(StaffRole.role)
        .outerjoin(StaffRole, (StaffRole.school_id == Staff.school_id) & (StaffRole.staff_id == Staff.id))
        .where(Staff.id == staff_id)).all()
    if not rows:
        raise NotFound(f"找不到教職員（編號 {staff_id}）")
    staff = rows[0][0]
    uow.hold(staff)
    roles = frozenset(Role(role) for _, role in rows if role is not None)
    return Actor("staff", staff.id, staff.name, uow.school_id, roles)


def remember_staff_roles(session: Session, staff_id: int, roles: frozenset[Role]) -> None:
    """The roles of the staff member just signed in, read with the account (with the staff row
    in the same session): the first `staff_actor` of that session takes them without a query."""
    session.info[_SIGNED_IN_ROLES] = {staff_id: roles}
