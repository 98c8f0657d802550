"""CSV imports into the database (workflows/school/imports.py): files as Excel writes them (UTF-8 BOM,
CRLF); a good file adds or updates, a file with any bad row changes nothing."""
from __future__ import annotations

import codecs

import pytest
from sqlalchemy import func, select

from persistence.tables import AuditEntry, Course, Enrolment, SchoolClass, Staff, StaffRole, Student
from tests.world import IN_UPLOAD, YEAR, World, national_id
from workflows.core.errors import Forbidden
from workflows.school.imports import ImportRejected, import_courses, import_students, import_teachers

STUDENT_HEADER = "學號,身分證號,出生日期,姓名,班級,年級"
TEACHER_HEADER = "教職員編號,姓名,角色,導師班級"
COURSE_HEADER = "學年度,學期,課程代碼,課程名稱,授課教師編號,修課學生"


def excel(*lines: str) -> bytes:
    """What Excel's "CSV UTF-8（逗號分隔）" writes: a BOM and CRLF line ends."""
    return codecs.BOM_UTF8 + ("\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.fixture
def world(db, files):
    return World(db, files)


def counts(world) -> dict[str, int]:
    with world.uow() as uow:
        return {model.__name__: uow.session.scalar(select(func.count()).select_from(model))
                for model in (Student, Staff, StaffRole, Course, Enrolment, SchoolClass, AuditEntry)}


def code(world, serial: str) -> str:
    return f"{YEAR - 2}{world.code}H00100A1ML01{serial}"


def student_rows(n: int = 3, *, name: str = "新生") -> list[str]:
    return [f"9{k:05d},{national_id(5_000_000 + k)},2009-0{k + 1}-15,{name}{k},102,1" for k in range(n)]


# -- students ---------------------------------------------------------------------------------


def test_student_emails_come_from_the_roster_and_a_roster_without_them_keeps_them(world):
    staff = world.staff()
    rows = [f"{row},s{k}@student.example.edu.tw" for k, row in enumerate(student_rows(2))]
    world.run(import_students, staff, excel(STUDENT_HEADER + ",電子郵件", *rows), now=IN_UPLOAD)
    world.run(import_students, staff, excel(STUDENT_HEADER, *student_rows(2)), now=IN_UPLOAD)
    with world.uow() as uow:
        emails = dict(uow.session.execute(select(Student.student_no, Student.email).where(
            Student.student_no.in_(["900000", "900001"]))).all())
    assert emails == {"900000": "s0@student.example.edu.tw", "900001": "s1@student.example.edu.tw"}
    with pytest.raises(ImportRejected) as refused:
        world.run(import_students, staff, excel(STUDENT_HEADER + ",電子郵件", student_rows(1)[0] + ",not-mail"),
                  now=IN_UPLOAD)
    assert "第 2 行" in str(refused.value.errors[0]) and "電子郵件" in str(refused.value.errors[0])

def test_a_good_student_file_adds_and_a_second_import_only_updates(world):
    staff, before = world.staff(), counts(world)
    data = excel(STUDENT_HEADER, *student_rows(3))
    result = world.run(import_students, staff, data, now=IN_UPLOAD)
    assert (result.added, result.updated) == (3, 0)
    after = counts(world)
    assert after["Student"] == before["Student"] + 3
    with world.uow() as uow:
        first = uow.session.scalars(select(Student).where(Student.student_no == "900000")).one()
        assert (first.name, first.national_id, first.class_name, first.grade, first.status) == (
            "新生0", national_id(5_000_000), "102", 1, "enrolled")
        log = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "import_students")).all()
        assert [(e.actor_name, e.reason) for e in log] == [("陳組長", "新增 3、更新 0")]

    again = world.run(import_students, staff, data, now=IN_UPLOAD)
    assert (again.added, again.updated) == (0, 3)
    assert counts(world)["Student"] == after["Student"]

    renamed = world.run(import_students, staff, excel(STUDENT_HEADER, *student_rows(3, name="改名")),
                        now=IN_UPLOAD)
    assert (renamed.added, renamed.updated) == (0, 3)
    with world.uow() as uow:
        names = set(uow.session.scalars(select(Student.name).where(Student.student_no.like("9%"))))
    assert names == {"改名0", "改名1", "改名2"}
    assert counts(world)["Student"] == after["Student"]


def test_one_bad_student_row_rejects_the_whole_file_naming_line_and_field(world):
    staff, before = world.staff(), counts(world)
    good = student_rows(3)
    bad = "900099,A123456780,2009-05-01,錯號,102,1"  # wrong check digit
    with pytest.raises(ImportRejected) as refused:
        world.run(import_students, staff, excel(STUDENT_HEADER, good[0], bad, good[1], good[2]),
                  now=IN_UPLOAD)
    error = refused.value
    assert [(e.line, e.field) for e in error.errors] == [(3, "身分證號")]
    assert error.details["errors"][0].startswith("第 3 行「身分證號」")
    assert error.status == 422 and "未匯入" in error.message
    assert counts(world) == before


def test_a_national_id_already_held_by_another_student_number_is_refused(world):
    staff, before = world.staff(), counts(world)
    with world.uow() as uow:
        existing = uow.get(Student, world.student_ids[0])
    taken = f"900000,{existing.national_id},2009-05-01,冒用,102,1"
    with pytest.raises(ImportRejected) as refused:
        world.run(import_students, staff, excel(STUDENT_HEADER, student_rows(2)[1], taken), now=IN_UPLOAD)
    [only] = refused.value.errors
    assert (only.line, only.field) == (3, "身分證號")
    assert existing.student_no in only.message
    assert counts(world) == before


def test_several_bad_rows_are_all_listed_in_line_order(world):
    staff, before = world.staff(), counts(world)
    rows = [*student_rows(2), "900005,,2009-05-01,沒有身分證號,102,1", "900006,"
            f"{national_id(5_000_006)},2009-13-01,壞日期,102,4"]
    with pytest.raises(ImportRejected) as refused:
        world.run(import_students, staff, excel(STUDENT_HEADER, *rows), now=IN_UPLOAD)
    assert [(e.line, e.field) for e in refused.value.errors] == [
        (4, "身分證號"), (5, "出生日期"), (5, "年級")]
    assert counts(world) == before


def tracks(world) -> dict[str, str | None]:
    with world.uow() as uow:
        return dict(uow.session.execute(select(Student.student_no, Student.track).where(
            Student.student_no.like("9%"))).all())


def test_grade3_tracks_come_from_the_roster_and_a_roster_without_the_column_keeps_them(world):
    staff = world.staff()
    first, second, third = (f"9{k:05d},{national_id(5_000_000 + k)},2007-0{k + 1}-15,高三生{k},30{k},3"
                            for k in range(3))
    world.run(import_students, staff, excel(STUDENT_HEADER + ",群別", f"{first},學術群", f"{second},professional",
                                            f"{third},"), now=IN_UPLOAD)
    assert tracks(world) == {"900000": "academic", "900001": "professional", "900002": None}

    world.run(import_students, staff, excel(STUDENT_HEADER, first, second, third), now=IN_UPLOAD)
    assert tracks(world) == {"900000": "academic", "900001": "professional", "900002": None}

    # With the column, a blank cell means no track.
    world.run(import_students, staff, excel(STUDENT_HEADER + ",群別", f"{first},", f"{second},學術群",
                                            f"{third},專業群"), now=IN_UPLOAD)
    assert tracks(world) == {"900000": None, "900001": "academic", "900002": "professional"}


def test_a_track_on_a_grade1_or_grade2_row_rejects_the_file(world):
    staff = world.staff()
    world.run(import_students, staff, excel(STUDENT_HEADER + ",群別", f"{student_rows(1)[0][:-1]}3,學術群"),
              now=IN_UPLOAD)
    before = counts(world)
    rows = [f"{student_rows(1)[0][:-1]}3,專業群", f"{student_rows(2)[1]},學術群"]  # grade 1
    with pytest.raises(ImportRejected) as refused:
        world.run(import_students, staff, excel(STUDENT_HEADER + ",群別", *rows), now=IN_UPLOAD)
    [error] = refused.value.errors
    assert (error.line, error.field) == (3, "群別") and "三年級" in error.message
    assert counts(world) == before and tracks(world) == {"900000": "academic"}


# -- teachers ---------------------------------------------------------------------------------

def test_a_good_teacher_file_adds_then_updates_with_roles_and_homerooms(world):
    staff, before = world.staff(), counts(world)
    data = excel(TEACHER_HEADER, '"T101",林老師,"任課教師、導師",102', "T102,張組長,教學組,")
    result = world.run(import_teachers, staff, data, academic_year=YEAR, now=IN_UPLOAD)
    assert (result.added, result.updated) == (2, 0)
    after = counts(world)
    assert after["Staff"] == before["Staff"] + 2
    with world.uow() as uow:
        lin = uow.session.scalars(select(Staff).where(Staff.staff_no == "T101")).one()
        roles = set(uow.session.scalars(select(StaffRole.role).where(StaffRole.staff_id == lin.id)))
        assert roles == {"subject_teacher", "homeroom_teacher"}
        homeroom = uow.session.scalars(select(SchoolClass).where(SchoolClass.name == "102")).one()
        assert (homeroom.academic_year, homeroom.homeroom_staff_id) == (YEAR, lin.id)

    again = world.run(import_teachers, staff, data, academic_year=YEAR, now=IN_UPLOAD)
    assert (again.added, again.updated) == (0, 2)
    assert {k: v for k, v in counts(world).items() if k != "AuditEntry"} == \
        {k: v for k, v in after.items() if k != "AuditEntry"}

    # An existing teacher (T002, from World) is updated by number, roles replaced.
    world.run(import_teachers, staff, excel(TEACHER_HEADER, "T002,李老師,教學組,"),
              academic_year=YEAR, now=IN_UPLOAD)
    with world.uow() as uow:
        roles = set(uow.session.scalars(select(StaffRole.role).where(
            StaffRole.staff_id == world.other_teacher_id)))
    assert roles == {"teaching_section"}
    assert counts(world)["Staff"] == after["Staff"]


def test_one_bad_teacher_row_changes_nothing(world):
    staff, before = world.staff(), counts(world)
    with pytest.raises(ImportRejected) as refused:
        world.run(import_teachers, staff,
                  excel(TEACHER_HEADER, "T101,林老師,任課,", "T102,張老師,教官,", "T001,王老師,教學組,"),
                  academic_year=YEAR, now=IN_UPLOAD)
    assert [(e.line, e.field) for e in refused.value.errors] == [(3, "角色")]
    assert counts(world) == before
    with world.uow() as uow:  # T001's roles were not replaced
        roles = set(uow.session.scalars(select(StaffRole.role).where(StaffRole.staff_id == world.teacher_id)))
    assert roles == {"subject_teacher", "homeroom_teacher"}


# -- courses ----------------------------------------------------------------------------------

def test_a_good_course_file_adds_courses_and_enrolments_then_only_updates(world):
    staff, before = world.staff(), counts(world)
    students = " ".join(f"301{n:04d}" for n in range(3))
    data = excel(COURSE_HEADER, f"{YEAR},1,{code(world, '11')},物理,T001,{students}",
                 f"{YEAR},2,{code(world, '12')},化學,T002,3010000;3010001")
    result = world.run(import_courses, staff, data, now=IN_UPLOAD)
    assert (result.added, result.updated, result.extra) == (2, 0, {"enrolments": 5})
    after = counts(world)
    assert (after["Course"], after["Enrolment"]) == (before["Course"] + 2, before["Enrolment"] + 5)
    with world.uow() as uow:
        physics = uow.session.scalars(select(Course).where(Course.code == code(world, "11"))).one()
        assert (physics.academic_year, physics.semester, physics.name, physics.teacher_id) == (
            YEAR, 1, "物理", world.teacher_id)
        enrolled = set(uow.session.scalars(select(Enrolment.student_id).where(
            Enrolment.course_id == physics.id)))
    assert enrolled == set(world.student_ids)

    again = world.run(import_courses, staff, data, now=IN_UPLOAD)
    assert (again.added, again.updated, again.extra) == (0, 2, {"enrolments": 0})
    now = counts(world)
    assert (now["Course"], now["Enrolment"]) == (after["Course"], after["Enrolment"])


def test_courses_with_unknown_teachers_or_students_are_refused_with_the_line(world):
    staff, before = world.staff(), counts(world)
    data = excel(COURSE_HEADER,
                 f"{YEAR},1,{code(world, '11')},物理,T001,3010000",
                 f"{YEAR},1,{code(world, '12')},化學,T999,3010001",
                 f"{YEAR},1,{code(world, '13')},生物,T002,3010002 3019999")
    with pytest.raises(ImportRejected) as refused:
        world.run(import_courses, staff, data, now=IN_UPLOAD)
    errors = refused.value.errors
    assert [(e.line, e.field) for e in errors] == [(3, "授課教師編號"), (4, "修課學生")]
    assert "T999" in errors[0].message and "3019999" in errors[1].message
    assert "3010002" not in errors[1].message
    assert counts(world) == before


def test_a_course_code_of_another_school_is_refused(world):
    staff, before = world.staff(), counts(world)
    foreign = f"{YEAR - 2}023302H00100A1ML0111"
    data = excel(COURSE_HEADER, f"{YEAR},1,{code(world, '11')},物理,T001,",
                 f"{YEAR},1,{foreign},外校課程,T001,")
    with pytest.raises(ImportRejected) as refused:
        world.run(import_courses, staff, data, now=IN_UPLOAD)
    [only] = refused.value.errors
    assert (only.line, only.field) == (3, "課程代碼")
    assert "學校代碼" in only.message and "023302" in only.message and world.code in only.message
    assert counts(world) == before


# -- who may import ---------------------------------------------------------------------------

def test_only_the_responsible_roles_may_import(world):
    with world.uow() as uow:
        clerk = Staff(school_id=world.school_id, staff_no="S009", name="註冊組員")
        uow.session.add(clerk)
        uow.session.flush()
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=clerk.id, role="registry"))
        uow.commit()
    teacher, registry_only = world.teacher, world.staff(clerk.id)
    students = excel(STUDENT_HEADER, *student_rows(1))
    teachers = excel(TEACHER_HEADER, "T101,林老師,任課,")
    courses = excel(COURSE_HEADER, f"{YEAR},1,{code(world, '11')},物理,T001,")
    before = counts(world)

    for importer, data in ((import_students, students), (import_teachers, teachers),
                           (import_courses, courses)):
        with pytest.raises(Forbidden):
            world.run(importer, teacher, data, now=IN_UPLOAD)
    for importer, data in ((import_teachers, teachers), (import_courses, courses)):
        with pytest.raises(Forbidden) as refused:
            world.run(importer, registry_only, data, now=IN_UPLOAD)
        assert "admin" in refused.value.message
    assert counts(world) == before

    assert world.run(import_students, registry_only, students, now=IN_UPLOAD).added == 1
