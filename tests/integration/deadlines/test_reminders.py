"""Reminders before deadlines: who gets one, what it says, and that it goes once per person,
kind and deadline — again when the deadline moves, never twice for one."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select, update

from persistence.tables import Course, OutboxMessage, SchoolClass, Staff, StaffRole
from tests.world import (IN_SELECTION, IN_UPLOAD, RECEIPT_LAST_DAY, UPLOAD_LAST_DAY, YEAR, World)
from workflows.school import calendar
from workflows.items import certification, selection
from workflows.central import receipts
from workflows.deadlines import reminders
from workflows.core.clock import end_of_day, start_of_day

DRAFTS_DUE = start_of_day(UPLOAD_LAST_DAY - timedelta(days=7)) + timedelta(hours=8)
CERTIFICATION_DUE = datetime(2026, 2, 3, 0, 0, tzinfo=timezone.utc)  # 08:00, 3 days before 02-06
SELECTION_DUE = start_of_day(date(2026, 9, 6)) + timedelta(hours=8)
RECEIPT_DUE = start_of_day(RECEIPT_LAST_DAY - timedelta(days=3)) + timedelta(hours=8)


def remind(world, now) -> int:
    with world.uow() as uow:
        return reminders.run(uow, now)


def sent(world, kind) -> dict[str, OutboxMessage]:
    """{recipient name: message} of one kind."""
    with world.uow() as uow:
        return {m.recipient_name: m for m in uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))}


def test_students_with_drafts_or_rejections_not_resubmitted_are_reminded(db, files):
    world = World(db, files, students=4)
    world.upload(0, title="小論文")
    rejected = world.upload(1, title="實驗報告")
    world.run(certification.submit, world.student(1), rejected, now=IN_UPLOAD)
    world.run(certification.reject, world.teacher, rejected, reason="缺少數據", now=IN_UPLOAD)
    submitted = world.upload(2)
    world.run(certification.submit, world.student(2), submitted, now=IN_UPLOAD)
    world.upload(3)
    world.set_student(3, status="transferred_out", departed_on=date(2025, 12, 31))

    assert remind(world, DRAFTS_DUE - timedelta(seconds=1)) == 0
    assert remind(world, DRAFTS_DUE) == 2

    messages = sent(world, "remind_drafts")
    assert set(messages) == {"學生0", "學生1"}  # not the one waiting for the teacher, not the one who left
    assert "草稿尚未送出認證：1 件（小論文）" in messages["學生0"].body
    assert "認證失敗尚未重新送出：1 件（實驗報告）" in messages["學生1"].body
    assert "115/02/03 23:59" in messages["學生0"].subject
    assert messages["學生0"].email == world_email(world, 0) and messages["學生0"].status == "pending"
    assert messages["學生0"].due_at == end_of_day(UPLOAD_LAST_DAY)


def world_email(world, n) -> str:
    return f"s{n}.{world.code}@student.example.edu.tw"


def test_a_reminder_goes_once_per_person_and_deadline_and_again_when_the_deadline_moves(db, files):
    world = World(db, files)
    world.upload(0)
    assert remind(world, DRAFTS_DUE) == 1
    assert remind(world, DRAFTS_DUE + timedelta(days=1)) == 0  # same person, same deadline
    world.upload(1, now=DRAFTS_DUE + timedelta(days=2))  # falls behind after the first run
    assert remind(world, DRAFTS_DUE + timedelta(days=2)) == 1
    assert set(sent(world, "remind_drafts")) == {"學生0", "學生1"}

    staff = world.staff()
    with world.uow() as uow:  # the school gives one more week
        calendar.define_outcome_windows(uow, staff, YEAR, 1, date(2025, 9, 30),
                                        UPLOAD_LAST_DAY + timedelta(days=7), now=DRAFTS_DUE)
        uow.commit()
    assert remind(world, DRAFTS_DUE + timedelta(days=3)) == 0  # not yet: 7 days before the new end
    assert remind(world, DRAFTS_DUE + timedelta(days=7)) == 2
    with world.uow() as uow:
        deadlines = sorted({m.due_at for m in uow.session.scalars(select(OutboxMessage))})
    assert deadlines == [end_of_day(UPLOAD_LAST_DAY), end_of_day(UPLOAD_LAST_DAY + timedelta(days=7))]


def test_no_reminder_before_the_window_opens_or_after_it_closes(db, files):
    world = World(db, files)
    world.upload(0)
    assert remind(world, end_of_day(UPLOAD_LAST_DAY)) == 0
    assert remind(world, start_of_day(date(2025, 9, 29))) == 0
    assert not sent(world, "remind_drafts")


def test_a_person_without_email_is_listed_not_mailed(db, files):
    world = World(db, files)
    world.upload(0)
    world.set_student(0, email=None)
    remind(world, DRAFTS_DUE)
    assert sent(world, "remind_drafts")["學生0"].status == "no_address"


def test_teachers_are_reminded_of_the_items_waiting_in_their_own_courses(db, files):
    world = World(db, files)
    own = world.upload(0, course_id=world.course_id)
    other = world.upload(1, course_id=world.course2_id)
    for n, item in ((0, own), (1, other)):
        world.run(certification.submit, world.student(n), item, now=IN_UPLOAD)
    assert remind(world, CERTIFICATION_DUE - timedelta(seconds=1)) == 0
    assert remind(world, CERTIFICATION_DUE) == 2
    messages = sent(world, "remind_certification")
    assert set(messages) == {"王老師", "李老師"}
    assert "國語文（" in messages["王老師"].body and "：1 件" in messages["王老師"].body
    assert "數學" not in messages["王老師"].body and "數學" in messages["李老師"].body


def test_a_proxy_is_reminded_of_the_items_he_certifies_for_an_absent_teacher(db, files):
    world = World(db, files)
    item = world.upload(1, course_id=world.course2_id)
    world.run(certification.submit, world.student(1), item, now=IN_UPLOAD)
    # 李老師 can no longer certify; his multi-elective course goes to the teaching section (新莊 §五(四)2).
    proxy_id = add_staff(world, "S009", "林組長", "teaching_section")
    leave(world, world.other_teacher_id, world.course2_id, route="external_multi_elective")

    remind(world, CERTIFICATION_DUE)

    messages = sent(world, "remind_certification")
    assert set(messages) == {"林組長"}
    assert messages["林組長"].recipient_id == proxy_id
    assert "數學" in messages["林組長"].body and "代理李老師" in messages["林組長"].body


def add_staff(world, no, name, role) -> int:
    with world.uow() as uow:
        staff = Staff(school_id=world.school_id, staff_no=no, name=name, email=f"{no}@example.edu.tw")
        uow.session.add(staff)
        uow.session.flush()
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=staff.id, role=role))
        uow.session.commit()
        return staff.id


def leave(world, staff_id, course_id, *, route) -> None:
    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == staff_id).values(active=False))
        uow.session.execute(update(Course).where(Course.id == course_id).values(route=route))
        uow.session.commit()


def certified(world, n) -> int:
    item = world.upload(n)
    world.run(certification.submit, world.student(n), item, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item, now=IN_UPLOAD)
    return item


def test_students_who_have_not_selected_and_their_homeroom_teacher_are_reminded(db, files):
    world = World(db, files)
    certified(world, 0)
    chosen = certified(world, 1)
    world.run(selection.select, world.student(1), chosen, now=IN_SELECTION)
    world.upload_performance(1)  # selected an outcome but no performance of the two kinds

    assert remind(world, SELECTION_DUE) == 3
    students = sent(world, "remind_selection")
    assert set(students) == {"學生0", "學生1"}
    assert "課程學習成果：可勾選 1 件，尚未勾選（每學年至多 6 件）" in students["學生0"].body
    assert "- 多元表現：可勾選 1 件" in students["學生1"].body
    assert "- 課程學習成果" not in students["學生1"].body  # one outcome is selected already
    (homeroom,) = sent(world, "remind_selection_class").values()
    assert homeroom.recipient_id == world.teacher_id and "共 2 人" in homeroom.body
    assert "- 101 3010000 學生0：課程學習成果可勾選 1 件" in homeroom.body
    assert "- 101 3010001 學生1：多元表現可勾選 1 件" in homeroom.body


def test_receipts_not_answered_remind_students_and_homeroom_teachers(db, files):
    world = World(db, files)
    receipt_of = world.to_receipts((0, 1, 2))
    world.run(receipts.confirm, world.student(0), receipt_of[0], now=RECEIPT_DUE - timedelta(days=1))
    world.depart(2)

    assert remind(world, RECEIPT_DUE) == 3
    students = sent(world, "remind_receipt")
    assert set(students) == {"學生1", "學生2"}  # those who left still get mail if they have an address
    assert "視為確認" in students["學生1"].body and "115/10/18 23:59" in students["學生1"].body
    (homeroom,) = sent(world, "remind_receipt_class").values()
    assert "學生1" in homeroom.body and "學生2" not in homeroom.body and "學生0" not in homeroom.body


def test_the_homeroom_list_goes_to_this_years_homeroom_teacher(db, files):
    world = World(db, files)
    certified(world, 0)
    new_homeroom = add_staff(world, "T050", "周老師", "homeroom_teacher")
    with world.uow() as uow:  # the class moved up a year and got a new homeroom teacher
        uow.session.add(SchoolClass(school_id=world.school_id, academic_year=YEAR + 1, name="101",
                                    homeroom_staff_id=new_homeroom))
        uow.session.commit()
    remind(world, SELECTION_DUE)  # 115 學年度 has begun (2026-09)
    (homeroom,) = sent(world, "remind_selection_class").values()
    assert homeroom.recipient_id == new_homeroom
