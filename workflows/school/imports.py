"""Import students, teachers and courses from the school's CSV files (UTF-8, as Excel writes).

Rows are parsed and checked first (workflows/school/csv_rows.py), then checked against what the school
already holds; a file with any bad row changes nothing. A good file is applied in one
transaction: existing people are updated by their number, new ones added.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select

from persistence.tables import Course, Enrolment, SchoolClass, Staff, StaffRole, Student
from workflows.core.actors import Actor
from workflows.core.clock import academic_year_of, now_or, taipei_date
from workflows.school.csv_rows import (GRADE12, Parsed, RowError, parse_courses, parse_students,
                                parse_teachers)
from workflows.core.errors import DomainError, Forbidden
from workflows.core.roles import DEPARTED_STATUSES, Role
from workflows.core.transitions import note
from workflows.core.unit_of_work import UnitOfWork

IMPORT_ROLES = {
    "students": (Role.REGISTRY, Role.ADMIN),
    "teachers": (Role.ADMIN, Role.EXECUTIVE_SECRETARY),
    "courses": (Role.TEACHING_SECTION, Role.ADMIN),
}
LABELS = {"students": "學生", "teachers": "教職員", "courses": "課程"}


class ImportRejected(DomainError):
    """The file had bad rows; nothing was changed."""

    status = 422
    code = "import_rejected"

    def __init__(self, what: str, errors: list[RowError]):
        super().__init__(f"{LABELS[what]}資料有 {len(errors)} 個錯誤，整份檔案未匯入，請修正後重新匯入。",
                         errors=[str(e) for e in errors])
        self.errors = errors


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    extra: dict = field(default_factory=dict)


def _authorise(uow, actor: Actor, what: str) -> None:
    uow.require_member(actor)
    if actor.kind in ("platform", "system"):
        return
    if not (actor.kind == "staff" and actor.has(*IMPORT_ROLES[what])):
        roles = "、".join(r.value for r in IMPORT_ROLES[what])
        raise Forbidden(f"匯入{LABELS[what]}需要以下角色之一：{roles}")


def _audit(uow, actor: Actor, what: str, result: ImportResult, now: datetime) -> None:
    note(uow.session, school_id=uow.school_id, subject_kind="import", subject_id=0,
         event=f"import_{what}", actor=actor, at=now, reason=f"新增 {result.added}、更新 {result.updated}")


def _existing_or_new(uow, existing: dict, key: str, result: ImportResult, make):
    """People are matched by their school number: update the one there, or add a new one."""
    row = existing.get(key)
    if row is None:
        row = make()
        uow.session.add(row)
        existing[key] = row
        result.added += 1
    else:
        result.updated += 1
    return row


def _finish(parsed: Parsed, what: str, extra_errors: list[RowError]) -> None:
    errors = sorted([*parsed.errors, *extra_errors], key=lambda e: (e.line, e.field))
    if errors:
        raise ImportRejected(what, errors)


def import_students(uow: UnitOfWork, actor: Actor, data: bytes, *, now: datetime | None = None) -> ImportResult:
    now = now_or(now)
    _authorise(uow, actor, "students")
    parsed = parse_students(data)
    existing = {s.student_no: s for s in uow.session.scalars(uow.select(Student))}
    by_national_id = {s.national_id: s for s in existing.values()}
    errors = []
    for row in parsed.rows:
        other = by_national_id.get(row.national_id)
        if other is not None and other.student_no != row.student_no:
            errors.append(RowError(row.line, "身分證號", f"此身分證號已屬於學號 {other.student_no} 的學生"))
    _finish(parsed, "students", errors)
    result = ImportResult()
    for row in parsed.rows:
        student = _existing_or_new(uow, existing, row.student_no, result,
                                   lambda: Student(school_id=uow.school_id, student_no=row.student_no))
        student.national_id, student.birth_date, student.name = row.national_id, row.birth_date, row.name
        student.class_name, student.grade = row.class_name, row.grade
        student.division, student.status = row.division.value, row.status.value
        student.guardian_name, student.mailing_address = row.guardian_name, row.mailing_address
        if row.email:  # reminders go there; a roster without the column keeps the address on file
            student.email = row.email
        if row.track_given or row.grade != GRADE12:  # a roster without 群別 keeps grade 3's tracks
            student.track = row.track
        if row.status in DEPARTED_STATUSES and student.departed_on is None:
            student.departed_on = taipei_date(now)
        elif row.status not in DEPARTED_STATUSES:
            student.departed_on = None
    _audit(uow, actor, "students", result, now)
    uow.commit()
    return result


def import_teachers(uow: UnitOfWork, actor: Actor, data: bytes, *, academic_year: int | None = None,
                    now: datetime | None = None) -> ImportResult:
    now = now_or(now)
    _authorise(uow, actor, "teachers")
    year = academic_year or academic_year_of(taipei_date(now))
    parsed = parse_teachers(data)
    _finish(parsed, "teachers", [])
    existing = {s.staff_no: s for s in uow.session.scalars(uow.select(Staff))}
    result = ImportResult()
    for row in parsed.rows:
        staff = _existing_or_new(uow, existing, row.staff_no, result,
                                 lambda: Staff(school_id=uow.school_id, staff_no=row.staff_no))
        staff.name, staff.email, staff.division = row.name, row.email, row.division.value
        staff.external, staff.active = row.external, True
        uow.session.flush()
        uow.session.execute(delete(StaffRole).where(StaffRole.school_id == uow.school_id,
                                                    StaffRole.staff_id == staff.id))
        uow.session.add_all(StaffRole(school_id=uow.school_id, staff_id=staff.id, role=role.value)
                            for role in sorted(row.roles))
        if row.homeroom_class:
            _set_homeroom(uow, year, row.homeroom_class, staff.id)
    _audit(uow, actor, "teachers", result, now)
    uow.commit()
    return result


def _set_homeroom(uow, year: int, class_name: str, staff_id: int) -> None:
    school_class = uow.session.scalars(uow.select(SchoolClass).where(
        SchoolClass.academic_year == year, SchoolClass.name == class_name)).one_or_none()
    if school_class is None:
        school_class = SchoolClass(school_id=uow.school_id, academic_year=year, name=class_name)
        uow.session.add(school_class)
    school_class.homeroom_staff_id = staff_id


def import_courses(uow: UnitOfWork, actor: Actor, data: bytes, *, now: datetime | None = None) -> ImportResult:
    now = now_or(now)
    _authorise(uow, actor, "courses")
    parsed = parse_courses(data, school_code=uow.school.code)
    staff = {s.staff_no: s for s in uow.session.scalars(uow.select(Staff))}
    students = {s.student_no: s for s in uow.session.scalars(uow.select(Student))}
    errors = []
    for row in parsed.rows:
        if row.teacher_no not in staff:
            errors.append(RowError(row.line, "授課教師編號", f"找不到教職員編號「{row.teacher_no}」，請先匯入教職員"))
        missing = [no for no in row.student_nos if no not in students]
        if missing:
            errors.append(RowError(row.line, "修課學生", f"找不到學號：{'、'.join(missing)}"))
    _finish(parsed, "courses", errors)
    result = ImportResult(extra={"enrolments": 0})
    for row in parsed.rows:
        teacher = staff[row.teacher_no]
        course = uow.session.scalars(uow.select(Course).where(
            Course.academic_year == row.academic_year, Course.semester == row.semester,
            Course.code == row.code.code, Course.teacher_id == teacher.id)).one_or_none()
        if course is None:
            course = Course(school_id=uow.school_id, academic_year=row.academic_year,
                            semester=row.semester, code=row.code.code, teacher_id=teacher.id)
            uow.session.add(course)
            result.added += 1
        else:
            result.updated += 1
        course.name, course.route = row.name, row.route.value
        uow.session.flush()
        enrolled = set(uow.session.scalars(select(Enrolment.student_id).where(
            Enrolment.school_id == uow.school_id, Enrolment.course_id == course.id)))
        for no in row.student_nos:
            if students[no].id not in enrolled:
                uow.session.add(Enrolment(school_id=uow.school_id, course_id=course.id,
                                          student_id=students[no].id))
                enrolled.add(students[no].id)
                result.extra["enrolments"] += 1
    _audit(uow, actor, "courses", result, now)
    uow.commit()
    return result


IMPORTERS = {"students": import_students, "teachers": import_teachers, "courses": import_courses}
