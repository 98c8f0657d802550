"""Two schools in one database: a unit of work of one school never sees, loads or writes the
other's rows — even through a query with no WHERE (the session-level net, persistence/scoping.py)."""
from __future__ import annotations

import codecs
from datetime import date

import pytest
from sqlalchemy import delete, func, select, update

from persistence.scoping import CrossSchoolWrite
from persistence.tables import AuditEntry, Course, Enrolment, Item, Staff, Student
from tests.world import IN_UPLOAD, World, national_id
from workflows.items import certification
from workflows.people.actors import staff_actor, student_actor
from workflows.core.errors import Forbidden, NotFound
from workflows.school.imports import import_students


@pytest.fixture
def schools(db, files):
    return World(db, files, code="013301"), World(db, files, code="023302")


def test_the_other_schools_rows_cannot_be_loaded(schools):
    a, b = schools
    a_item = a.upload()
    with b.uow() as uow:
        for model, row_id in ((Item, a_item), (Student, a.student_ids[0]), (Course, a.course_id),
                              (Staff, a.teacher_id)):
            with pytest.raises(NotFound):
                uow.get(model, row_id)
            assert uow.session.get(model, row_id) is None  # even the identity lookup is scoped
        with pytest.raises(NotFound):
            student_actor(uow, a.student_ids[0])
        with pytest.raises(NotFound):
            staff_actor(uow, a.teacher_id)


def test_queries_without_a_where_see_only_the_own_school(schools):
    a, b = schools
    a_items = {a.upload(title="甲一"), a.upload(title="甲二"), a.upload_performance()}
    b_item = b.upload(title="乙")
    with b.uow() as uow:
        items = uow.session.scalars(select(Item)).all()
        assert {i.id for i in items} == {b_item}
        students = uow.session.scalars(select(Student)).all()
        assert sorted(s.id for s in students) == sorted(b.student_ids)
        assert {s.school_id for s in students} == {b.school_id}
        assert {c.school_id for c in uow.session.scalars(select(Course))} == {b.school_id}
        assert uow.session.scalar(select(func.count()).select_from(Item)) == 1
        assert uow.session.scalar(select(func.count(Student.id))) == len(b.student_ids)
        joined = uow.session.execute(select(Item.id, Student.name).join(
            Student, Student.id == Item.student_id)).all()
        assert [row.id for row in joined] == [b_item]
        audit = uow.session.scalars(select(AuditEntry)).all()
        assert audit and {e.school_id for e in audit} == {b.school_id}
    with a.uow() as uow:
        assert {i.id for i in uow.session.scalars(select(Item))} == a_items


def test_bulk_update_and_delete_without_a_where_touch_only_the_own_school(schools):
    a, b = schools
    a_item, b_item = a.upload(title="甲"), b.upload(title="乙")
    with b.uow() as uow:
        changed = uow.session.execute(update(Course).values(name="改名"))
        assert changed.rowcount == 3
        removed = uow.session.execute(delete(Enrolment))
        assert removed.rowcount == 3 * len(b.student_ids)
        uow.commit()
    with a.uow() as uow:
        assert {c.name for c in uow.session.scalars(select(Course))} == {"國語文", "數學", "英語文"}
        assert uow.session.scalar(select(func.count()).select_from(Enrolment)) == 3 * len(a.student_ids)
        assert uow.get(Item, a_item).title == "甲"
    with b.uow() as uow:
        assert uow.get(Item, b_item).title == "乙"


def test_a_teacher_of_one_school_cannot_certify_the_others_item(schools):
    a, b = schools
    a_item = a.upload()
    a.run(certification.submit, a.student(), a_item, now=IN_UPLOAD)
    b_teacher, b_student = b.teacher, b.student()
    with pytest.raises(NotFound):
        b.run(certification.certify, b_teacher, a_item, now=IN_UPLOAD)
    with pytest.raises((NotFound, Forbidden)):
        a.run(certification.certify, b_teacher, a_item, now=IN_UPLOAD)
    with pytest.raises((NotFound, Forbidden)):
        a.run(certification.withdraw, b_student, a_item, now=IN_UPLOAD)
    with pytest.raises(NotFound):
        b.run(certification.withdraw, b_student, a_item, now=IN_UPLOAD)
    with a.uow() as uow:
        stored = uow.get(Item, a_item)
        assert stored.state == "submitted" and stored.version == 2


def test_a_row_of_the_other_school_is_refused_at_flush(schools):
    a, b = schools
    with a.uow() as uow:
        a_student = uow.get(Student, a.student_ids[0])  # detached when the unit of work ends
    with b.uow() as uow:
        uow.session.add(Student(school_id=a.school_id, student_no="X0001", national_id="A100000001",
                                birth_date=date(2009, 1, 1), name="闖入者", class_name="101", grade=1))
        with pytest.raises(CrossSchoolWrite):
            uow.session.flush()
    with b.uow() as uow:
        a_student.name = "被改名"
        uow.session.add(a_student)
        with pytest.raises(CrossSchoolWrite):
            uow.commit()
    with b.uow() as uow:
        own = uow.get(Student, b.student_ids[0])
        own.school_id = a.school_id
        with pytest.raises(CrossSchoolWrite):
            uow.session.flush()
    with a.uow() as uow:
        names = {s.name for s in uow.session.scalars(select(Student))}
        assert names == {"學生0", "學生1", "學生2"}
        assert uow.session.scalar(select(func.count()).select_from(Student)) == len(a.student_ids)
    with b.uow() as uow:
        assert uow.get(Student, b.student_ids[0]).school_id == b.school_id


def _students_csv(*rows: str) -> bytes:
    text = "\r\n".join(("學號,身分證號,出生日期,姓名,班級,年級", *rows)) + "\r\n"
    return codecs.BOM_UTF8 + text.encode("utf-8")


def test_the_same_student_number_and_national_id_may_exist_in_both_schools(schools):
    a, b = schools
    with a.uow() as uow:
        original = uow.get(Student, a.student_ids[0])
    staff = b.staff()
    result = b.run(import_students, staff, _students_csv(
        f"{original.student_no},{original.national_id},2009-03-01,另一人,201,2"), now=IN_UPLOAD)
    assert (result.added, result.updated) == (1, 0)
    with b.uow() as uow:
        twin = uow.session.scalars(select(Student).where(
            Student.student_no == original.student_no)).one()
        assert twin.national_id == original.national_id and twin.name == "另一人"
        assert twin.school_id == b.school_id and twin.id != original.id
    with a.uow() as uow:
        same = uow.session.scalars(select(Student).where(
            Student.student_no == original.student_no)).one()
        assert same.id == original.id and same.name == original.name


def test_a_staff_actor_of_one_school_cannot_act_in_the_others_unit_of_work(schools):
    a, b = schools
    b_staff = b.staff()
    assert b_staff.school_id == b.school_id
    with pytest.raises((Forbidden, NotFound)):
        a.run(import_students, b_staff, _students_csv(f"9990001,{national_id(999001)},2009-03-01,外校匯入,101,1"),
              now=IN_UPLOAD)
    with a.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Student)) == len(a.student_ids)
