"""Receipts of the semester batches (基本資料及幹部紀錄, 修課紀錄): the receipt file names each
student of the batch once with the category; students confirm, dispute or are deemed to have
confirmed; a dispute goes to the office of the category, which settles it by answering or by
marking it for a resubmission batch that carries the student; bad files change nothing."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from persistence.tables import (AuditEntry, BatchEntry, CadreRecord, GradeRecord, Receipt, Student,
                                SubmissionBatch)
from tests.records_support import add_staff
from tests.world import AFTER_SELECTION, IN_RECEIPT, RECEIPT_LAST_DAY, YEAR, World
from workflows.central import batches, disputes, receipts
from workflows.deadlines import sweeps
from workflows.core.clock import end_of_day
from workflows.core.errors import Conflict, Forbidden
from workflows.central.receipt_import import ReceiptImportRejected, close_finished_batches, import_receipts

HEADER = ("身分證號", "類別", "項目編號", "檔案雜湊")
RECEIPT_END = end_of_day(RECEIPT_LAST_DAY)


@pytest.fixture
def world(db, files):
    return World(db, files)


def add_cadre(world, n, *, position="班長", semester=1):
    with world.uow() as uow:  # setup: as the activities section's workflow stores it
        uow.session.add(CadreRecord(school_id=world.school_id, student_id=world.student_ids[n], academic_year=YEAR,
                                    semester=semester, level="class", unit="101 班", position=position,
                                    starts_on=date(2025, 8, 1), ends_on=None, created_at=AFTER_SELECTION,
                                    updated_at=AFTER_SELECTION))
        uow.commit()


def add_grade(world, n, *, subject="國語文", serial="01", score=80, passed=True):
    with world.uow() as uow:  # setup: as the registry's workflow stores it
        uow.session.add(GradeRecord(school_id=world.school_id, student_id=world.student_ids[n], academic_year=YEAR,
                                    semester=1, record_kind="semester",
                                    course_code=f"{YEAR - 2}{world.code}H00100A1ML01{serial}", subject=subject,
                                    grade_level=1, credits=4, score=score, passed=passed, makeup_score=None,
                                    credit_counted=True, created_at=AFTER_SELECTION, updated_at=AFTER_SELECTION))
        uow.commit()


def submitted(world, tmp_path, kind="semester_basic_cadre", *, resubmission_of=None) -> int:
    staff = world.staff()
    with world.uow() as uow:
        if resubmission_of is None:
            batch_id = batches.create_batch(uow, staff, kind, YEAR, 1, now=AFTER_SELECTION).id
        else:
            batch_id = batches.create_resubmission_batch(uow, staff, resubmission_of, now=AFTER_SELECTION).id
    world.run(batches.export_batch, staff, batch_id, tmp_path / f"out{batch_id}", now=AFTER_SELECTION)
    world.run(batches.submit_batch, staff, batch_id, now=AFTER_SELECTION)
    return batch_id


def national_id(world, n) -> str:
    with world.uow() as uow:
        return uow.get(Student, world.student_ids[n]).national_id


def csv_file(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def rows_for(world, students=(0, 1, 2), category="基本資料"):
    return [(national_id(world, n), category, "", "") for n in students]


def run_import(world, batch_id, data):
    staff = world.staff()
    with world.uow() as uow:
        return import_receipts(uow, staff, batch_id, data, "receipts.csv",
                               confirmation_window_id=world.receipt_window_id, now=AFTER_SELECTION)


def receipt_of(world, n, batch_id) -> Receipt:
    with world.uow() as uow:
        return uow.session.scalars(uow.select(Receipt).where(
            Receipt.student_id == world.student_ids[n], Receipt.batch_id == batch_id)).one()


def snapshot(world, batch_id) -> tuple:
    with world.uow() as uow:
        batch = uow.get(SubmissionBatch, batch_id)
        return (batch.state, batch.confirmation_window_id,
                uow.session.scalar(select(func.count()).select_from(Receipt)),
                uow.session.scalar(select(func.count()).select_from(AuditEntry)))


def test_a_basic_data_batch_gets_receipts_that_are_confirmed_disputed_or_deemed(world, tmp_path):
    add_cadre(world, 0)
    batch_id = submitted(world, tmp_path)
    result = run_import(world, batch_id, csv_file(rows_for(world, category="幹部經歷")))
    assert (result.receipts, result.items) == (3, 0)
    assert snapshot(world, batch_id)[0] == "confirmation_open"
    assert receipt_of(world, 0, batch_id).category == "basic_cadre"

    world.run(receipts.confirm, world.student(0), receipt_of(world, 0, batch_id).id, now=IN_RECEIPT)
    world.run(receipts.dispute, world.student(1), receipt_of(world, 1, batch_id).id,
              reason="班級填錯了，應為 102", now=IN_RECEIPT)
    with world.uow() as uow:
        assert sweeps.run_all(uow, RECEIPT_END).changed["deem_confirmed"] == 1
        uow.commit()
    assert [receipt_of(world, n, batch_id).state for n in (0, 1, 2)] == ["confirmed", "disputed", "deemed_confirmed"]
    assert world.run(close_finished_batches, RECEIPT_END) == 1


def test_a_basic_data_dispute_goes_to_the_registry_and_the_activities_section(world, tmp_path):
    registry = world.staff(add_staff(world, "S012", "黃組長", "registry"))
    activities = world.staff(add_staff(world, "S011", "張組長", "student_activities"))
    equipment = world.staff(add_staff(world, "S010", "林組長", "equipment_section"))
    batch_id = submitted(world, tmp_path)
    run_import(world, batch_id, csv_file(rows_for(world)))
    receipt_id = receipt_of(world, 1, batch_id).id
    world.run(receipts.dispute, world.student(1), receipt_id, reason="少了社長的幹部紀錄", now=IN_RECEIPT)

    later = IN_RECEIPT + timedelta(days=2, hours=3)
    for office in (registry, activities):
        rows = world.run(disputes.dispute_queue, office, now=later)
        assert [(r.receipt_id, r.item_id, r.reason, r.age_text) for r in rows] == [
            (receipt_id, None, "少了社長的幹部紀錄", "2 日 3 小時")]
        assert rows[0].office_label == "註冊組、訓育組"
    assert world.run(disputes.dispute_queue, equipment, now=later) == []
    with pytest.raises(Forbidden, match="註冊組或訓育組"):
        world.run(disputes.resolve_receipt, equipment, receipt_id, kind="answered", reason="資料無誤", now=later)

    world.run(disputes.resolve_receipt, activities, receipt_id, kind="answered",
              reason="經查該學期未擔任社長", now=later)
    assert world.run(disputes.dispute_queue, registry, now=later) == []
    with pytest.raises(Conflict, match="已經處理過"):
        world.run(disputes.resolve_receipt, registry, receipt_id, kind="resubmit", reason="再改", now=later)
    with world.uow() as uow:
        resolution = disputes.receipt_resolutions(uow, [receipt_id])[receipt_id]
    assert resolution[:2] == ("answered", "經查該學期未擔任社長")


def test_a_course_dispute_goes_to_the_registry_and_a_resubmission_batch_carries_the_student(world, tmp_path):
    registry = world.staff(add_staff(world, "S012", "黃組長", "registry"))
    activities = world.staff(add_staff(world, "S011", "張組長", "student_activities"))
    for n in (0, 1):
        add_grade(world, n)
    batch_id = submitted(world, tmp_path, "semester_courses")
    run_import(world, batch_id, csv_file(rows_for(world, (0, 1), "修課紀錄")))
    receipt_id = receipt_of(world, 0, batch_id).id
    world.run(receipts.dispute, world.student(0), receipt_id, reason="國語文成績應為 85", now=IN_RECEIPT)

    assert world.run(disputes.dispute_queue, activities, now=IN_RECEIPT) == []
    [row] = world.run(disputes.dispute_queue, registry, now=IN_RECEIPT)
    assert (row.receipt_id, row.kind_label, row.office_label) == (receipt_id, "修課紀錄", "註冊組")
    world.run(disputes.resolve_receipt, registry, receipt_id, kind="resubmit",
              reason="已更正成績，於下一批次重新提交", now=IN_RECEIPT)

    again = submitted(world, tmp_path, resubmission_of=batch_id)
    with world.uow() as uow:
        members = set(uow.session.scalars(select(BatchEntry.student_id).where(BatchEntry.batch_id == again)))
        assert uow.get(SubmissionBatch, again).resubmission_of_id == batch_id
    assert members == {world.student_ids[0]}
    with pytest.raises(Exception, match="沒有處理結果為「更正後重新提交」"):  # carried once
        world.run(batches.create_resubmission_batch, world.staff(), batch_id, now=AFTER_SELECTION)
    run_import(world, again, csv_file(rows_for(world, (0,), "41")))
    assert receipt_of(world, 0, again).state == "issued"


@pytest.mark.parametrize("rows, message", [
    (lambda w: [*rows_for(w, (0, 1, 2)), ("A123456789", "基本資料", "", "")],
     "第 5 行「身分證號」：找不到身分證號 A12****789 的學生"),
    (lambda w: [*rows_for(w, (0, 1)), (national_id(w, 2), "修課紀錄", "", "")],
     "第 4 行「類別」：本批次是「基本資料及幹部紀錄」，此列為「修課紀錄」"),
    (lambda w: [*rows_for(w, (0, 1, 2)), (national_id(w, 1), "基本資料", "", "")],
     "第 5 行：與第 3 行重複（同一學生）"),
    (lambda w: rows_for(w, (0, 1)), "批次中學生 3010002 不在收訖明細中"),
    (lambda w: [*rows_for(w, (0, 1)), (national_id(w, 2), "基本資料", "7", "")],
     "項目編號與檔案雜湊請留空"),
])
def test_a_bad_semester_receipt_file_is_refused_with_row_messages_and_changes_nothing(world, tmp_path, rows, message):
    batch_id = submitted(world, tmp_path)
    before = snapshot(world, batch_id)
    with pytest.raises(ReceiptImportRejected) as refused:
        run_import(world, batch_id, csv_file(rows(world)))
    assert any(message in error for error in refused.value.errors), refused.value.errors
    assert snapshot(world, batch_id) == before
