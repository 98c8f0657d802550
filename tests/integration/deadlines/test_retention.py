"""Retention: departed students' data is purged after the policy's years — files and rows — with
a tombstone in the audit log; open business holds it; a file another row still names stays."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, update

from persistence.tables import (AuditEntry, Enrolment, FileDeletion, Item, OutboxMessage, Receipt,
                                Student)
from tests import samples
from tests.world import IN_UPLOAD, World
from workflows.deadlines import retention
from workflows.core.clock import end_of_day
from workflows.items.uploads import Upload, upload_course_outcome

LEFT = date(2027, 7, 31)
PURGE = end_of_day(date(2029, 7, 31))  # 新莊: kept 2 years after leaving


def purge(world, now=PURGE) -> int:
    with world.uow() as uow:
        count = retention.purge(uow, now)
    retention.remove_files(world.db, world.files)
    return count


def item_hash(world, item_id) -> str:
    with world.uow() as uow:
        return uow.get(Item, item_id).document_sha256


def count(world, model, *where) -> int:
    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_departed_students_rows_and_files_go_and_a_tombstone_stays(db, files):
    world = World(db, files)
    gone = world.upload(1, data=samples.pdf("離校生的作品"))
    kept = world.upload(0, data=samples.pdf("在校生的作品"))
    sha = item_hash(world, gone)
    world.depart(1, LEFT)
    student_id = world.student_ids[1]

    assert purge(world, PURGE - timedelta(microseconds=1)) == 0
    assert files.exists(sha)
    assert purge(world) == 1

    assert not files.exists(sha) and files.exists(item_hash(world, kept))
    assert count(world, Item, Item.student_id == student_id) == 0
    assert count(world, Enrolment, Enrolment.student_id == student_id) == 0
    assert count(world, Student, Student.id == student_id) == 0
    assert count(world, FileDeletion) == 0
    with world.uow() as uow:
        tombstone = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "purge")).one()
        history = uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.student_id == student_id))
    assert (tombstone.subject_kind, tombstone.subject_id, tombstone.at) == ("student", student_id, PURGE)
    assert "保存 2 年" in tombstone.reason and "課程學習成果 1 件" in tombstone.reason
    assert "學號 3010001" in tombstone.reason and "學生1" not in tombstone.reason
    assert history >= 2  # the upload's audit row and the tombstone: history is never rewritten
    assert purge(world, PURGE + timedelta(days=1)) == 0  # nothing left to do


def test_a_file_someone_else_still_has_is_kept(db, files):
    world, elsewhere = World(db, files), World(db, files, code="013302")
    same = samples.pdf("同一份檔案")
    world.upload(1, data=same)
    world.upload(2, data=same)          # a classmate uploaded the same bytes
    elsewhere.upload(0, data=same)      # and so did a student of another school
    lone = world.upload(1, data=samples.pdf("只有他有"), title="另一件")
    sha, lone_sha = item_hash(world, world.upload(0, data=same)), item_hash(world, lone)
    world.depart(1, LEFT)

    purge(world)

    assert files.exists(sha) and not files.exists(lone_sha)
    assert count(world, FileDeletion) == 0


def test_open_business_holds_the_purge_until_it_closes(db, files):
    world = World(db, files)
    receipt_of = world.to_receipts((1,))
    world.depart(1, LEFT)
    assert purge(world) == 0  # the receipt is still waiting for the student
    with world.uow() as uow:
        uow.session.execute(update(Receipt).where(Receipt.id == receipt_of[1]).values(state="disputed"))
        uow.session.execute(update(Item).where(Item.receipt_id == receipt_of[1]).values(state="disputed"))
        uow.session.commit()
    assert purge(world) == 0  # a dispute not yet resolved
    with world.uow() as uow:
        uow.session.execute(update(Item).where(Item.receipt_id == receipt_of[1]).values(state="resolved"))
        uow.session.commit()
    assert purge(world) == 1
    assert count(world, Receipt) == 0


def test_queued_messages_to_the_student_go_with_the_student(db, files):
    world = World(db, files)
    world.upload(1)
    with world.uow() as uow:
        from workflows.deadlines.reminders import run
        run(uow, datetime(2026, 1, 28, tzinfo=timezone.utc))
    assert count(world, OutboxMessage, OutboxMessage.recipient_id == world.student_ids[1]) == 1
    world.depart(1, LEFT)
    purge(world)
    assert count(world, OutboxMessage, OutboxMessage.recipient_id == world.student_ids[1]) == 0


def test_files_wait_in_the_queue_until_removed_and_a_new_upload_of_the_same_bytes_saves_them(db, files):
    world = World(db, files)
    data = samples.pdf("先刪後傳")
    gone = world.upload(1, data=data)
    sha = item_hash(world, gone)
    world.depart(1, LEFT)
    with world.uow() as uow:  # the purge commits; the process dies before removing files
        assert retention.purge(uow, PURGE) == 1
    assert files.exists(sha) and count(world, FileDeletion) == 1

    world.upload(0, data=data)  # meanwhile a classmate uploads the very same bytes
    assert retention.remove_files(db, files) == 0
    assert files.exists(sha) and count(world, FileDeletion) == 0


def test_file_removal_waits_for_an_upload_that_is_storing_the_same_bytes(db, files):
    """The race the file-store lock closes: the upload found the file already stored, so it wrote
    nothing; removal must not delete it before the upload's row is committed."""
    world = World(db, files)
    data = samples.pdf("同時")
    sha = item_hash(world, world.upload(1, data=data))
    world.depart(1, LEFT)
    with world.uow() as uow:
        retention.purge(uow, PURGE)
    stored, removed = threading.Event(), []
    actor = world.student(0)

    def upload_slowly():
        with world.uow() as uow:
            real_put = uow.files.put

            def put_then_pause(stream, *, max_bytes):
                result = real_put(stream, max_bytes=max_bytes)
                stored.set()
                threading.Event().wait(0.5)  # removal runs now, and must wait for this commit
                return result
            uow.files.put = put_then_pause
            upload_course_outcome(uow, actor, student_id=world.student_ids[0], course_id=world.course_id,
                                  title="同時", document=Upload.of(data, "a.pdf"), now=IN_UPLOAD)

    uploader = threading.Thread(target=upload_slowly)
    uploader.start()
    assert stored.wait(10)
    removed.append(retention.remove_files(db, files))
    uploader.join()
    assert removed == [0] and files.exists(sha) and files.verify(sha)


def test_every_row_that_points_at_the_student_goes_with_him_and_his_consultation_file_too(db, files):
    """Staff-entered records, batch entries, the sign-in account and the guardian link all point at
    the student: the purge takes them all (else the foreign keys would stop it), counts the
    records on the tombstone, and queues the consultation file like the items' files."""
    from datetime import datetime as moment

    from persistence.tables import (Account, BatchEntry, CadreRecord, ConsultationRecord,
                                    ExplorationRecord, GradeRecord, GuardianLink)
    from workflows.people import accounts
    from workflows.core.actors import platform_admin
    from workflows.records.consultation import enter_consultation

    world = World(db, files)
    with world.uow() as uow:
        consultant = world._staff(uow.session, "T090", "諮詢老師", ["course_consultant"])
        uow.commit()
    sid = world.student_ids[1]
    note = samples.pdf("諮詢紀錄附件")
    with world.uow() as uow:
        admin = platform_admin()
        accounts.create_account(uow, admin, username="stu1.purge", password="correct horse battery",
                                kind="student", student_id=sid)
        accounts.create_account(uow, admin, username="parent1.purge", password="correct horse battery",
                                kind="guardian", name="家長", guardian_of=[sid])
        uow.commit()
    world.run(enter_consultation, world.staff(consultant), student_id=sid,
              held_at=moment(2025, 10, 20, 6, 0, tzinfo=timezone.utc), place="輔導室",
              content="選課討論", advice="多修數學", file=Upload.of(note, "紀錄.pdf"), now=IN_UPLOAD)
    with world.uow() as uow:
        s = uow.session
        stamp = dict(school_id=world.school_id, student_id=sid, created_at=IN_UPLOAD, updated_at=IN_UPLOAD)
        s.add(CadreRecord(academic_year=114, semester=1, level="class", unit="101 班", position="班長",
                          starts_on=date(2025, 9, 1), **stamp))
        s.add(GradeRecord(academic_year=114, semester=1, record_kind="semester", course_code="X" * 23,
                          subject="國語文", grade_level=1, credits=4, score=88, passed=True,
                          credit_counted=True, **stamp))
        s.add(ExplorationRecord(academic_year=114, semester=1, held_on=date(2025, 10, 1),
                                career_group="information", activity="學群講座", **stamp))
        uow.commit()
    from workflows.central import batches
    world.run(batches.create_batch, world.staff(), "semester_basic_cadre", 114, 1, now=IN_UPLOAD)
    sha = __import__("hashlib").sha256(note).hexdigest()
    world.depart(1, LEFT)

    assert purge(world) == 1
    for model in (Account, GuardianLink, BatchEntry, CadreRecord, GradeRecord, ConsultationRecord,
                  ExplorationRecord):
        assert count(world, model, model.student_id == sid) == 0, model.__name__
    assert count(world, Student, Student.id == sid) == 0
    assert not files.exists(sha)
    with world.uow() as uow:
        tombstone = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "purge")).one()
    assert "幹部紀錄 1 筆" in tombstone.reason and "課程諮詢紀錄 1 筆" in tombstone.reason
