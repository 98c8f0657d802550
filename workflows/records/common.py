"""What every kind of staff-entered record shares (engine.py and grade_corrections.py use it): its
owner office, who may read it, the audit row of every change, and the students named by school
number."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from persistence.tables import Student
from persistence.vocabulary import StaffRecordKind
from workflows.core.actors import Actor
from workflows.core.errors import Forbidden, NotFound
from workflows.people.offices import require_office
from workflows.core.roles import Role
from workflows.core.transitions import note
from workflows.core.unit_of_work import UnitOfWork

CADRE, GRADE = StaffRecordKind.CADRE.value, StaffRecordKind.GRADE.value
CONSULTATION, EXPLORATION = StaffRecordKind.CONSULTATION.value, StaffRecordKind.EXPLORATION.value

# The office that enters and corrects each kind (issue 5; seed 002's division of work).
OWNERS: dict[str, tuple[Role, ...]] = {
    CADRE: (Role.STUDENT_ACTIVITIES,),      # 訓育組
    GRADE: (Role.REGISTRY,),                # 註冊組
    CONSULTATION: (Role.COURSE_CONSULTANT,),  # 課程諮詢教師
    EXPLORATION: (Role.COUNSELLING,),       # 輔導室
}
LABELS = StaffRecordKind.labels()
# Who reads every kind besides its owners: the working group's overseers.
OVERSEERS = (Role.EXECUTIVE_SECRETARY, Role.PRINCIPAL, Role.ADMIN)


def subject_kind(kind: str) -> str:
    """How audit rows name a record kind: cadre_record, grade_record ..."""
    return f"{kind}_record"


def require_owner(uow: UnitOfWork, actor: Actor, kind: str, doing: str, *,
                  now: datetime | None = None) -> Actor:
    """The owner office (or its proxy, as `for whom`) or the school's platform administrator;
    returns the actor to audit with."""
    return require_office(uow, actor, OWNERS[kind], f"{doing}{LABELS[kind]}", now=now, extra=(Role.ADMIN,))


def may_read(actor: Actor, kind: str) -> bool:
    return actor.kind in ("system", "platform") or (
        actor.kind == "staff" and actor.has(*OWNERS[kind], *OVERSEERS))


def require_reader(uow: UnitOfWork, actor: Actor, kind: str, *, now: datetime | None = None) -> Actor:
    uow.require_member(actor)
    if may_read(actor, kind):
        return actor
    return require_owner(uow, actor, kind, "查看", now=now)  # a proxy reads what he enters


def audit(uow: UnitOfWork, kind: str, record, *, event: str, actor: Actor, at: datetime,
          reason: str | None = None, file_hash: str | None = None) -> None:
    """One audit row per change: event is enter, correct, delete or import."""
    note(uow.session, school_id=uow.school_id, subject_kind=subject_kind(kind), subject_id=record.id,
         student_id=record.student_id, event=event, actor=actor, at=at, reason=reason,
         file_hash=file_hash)


def students_by_no(uow: UnitOfWork, student_nos: Iterable[str]) -> dict[str, Student]:
    nos = sorted(set(student_nos))
    if not nos:
        return {}
    return {s.student_no: s for s in uow.session.scalars(uow.select(Student).where(Student.student_no.in_(nos)))}


def require_student(uow: UnitOfWork, student_id: int) -> Student:
    student = uow.session.scalar(uow.select(Student).where(Student.id == student_id))
    if student is None:
        raise NotFound("找不到這位學生。")
    return student


def forbid_students(actor: Actor) -> None:
    if actor.kind in ("student", "guardian"):
        raise Forbidden("學生與家長不能登錄或更正學校端資料。")
