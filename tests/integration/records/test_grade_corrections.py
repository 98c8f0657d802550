"""Grade lock 成績檢核日 and grade-correction requests 學生學業成績更正申請 (issue 6, seed 002): the path
edge by edge with its audit rows, the wrong role refused at every step, send-back with a reason
from every signed state, the stale page, entering the new grades (and refusing when the old grade
moved), the lock before and after the grade-check day, and a proxy signing for the absent
registry head."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from persistence.tables import GradeCorrection, GradeRecord
from tests.records_support import GRADE_HEADER, add_staff, audit_rows, course_code, excel, records, student_no
from tests.world import IN_UPLOAD, World
from workflows.school import calendar
from workflows.records import grade_corrections as gc
from workflows.people import proxies
from workflows.people.actors import staff_actor
from workflows.core.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, RuleViolation
from workflows.records.grade_corrections import LineInput
from workflows.records import grades
from workflows.records.engine import RowsRejected

# 114 學年度第 1 學期: 成績複查 2026-02-01 .. 02-10 (Taipei); grades lock from 02-11 00:00 Taipei.
BEFORE_LOCK = datetime(2026, 2, 10, 15, 0, tzinfo=timezone.utc)  # 02-10 23:00 Taipei
AFTER_LOCK = datetime(2026, 2, 10, 16, 0, tzinfo=timezone.utc)   # 02-11 00:00 Taipei
PATH = [("sign_teacher", "drafted", "teacher_signed"), ("sign_clerk", "teacher_signed", "clerk_signed"),
        ("sign_registry_head", "clerk_signed", "registry_head_signed"),
        ("sign_director", "registry_head_signed", "director_signed"),
        ("sign_principal", "director_signed", "principal_signed"), ("enter_grades", "principal_signed", "entered")]
WHO = {"sign_teacher": "teacher", "sign_clerk": "clerk", "sign_registry_head": "head", "sign_director": "director",
       "sign_principal": "principal", "enter_grades": "officer"}


@pytest.fixture
def world(db, files):
    w = World(db, files)
    with w.uow() as uow:
        calendar.define_window(uow, staff_actor(uow, w.staff_id), "grade_check", 114, 1, date(2026, 2, 1),
                               date(2026, 2, 10), now=IN_UPLOAD)
        uow.commit()
    return w


@pytest.fixture
def people(world):
    """One signer per step; 王老師 (world.teacher) teaches 國語文."""
    ids = {"clerk": add_staff(world, "S030", "張承辦", "registry"),
           "head": add_staff(world, "S031", "林組長", "registry_head"),
           "director": add_staff(world, "S032", "吳主任", "executive_secretary"),
           "principal": add_staff(world, "S033", "蔡校長", "principal"),
           "officer": add_staff(world, "S034", "周登錄", "grade_officer"),
           "stand_in": add_staff(world, "T050", "許代理", "subject_teacher")}
    actors = {key: world.staff(staff_id) for key, staff_id in ids.items()}
    actors["teacher"] = world.teacher
    actors["ids"] = ids
    return actors


def enter_grade(world, n=0, score=55, **changes):
    values = {"academic_year": 114, "semester": 1, "record_kind": "semester", "course_code": course_code(world),
              "subject": "國語文", "grade_level": 1, "credits": 4, "score": score, "passed": score >= 60,
              "credit_counted": score >= 60, **changes}
    return world.run(grades.enter_grade, world.staff(), student_id=world.student_ids[n], now=IN_UPLOAD, **values)


def draft(world, actor, lines=None, **changes):
    values = {"academic_year": 114, "semester": 1, "subject": "國語文", "course_code": course_code(world),
              "teacher_id": world.teacher_id, "kind": "exam", "exam_no": 2, "reason": "entry_error",
              "explanation": "第二次段考成績登載錯誤，試卷實得 68 分。", **changes}
    return world.run(gc.draft, actor, lines=lines or [LineInput(student_no(world, 0), "68")], now=AFTER_LOCK,
                     **values)


def current(world, request_id) -> GradeCorrection:
    with world.uow() as uow:
        return uow.get(GradeCorrection, request_id)


def sign(world, actor, request_id, now=AFTER_LOCK):
    return world.run(gc.sign, actor, request_id, expected_version=current(world, request_id).version, now=now)


def walk_to(world, people, request_id, state):
    for event, source, _ in PATH:
        if source == state:
            return
        sign(world, people[WHO[event]], request_id)


def test_the_request_walks_the_path_edge_by_edge_and_enter_applies_the_new_grade(world, people):
    record = enter_grade(world, score=55)
    request = draft(world, people["teacher"])
    assert request.state == "drafted"
    [line] = world.run(gc.detail, people["teacher"], request.id, now=AFTER_LOCK).lines
    assert (line.line.old_grade, line.line.new_grade, line.line.grade_record_id) == (55, 68, record.id)

    for event, source, target in PATH:
        others = [who for key, who in people.items() if key not in ("ids", WHO[event], "stand_in")]
        for wrong in others + [people["stand_in"], world.student(0)]:
            with pytest.raises(Forbidden):
                sign(world, wrong, request.id)
        assert current(world, request.id).state == source
        done = sign(world, people[WHO[event]], request.id)
        assert done.state == target

    rows = audit_rows(world, "grade_correction", request.id)
    assert [(r.event, r.from_state, r.to_state) for r in rows] == [
        ("draft", None, "drafted"), *((event, source, target) for event, source, target in PATH)]
    assert [r.actor_name for r in rows[1:]] == ["王老師", "張承辦", "林組長", "吳主任", "蔡校長", "周登錄"]

    [stored] = records(world, GradeRecord)
    assert (stored.score, stored.passed, stored.credit_counted) == (68, True, True)
    applied = audit_rows(world, "grade_record", record.id)[-1]
    assert (applied.event, applied.actor_name) == ("correct_by_request", "周登錄")
    assert f"成績更正申請第 {request.id} 號" in applied.reason and "學期成績：55 → 68" in applied.reason

    with pytest.raises(InvalidTransition):
        sign(world, people["officer"], request.id)
    detail = world.run(gc.detail, people["director"], request.id, now=AFTER_LOCK)
    assert [s.name for s in detail.signatures] == ["王老師", "張承辦", "林組長", "吳主任", "蔡校長", "周登錄"]


@pytest.mark.parametrize("state", ["teacher_signed", "clerk_signed", "registry_head_signed", "director_signed",
                                   "principal_signed"])
def test_send_back_from_every_signed_state_needs_a_reason_and_returns_the_draft(world, people, state):
    enter_grade(world)
    request = draft(world, people["teacher"])
    walk_to(world, people, request.id, state)
    awaiting = WHO[gc.NEXT[state]]
    version = current(world, request.id).version
    with pytest.raises(InvalidInput) as no_reason:
        world.run(gc.send_back, people[awaiting], request.id, expected_version=version, reason="  ", now=AFTER_LOCK)
    assert no_reason.value.field == "reason"
    with pytest.raises(Forbidden):
        world.run(gc.send_back, people["stand_in"], request.id, expected_version=version, reason="不對",
                  now=AFTER_LOCK)
    assert current(world, request.id).state == state

    world.run(gc.send_back, people[awaiting], request.id, expected_version=version, reason="原成績請再確認",
              now=AFTER_LOCK)
    assert current(world, request.id).state == "drafted"
    last = audit_rows(world, "grade_correction", request.id)[-1]
    assert (last.event, last.from_state, last.to_state, last.reason) == ("send_back", state, "drafted",
                                                                         "原成績請再確認")
    assert [s.name for s in world.run(gc.detail, people["teacher"], request.id, now=AFTER_LOCK).signatures] \
        == [None] * 6
    assert records(world, GradeRecord)[0].score == 55


def test_a_draft_cannot_be_sent_back_and_a_stale_page_is_refused(world, people):
    enter_grade(world)
    request = draft(world, people["teacher"])
    with pytest.raises(InvalidTransition):
        world.run(gc.send_back, people["clerk"], request.id, expected_version=1, reason="x", now=AFTER_LOCK)
    sign(world, people["teacher"], request.id)
    with pytest.raises(Conflict):
        world.run(gc.sign, people["clerk"], request.id, expected_version=1, now=AFTER_LOCK)
    assert current(world, request.id).state == "teacher_signed"


def test_enter_refuses_when_the_old_grade_no_longer_matches_and_changes_nothing(world, people):
    record = enter_grade(world, score=55)
    enter_grade(world, n=1, score=70)
    request = draft(world, people["teacher"], lines=[LineInput(student_no(world, 0), "68"),
                                                     LineInput(student_no(world, 1), "75", "70")])
    walk_to(world, people, request.id, "principal_signed")
    with world.uow() as uow:  # someone changed the grade before the lock's correction was entered
        row = uow.get(GradeRecord, record.id)
        row.score = 58
        uow.commit()
    with pytest.raises(RuleViolation) as moved:
        sign(world, people["officer"], request.id)
    assert moved.value.rule == "old_grade_matches"
    assert "學生0" in moved.value.message and "58" in moved.value.message
    assert current(world, request.id).state == "principal_signed"
    assert sorted(r.score for r in records(world, GradeRecord)) == [58, 70]


def test_the_draft_refuses_an_old_grade_that_differs_from_the_stored_one_and_needs_an_explanation(world, people):
    enter_grade(world, score=55)
    with pytest.raises(RuleViolation) as wrong_old:
        draft(world, people["teacher"], lines=[LineInput(student_no(world, 0), "68", "50")])
    assert wrong_old.value.rule == "old_grade_matches"
    with pytest.raises(InvalidInput) as no_explanation:
        draft(world, people["teacher"], explanation=" ")
    assert no_explanation.value.field == "explanation"
    with pytest.raises(Forbidden):
        draft(world, people["director"])
    with pytest.raises(Forbidden):
        draft(world, world.student(0))


def test_a_proxy_signs_for_the_absent_registry_head_audited_on_behalf(world, people):
    enter_grade(world)
    request = draft(world, people["clerk"])  # the registry drafts for the teacher
    walk_to(world, people, request.id, "clerk_signed")
    head, stand_in = people["ids"]["head"], people["ids"]["stand_in"]
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=head, proxy_staff_ids=[stand_in],
              now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        sign(world, people["stand_in"], request.id)  # the head is there: no proxy
    world.run(proxies.mark_unavailable, world.staff(), head, starts_on=date(2026, 2, 1), ends_on=None,
              reason="leave", note_text="公假", now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        sign(world, people["head"], request.id)  # away: his proxy signs
    assert sign(world, people["stand_in"], request.id).state == "registry_head_signed"
    signed = audit_rows(world, "grade_correction", request.id)[-1]
    assert (signed.event, signed.actor_name, signed.on_behalf_name) == ("sign_registry_head", "許代理", "林組長")


def test_grades_lock_after_the_grade_check_day_and_not_before(world, people):
    registry = world.staff()
    record = enter_grade(world, score=55)
    world.run(grades.correct_grade, registry, record.id, expected_version=1, score=56, passed="否",
              now=BEFORE_LOCK)
    with pytest.raises(RuleViolation) as locked:
        world.run(grades.correct_grade, registry, record.id, expected_version=2, score=57, now=AFTER_LOCK)
    assert locked.value.rule == "grades_locked"
    assert "115/02/10" in locked.value.message and "成績更正申請" in locked.value.message
    with pytest.raises(RuleViolation) as no_delete:
        world.run(grades.delete_grade, registry, record.id, expected_version=2, reason="誤植", now=AFTER_LOCK)
    assert no_delete.value.rule == "grades_locked"
    values = {"academic_year": 114, "semester": 1, "record_kind": "semester", "course_code": course_code(world, "02"),
              "subject": "數學", "grade_level": 1, "credits": 4, "score": 80, "passed": True, "credit_counted": True}
    with pytest.raises(RuleViolation) as no_entry:
        world.run(grades.enter_grade, registry, student_id=world.student_ids[1], now=AFTER_LOCK, **values)
    assert no_entry.value.rule == "grades_locked"
    csv = excel(GRADE_HEADER, f"{student_no(world, 1)},114,1,學期,{course_code(world, '02')},數學,1,4,80,是,,是")
    with pytest.raises(RowsRejected) as no_import:
        world.run(grades.import_grades_csv, registry, csv, now=AFTER_LOCK)
    assert "成績檢核日" in no_import.value.errors[0].message
    [kept] = records(world, GradeRecord)
    assert (kept.score, kept.version) == (56, 2)
    # Semester 2 has no grade-check day yet: its grades stay open.
    world.run(grades.enter_grade, registry, student_id=world.student_ids[1], now=AFTER_LOCK,
              **(values | {"semester": 2}))
    # Before the day, the import goes through.
    assert world.run(grades.import_grades_csv, registry, csv, now=BEFORE_LOCK).added == 1


def test_the_absent_teachers_proxy_signs_for_him_and_the_teacher_himself_cannot(world, people):
    enter_grade(world)
    request = draft(world, people["clerk"])
    stand_in = people["ids"]["stand_in"]
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=world.teacher_id, proxy_staff_ids=[stand_in],
              now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        sign(world, people["stand_in"], request.id)
    world.run(proxies.mark_unavailable, world.staff(), world.teacher_id, starts_on=date(2026, 2, 1), ends_on=None,
              reason="leave", note_text="產假", now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        sign(world, people["teacher"], request.id)
    sign(world, people["stand_in"], request.id)
    signed = audit_rows(world, "grade_correction", request.id)[-1]
    assert (signed.event, signed.actor_name, signed.on_behalf_name) == ("sign_teacher", "許代理", "王老師")
