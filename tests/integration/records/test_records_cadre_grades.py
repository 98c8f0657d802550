"""Cadre records 幹部紀錄 (訓育組) and grades 學業成績 (註冊組): entry, correction and deletion with
their audit rows, the stale-page guard, who may act (owners, their proxy while unavailable,
overseers read), the rules and limits, CSV import with row-level errors, and two schools."""
from __future__ import annotations

from datetime import date

import pytest

from persistence.tables import CadreRecord, GradeRecord
from tests.records_support import (CADRE_HEADER, GRADE_HEADER, add_staff, audit_rows, course_code, excel,
                                   records, stored, student_no)
from tests.world import IN_UPLOAD, World
from workflows.people import proxies
from workflows.core.actors import Actor
from workflows.core.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from workflows.records import cadre, grades
from workflows.records.engine import RowsRejected


@pytest.fixture
def world(db, files):
    return World(db, files)


@pytest.fixture
def activities(world):
    """訓育組's clerk: owner of the cadre records only."""
    return world.staff(add_staff(world, "S020", "林訓育", "student_activities"))


@pytest.fixture
def registry(world):
    """註冊組's clerk: owner of the grades only."""
    return world.staff(add_staff(world, "S030", "張註冊", "registry"))


def cadre_values(**changes) -> dict:
    return {"academic_year": 114, "semester": 1, "level": "校級", "unit": "學生會", "position": "會長",
            "starts_on": "2025-09-01", **changes}


def grade_values(world, **changes) -> dict:
    return {"academic_year": 114, "semester": 1, "record_kind": "semester", "course_code": course_code(world),
            "subject": "國語文", "grade_level": 1, "credits": 4, "score": 78, "passed": True,
            "credit_counted": True, **changes}


def enter_cadre(world, actor, n=0, **changes):
    return world.run(cadre.enter_cadre, actor, student_id=world.student_ids[n], now=IN_UPLOAD,
                     **cadre_values(**changes))


def enter_grade(world, actor, n=0, **changes):
    return world.run(grades.enter_grade, actor, student_id=world.student_ids[n], now=IN_UPLOAD,
                     **grade_values(world, **changes))


# -- enter, correct, delete -------------------------------------------------------------------


def test_a_cadre_record_is_entered_corrected_and_deleted_with_an_audit_row_each(world, activities):
    record = enter_cadre(world, activities, starts_on="114/09/01")  # ROC date as clerks write it
    assert (record.level, record.starts_on, record.ends_on, record.version) == ("school", date(2025, 9, 1), None, 1)

    done = world.run(cadre.correct_cadre, activities, record.id, expected_version=1, position="副會長",
                     ends_on="2026-01-31", now=IN_UPLOAD)
    assert done.changes and done.record.version == 2
    entered, corrected = audit_rows(world, "cadre_record", record.id)
    assert (entered.event, entered.actor_name, entered.student_id) == ("enter", "林訓育", world.student_ids[0])
    assert "學生會 會長" in entered.reason
    assert (corrected.event, corrected.actor_name) == ("correct", "林訓育")
    assert corrected.reason == "職稱：會長 → 副會長；結束日期：（空白） → 2026-01-31"

    same = world.run(cadre.correct_cadre, activities, record.id, expected_version=2, position="副會長",
                     level="school", now=IN_UPLOAD)
    assert same.changes == [] and "未修改" in same.message
    assert len(audit_rows(world, "cadre_record", record.id)) == 2
    assert records(world, CadreRecord)[0].version == 2

    with pytest.raises(InvalidInput) as no_reason:
        world.run(cadre.delete_cadre, activities, record.id, expected_version=2, reason="  ", now=IN_UPLOAD)
    assert no_reason.value.field == "reason" and "刪除原因" in no_reason.value.message
    assert len(records(world, CadreRecord)) == 1

    world.run(cadre.delete_cadre, activities, record.id, expected_version=2, reason="誤植學生", now=IN_UPLOAD)
    assert records(world, CadreRecord) == []
    deleted = audit_rows(world, "cadre_record", record.id)[-1]
    assert deleted.event == "delete" and deleted.reason.startswith("誤植學生") and "副會長" in deleted.reason


def test_a_grade_is_entered_and_corrected_with_old_and_new_values_in_the_audit(world, registry):
    record = enter_grade(world, registry, score=55, passed="否", credit_counted="否")
    done = world.run(grades.correct_grade, registry, record.id, expected_version=1, makeup_score="62",
                     passed="是", credit_counted="是", now=IN_UPLOAD)
    assert (done.record.makeup_score, done.record.passed, done.record.credit_counted) == (62, True, True)
    corrected = audit_rows(world, "grade_record", record.id)[-1]
    assert (corrected.event, corrected.actor_name) == ("correct", "張註冊")
    assert corrected.reason == "及格：否 → 是；補考成績：（空白） → 62；採計學分：否 → 是"


def test_a_stale_page_is_refused_and_changes_nothing(world, activities, registry):
    record = enter_cadre(world, activities)
    world.run(cadre.correct_cadre, activities, record.id, expected_version=1, unit="班聯會", now=IN_UPLOAD)
    with pytest.raises(Conflict) as stale:
        world.run(cadre.correct_cadre, activities, record.id, expected_version=1, unit="學生議會", now=IN_UPLOAD)
    assert "已被其他人修改" in stale.value.message
    with pytest.raises(Conflict):
        world.run(cadre.delete_cadre, activities, record.id, expected_version=1, reason="重複", now=IN_UPLOAD)
    [kept] = records(world, CadreRecord)
    assert (kept.unit, kept.version) == ("班聯會", 2)

    grade = enter_grade(world, registry)
    world.run(grades.correct_grade, registry, grade.id, expected_version=1, score=80, now=IN_UPLOAD)
    with pytest.raises(Conflict):
        world.run(grades.correct_grade, registry, grade.id, expected_version=1, score=90, now=IN_UPLOAD)
    assert records(world, GradeRecord)[0].score == 80


def test_only_the_owner_office_enters_and_overseers_only_read(world, activities, registry):
    secretary = world.staff(add_staff(world, "S040", "吳秘書", "executive_secretary"))
    teacher = world.teacher  # subject and homeroom teacher
    student = world.student(0)
    guardian = Actor("guardian", 99, "家長", world.school_id, student_ids=frozenset({world.student_ids[0]}))

    for who in (registry, teacher, secretary, student, guardian):
        with pytest.raises(Forbidden):
            enter_cadre(world, who)
    for who in (activities, teacher, secretary, student):
        with pytest.raises(Forbidden):
            enter_grade(world, who)
    with pytest.raises(Forbidden) as refused:
        enter_grade(world, student)
    assert "學生與家長" in refused.value.message
    assert stored(world) == {"CadreRecord": 0, "GradeRecord": 0}

    enter_cadre(world, activities)
    enter_grade(world, registry)
    for who in (teacher, registry, student):
        with pytest.raises(Forbidden):
            world.run(cadre.list_cadre, who, academic_year=114, semester=1)
    for who in (teacher, activities):
        with pytest.raises(Forbidden):
            world.run(grades.list_grades, who, academic_year=114, semester=1)
    assert len(world.run(cadre.list_cadre, secretary, academic_year=114, semester=1)) == 1
    assert len(world.run(grades.list_grades, secretary, academic_year="114", semester="1")) == 1
    assert not world.run(grades.may_enter_grades, secretary, now=IN_UPLOAD)
    assert world.run(grades.may_enter_grades, registry, now=IN_UPLOAD)


def test_the_proxy_of_an_unavailable_registry_clerk_enters_grades_on_his_behalf(world, registry):
    clerk_id = registry.id
    proxy, outsider = world.teacher, world.staff(world.other_teacher_id)
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=clerk_id,
              proxy_staff_ids=[world.teacher_id], now=IN_UPLOAD)
    with pytest.raises(Forbidden):  # the clerk is at work: his proxy has nothing to do
        enter_grade(world, proxy)

    world.run(proxies.mark_unavailable, world.staff(), clerk_id, starts_on=date(2025, 10, 1),
              reason="leave", now=IN_UPLOAD)
    record = enter_grade(world, proxy)
    [entered] = audit_rows(world, "grade_record", record.id)
    assert (entered.actor_name, entered.on_behalf_kind, entered.on_behalf_id, entered.on_behalf_name) == \
        ("王老師", "staff", clerk_id, "張註冊")
    assert len(world.run(grades.list_grades, proxy, academic_year=114, semester=1, now=IN_UPLOAD)) == 1

    with pytest.raises(Forbidden) as refused:  # not on the clerk's proxy list
        enter_grade(world, outsider, n=1)
    assert "註冊組" in refused.value.message
    with pytest.raises(Forbidden):
        enter_cadre(world, proxy)  # a registry proxy is not the student-activities section's
    assert len(records(world, GradeRecord)) == 1


# -- rules and limits -------------------------------------------------------------------------


@pytest.mark.parametrize("changes, error, field, rule, limit", [
    ({"unit": "會" * 61}, RuleViolation, "unit", "text_too_long", 60),
    ({"position": "長" * 41}, RuleViolation, "position", "text_too_long", 40),
    ({"ends_on": "2025-08-31"}, RuleViolation, "ends_on", "ends_on_not_before_starts_on", "2025-09-01"),
    ({"semester": 3}, InvalidInput, "semester", None, None),
    ({"level": "國級"}, InvalidInput, "level", None, None),
    ({"starts_on": "2025-02-30"}, InvalidInput, "starts_on", None, None),
    ({"position": ""}, InvalidInput, "position", None, None),
])
def test_a_cadre_record_beyond_a_limit_is_refused_naming_field_and_limit(world, activities, changes, error,
                                                                          field, rule, limit):
    with pytest.raises(error) as refused:
        enter_cadre(world, activities, **changes)
    assert refused.value.field == field
    if rule:
        assert (refused.value.rule, refused.value.limit) == (rule, limit)
        assert str(limit) in refused.value.message
    assert stored(world)["CadreRecord"] == 0


@pytest.mark.parametrize("changes, field, rule", [
    ({"score": 101}, "score", "score_range"),
    ({"credits": 31}, "credits", "credits_range"),
    ({"makeup_score": -1}, "makeup_score", "makeup_score_range"),
    ({"semester": 0}, "semester", "semester_zero_only_for_year_grades"),
    ({"record_kind": "學年"}, "semester", "semester_zero_only_for_year_grades"),
    ({"score": 59}, "passed", "passed_agrees_with_score"),
    ({"score": 59, "makeup_score": 40}, "passed", "passed_agrees_with_score"),
    ({"score": 60, "passed": False, "credit_counted": False}, "passed", "passed_agrees_with_score"),
    ({"score": 40, "passed": False}, "credit_counted", "credit_counted_requires_pass"),
    ({"score": None}, "score", "score_required_except_credit_transfer"),
    ({"course_code": "112999999H00100A1ML0101"}, "course_code", "course_code_of_this_school"),
])
def test_a_grade_breaking_a_rule_is_refused_naming_field_rule_and_limit(world, registry, changes, field, rule):
    with pytest.raises(RuleViolation) as refused:
        enter_grade(world, registry, **changes)
    assert (refused.value.field, refused.value.rule) == (field, rule)
    assert refused.value.message.startswith(next(f.label for f in grades.FIELDS if f.key == field) + "：")
    assert stored(world)["GradeRecord"] == 0


def test_grades_the_rules_allow(world, registry):
    enter_grade(world, registry, n=0, score=48, makeup_score=60, passed=True)  # passed by the make-up
    enter_grade(world, registry, n=1, semester=0, record_kind="year")
    enter_grade(world, registry, n=2, record_kind="學分抵免", score=None,
                course_code="110999999H00100A1ML0101")  # a course taken elsewhere
    assert [(r.semester, r.record_kind, r.passed) for r in records(world, GradeRecord)] == [
        (1, "semester", True), (0, "year", True), (1, "credit_transfer", True)]
    with pytest.raises(InvalidInput) as malformed:
        enter_grade(world, registry, course_code="11201330lH00100A1ML0101")
    assert malformed.value.field == "course_code" and "第 9 碼" in malformed.value.message


def test_the_same_record_twice_is_refused_and_points_to_the_first(world, activities):
    first = enter_cadre(world, activities)
    with pytest.raises(RuleViolation) as twice:
        enter_cadre(world, activities, level="班級")
    assert twice.value.rule == "one_record_per_key" and f"編號 {first.id}" in twice.value.message
    other = enter_cadre(world, activities, position="副會長")
    with pytest.raises(RuleViolation):  # nor by correcting another one into it
        world.run(cadre.correct_cadre, activities, other.id, expected_version=1, position="會長", now=IN_UPLOAD)


# -- CSV import -------------------------------------------------------------------------------


def cadre_file(world, *, ends: str = "2026-01-31") -> bytes:
    return excel(CADRE_HEADER,
                 f"{student_no(world, 0)},114,1,校級,學生會,會長,2025-09-01,{ends}",
                 f"{student_no(world, 1)},114,上,class,101 班,班長,114/09/01,")


def grade_file(world, *, score: int = 78) -> bytes:
    return excel(GRADE_HEADER,
                 f"{student_no(world, 0)},114,1,學期,{course_code(world)},國語文,1,4,{score},是,,是",
                 f"{student_no(world, 1)},114,1,補考,{course_code(world, '02')},數學,1,4,45,是,60,是",
                 f"{student_no(world, 2)},114,0,學年,{course_code(world, '03')},英語文,1,8,70,Y,,Y")


def test_cadre_csv_import_adds_then_changes_nothing_then_updates(world, activities):
    added = world.run(cadre.import_cadre_csv, activities, cadre_file(world), now=IN_UPLOAD)
    assert (added.added, added.updated, added.unchanged) == (2, 0, 0)
    first, second = records(world, CadreRecord)
    assert (first.level, first.ends_on, second.level, second.starts_on, second.ends_on) == \
        ("school", date(2026, 1, 31), "class", date(2025, 9, 1), None)
    imported = audit_rows(world, "cadre_record")
    assert [(a.event, a.actor_name) for a in imported] == [("import", "林訓育")] * 2
    assert imported[0].file_hash and "第 2 行" in imported[0].reason

    again = world.run(cadre.import_cadre_csv, activities, cadre_file(world), now=IN_UPLOAD)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert len(audit_rows(world, "cadre_record")) == 2
    assert [r.version for r in records(world, CadreRecord)] == [1, 1]

    changed = world.run(cadre.import_cadre_csv, activities, cadre_file(world, ends="2026-01-20"), now=IN_UPLOAD)
    assert (changed.added, changed.updated, changed.unchanged) == (0, 1, 1)
    assert len(records(world, CadreRecord)) == 2
    corrected = audit_rows(world, "cadre_record")[-1]
    assert corrected.event == "correct" and "結束日期：2026-01-31 → 2026-01-20" in corrected.reason


def test_grade_csv_import_adds_then_changes_nothing_then_updates(world, registry):
    added = world.run(grades.import_grades_csv, registry, grade_file(world), now=IN_UPLOAD)
    assert (added.added, added.updated, added.unchanged) == (3, 0, 0)
    assert [(r.record_kind, r.semester, r.makeup_score, r.passed) for r in records(world, GradeRecord)] == [
        ("semester", 1, None, True), ("makeup", 1, 60, True), ("year", 0, None, True)]
    again = world.run(grades.import_grades_csv, registry, grade_file(world), now=IN_UPLOAD)
    assert (again.added, again.unchanged) == (0, 3)
    assert len(audit_rows(world, "grade_record")) == 3
    changed = world.run(grades.import_grades_csv, registry, grade_file(world, score=81), now=IN_UPLOAD)
    assert (changed.updated, changed.unchanged) == (1, 2)
    assert "學期成績：78 → 81" in audit_rows(world, "grade_record")[-1].reason


def test_a_bad_grade_file_reports_every_row_error_and_imports_nothing(world, registry):
    world.run(cadre.import_cadre_csv, world.staff(), cadre_file(world), now=IN_UPLOAD)  # admin may too
    before = len(audit_rows(world, "grade_record"))
    data = excel(GRADE_HEADER,
                 f"{student_no(world, 0)},114,1,學期,{course_code(world)},國語文,1,4,78,是,,是",  # good
                 f"9999999,114,1,學期,{course_code(world)},國語文,1,4,78,是,,是",
                 f"{student_no(world, 1)},114,1,學期,11201330H00100A1ML0101,國語文,1,4,78,是,,是",
                 f"{student_no(world, 2)},114,1,學期,{course_code(world)},國語文,1,4,101,是,,是",
                 f"{student_no(world, 1)},114,1,學期,{course_code(world, '02')},數學,1,4,52,是,,否",
                 f"{student_no(world, 2)},114,1,重修,{course_code(world, '02')},數學,1,4,70,是,,是,",
                 f"{student_no(world, 2)},114,1,重修,{course_code(world, '02')},數學,1,4,70,是,,是")
    with pytest.raises(RowsRejected) as rejected:
        world.run(grades.import_grades_csv, registry, data, now=IN_UPLOAD)
    found = [(e.line, e.field) for e in rejected.value.errors]
    assert found == [(3, "學號"), (4, "課程代碼"), (5, "學期成績"), (6, "及格"), (8, "學號")]
    messages = {e.line: e.message for e in rejected.value.errors}
    assert "找不到學號「9999999」" in messages[3]
    assert "課程代碼長度應為 23 碼" in messages[4]
    assert "0–100" in messages[5]
    assert "未達及格標準 60 分" in messages[6]
    assert "與第 7 行是同一筆紀錄" in messages[8]
    assert "5 個錯誤" in rejected.value.message and "未匯入" in rejected.value.message
    assert stored(world)["GradeRecord"] == 0 and len(audit_rows(world, "grade_record")) == before


def test_a_bad_cadre_file_reports_every_row_error_and_imports_nothing(world, activities):
    data = excel(CADRE_HEADER,
                 f"{student_no(world, 0)},114,1,校級,學生會,會長,2025-09-01,",
                 f"{student_no(world, 1)},114,1,校級,學生會,副會長,2025-13-01,",
                 f"{student_no(world, 2)},114,3,星級,{'社' * 61},社長,2025-09-01,2025-08-01",
                 f"{student_no(world, 0)},114,1,班級,101 班,風紀股長,2025-09-10,2025-09-01")
    with pytest.raises(RowsRejected) as rejected:
        world.run(cadre.import_cadre_csv, activities, data, now=IN_UPLOAD)
    assert [(e.line, e.field) for e in rejected.value.errors] == [
        (3, "起始日期"), (4, "學期"), (4, "幹部層級"), (4, "單位"), (5, "結束日期")]
    assert "早於起始日期 2025-09-10" in rejected.value.errors[-1].message
    assert stored(world)["CadreRecord"] == 0 and audit_rows(world, "cadre_record") == []


def test_a_big5_file_is_refused_with_how_to_save_it(world, activities):
    data = excel(CADRE_HEADER, f"{student_no(world, 0)},114,1,校級,學生會,會長,2025-09-01,", encoding="cp950")
    with pytest.raises(RowsRejected) as rejected:
        world.run(cadre.import_cadre_csv, activities, data, now=IN_UPLOAD)
    [error] = rejected.value.errors
    assert error.line == 1 and "UTF-8" in error.message and "Big5" in error.message
    assert stored(world)["CadreRecord"] == 0


def test_only_the_owner_imports(world, activities, registry):
    with pytest.raises(Forbidden):
        world.run(cadre.import_cadre_csv, registry, cadre_file(world), now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        world.run(grades.import_grades_csv, world.teacher, grade_file(world), now=IN_UPLOAD)
    assert stored(world) == {"CadreRecord": 0, "GradeRecord": 0}


# -- two schools ------------------------------------------------------------------------------


def test_another_schools_records_are_invisible_and_untouchable(db, files):
    a, b = World(db, files, code="013301"), World(db, files, code="023302")
    a_clerk = a.staff()  # 陳組長: registry and admin of school A
    b_clerk = b.staff()
    b_cadre = enter_cadre(b, b_clerk)
    b_grade = enter_grade(b, b_clerk)

    assert a.run(cadre.list_cadre, a_clerk, academic_year=114, semester=1) == []
    assert a.run(grades.list_grades, a_clerk, academic_year=114, semester=1) == []
    with pytest.raises(NotFound):
        a.run(cadre.get_cadre, a_clerk, b_cadre.id)
    with pytest.raises(NotFound):
        a.run(cadre.correct_cadre, a_clerk, b_cadre.id, expected_version=1, unit="改", now=IN_UPLOAD)
    with pytest.raises(NotFound):
        a.run(grades.delete_grade, a_clerk, b_grade.id, expected_version=1, reason="x", now=IN_UPLOAD)
    with pytest.raises(NotFound):  # school A's clerk in school B's unit of work
        b.run(grades.list_grades, a_clerk, academic_year=114, semester=1)
    with pytest.raises(InvalidInput):  # B's student number does not exist in A
        a.run(cadre.enter_cadre, a_clerk, student_no=student_no(b), now=IN_UPLOAD, **cadre_values())
    with pytest.raises(RowsRejected) as rejected:
        a.run(cadre.import_cadre_csv, a_clerk, cadre_file(b), now=IN_UPLOAD)
    assert {e.field for e in rejected.value.errors} == {"學號"}

    assert [r.unit for r in records(b, CadreRecord)] == ["學生會"] and records(a, CadreRecord) == []
    assert len(b.run(grades.list_grades, b_clerk, academic_year=114, semester=1)) == 1
