"""A whole year's round trip to the central database (學習歷程中央資料庫), through the real
workflows only: course outcomes uploaded, certified and selected → a year batch created,
exported (the workbook read back cell by cell, the manifest checked against the files), and
confirmed as uploaded → the receipt file (收訖明細) imported → some students confirm, one
disputes, the rest are deemed confirmed by the scheduler → the responsible office settles the
dispute by correcting the item → a resubmission batch exported and submitted (the item goes
back to submitted_central) → its receipt imported and confirmed → the semester batch of basic
data and cadre records (幹部紀錄) exported, read back and confirmed as uploaded. SQL here only
reads, apart from the cadre records, which another office's workflow enters."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from persistence.tables import (AuditEntry, BatchEntry, CadreRecord, Item, Receipt, Student, SubmissionBatch,
                                Window)
from tests.world import AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD, YEAR, World
from workflows.central import batches, disputes, receipt_import, receipts
from workflows.school import calendar
from workflows.items import certification, selection
from workflows.deadlines import run as deadlines
from workflows.core.errors import Forbidden, RuleViolation

STUDENTS = range(5)
CREATED = AFTER_SELECTION
EXPORTED = AFTER_SELECTION + timedelta(hours=1)
SUBMITTED = AFTER_SELECTION + timedelta(hours=2)
IMPORTED = AFTER_SELECTION + timedelta(days=1)  # before the window opens (2026-10-04)
AFTER_WINDOW = datetime(2026, 10, 19, 2, 0, tzinfo=timezone.utc)  # window ended 10-18 24:00 Taipei
RESOLVED = AFTER_WINDOW + timedelta(days=1)
RESUBMITTED = AFTER_WINDOW + timedelta(days=2)
# The second round's confirmation period starts 2026-10-26 (Taipei) and lasts the policy's days
# (新莊 policy: 15; the national minimum is 3).
SECOND_FIRST_DAY = date(2026, 10, 26)
SECOND_IMPORTED = datetime(2026, 10, 23, 2, 0, tzinfo=timezone.utc)
SECOND_CONFIRMED = datetime(2026, 10, 27, 2, 0, tzinfo=timezone.utc)

STUDENT_HEADER = ["身分證號", "出生日期", "班級", "學號", "姓名", "年級", "部別"]
CADRE_HEADER = ["身分證號", "出生日期", "學號", "姓名", "學年度", "學期", "幹部層級", "單位", "職稱", "起始日期",
                "結束日期"]
# Cadre records of semester 1 entered by the activities section: student index → (level, its label
# in the roster, unit, position, first day, last day).
CADRE = {0: ("school", "校級", "學生會", "會長", date(2025, 8, 1), date(2026, 1, 31)),
         3: ("club", "社團", "熱音社", "社長", date(2025, 9, 15), None)}
ITEM_HEADER = ["身分證號", "出生日期", "班級", "學號", "姓名", "項目類別", "課程代碼", "名稱",
               "文件檔名", "文件SHA-256", "影音檔名", "影音SHA-256"]


@pytest.fixture
def world(db, files):
    return World(db, files, students=len(STUDENTS))


def add_staff(world: World, no: str, name: str, roles: list[str]):
    with world.uow() as uow:  # setup: a staff member with exactly these roles
        staff_id = world._staff(uow.session, no, name, roles)
        uow.commit()
    return world.staff(staff_id)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def roc(day: date) -> str:
    """The 7-digit ROC date, written out here independently of workflows/central/roster."""
    return f"{day.year - 1911:03d}{day.month:02d}{day.day:02d}"


def sheet_rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def item_history(world: World, item_id: int) -> list[tuple[str, str | None, str]]:
    with world.uow() as uow:
        return [tuple(row) for row in uow.session.execute(
            select(AuditEntry.event, AuditEntry.from_state, AuditEntry.to_state).where(
                AuditEntry.school_id == world.school_id, AuditEntry.subject_kind == "course_outcome",
                AuditEntry.subject_id == item_id).order_by(AuditEntry.at, AuditEntry.id)).all()]


def batch_events(world: World, batch_id: int) -> list[tuple[str, str]]:
    with world.uow() as uow:
        return [tuple(row) for row in uow.session.execute(
            select(AuditEntry.event, AuditEntry.to_state).where(
                AuditEntry.school_id == world.school_id, AuditEntry.subject_kind == "batch",
                AuditEntry.subject_id == batch_id).order_by(AuditEntry.id)).all()]


def states_of(world: World, item_ids: dict[int, int]) -> dict[int, str]:
    with world.uow() as uow:
        return {n: uow.get(Item, item_id).state for n, item_id in item_ids.items()}


def receipt_of(world: World, item_id: int) -> Receipt:
    with world.uow() as uow:
        return uow.get(Receipt, uow.get(Item, item_id).receipt_id)


def check_export(world: World, result, batch_id: int, item_ids: dict[int, int], sample) -> dict:
    """The exported workbook read back cell by cell for the cover and the sampled students' rows;
    the manifest's hashes against the files on disk. Returns the data rows by 身分證號."""
    book = load_workbook(result.workbook)
    assert book.sheetnames == ["封面", "名冊"]
    cover = sheet_rows(book["封面"])
    assert cover[:4] == [["學校代碼", "013301"], ["學年度", str(YEAR)], ["學期", "0"], ["名冊別", "26"]]
    assert dict(cover)["批次編號"] == str(batch_id) and dict(cover)["筆數"] == str(len(item_ids))

    data = sheet_rows(book["名冊"])
    assert data[0] == ITEM_HEADER
    assert len(data) == 1 + len(item_ids)
    by_id_number = {row[0]: row for row in data[1:]}
    with world.uow() as uow:
        for n in sample:
            student = uow.get(Student, world.student_ids[n])
            item = uow.get(Item, item_ids[n])
            row = by_id_number[student.national_id]
            assert row[1] == roc(student.birth_date) == f"09801{1 + n:02d}"  # World: born 2009-01-(1+n)
            assert (row[3], row[4], row[5], row[7]) == (student.student_no, f"學生{n}", "課程學習成果", f"作品{n}")
            assert row[9] == item.document_sha256
            assert sha256(result.directory / "files" / row[8]) == item.document_sha256

    manifest = json.loads((result.directory / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(entry["item_id"] for entry in manifest["files"]) == sorted(item_ids.values())
    for entry in manifest["files"]:
        assert entry["sha256"] == sha256(result.directory / entry["path"])
    assert manifest["workbook"]["sha256"] == sha256(result.workbook)
    return by_id_number


def receipt_csv(rows: dict) -> bytes:
    """What the central database sends back, in the documented layout (docs/receipts.md): one row
    per received item, named by the file hash it received (the roster's 文件SHA-256)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["身分證號", "類別", "項目編號", "檔案雜湊", "姓名"])
    for id_number, row in rows.items():
        writer.writerow([id_number, "課程學習成果", "", row[9], row[4]])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def test_a_whole_year_round_trip_with_a_dispute_and_a_resubmission(world, db, files, tmp_path):
    staff = world.staff()  # 陳組長: registry and equipment section, submits the batches
    equipment = add_staff(world, "S010", "林組長", ["equipment_section"])  # course-outcome disputes
    activities = add_staff(world, "S011", "張組長", ["student_activities"])  # performances only

    # -- items uploaded, submitted, certified and selected ----------------------------------------
    item_ids = {}
    for n in STUDENTS:
        item_id = world.upload(n, title=f"作品{n}", now=IN_UPLOAD)
        world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
        world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
        world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)
        item_ids[n] = item_id
    assert set(states_of(world, item_ids).values()) == {"selected"}

    # -- the year batch: created, exported, read back -------------------------------------------
    batch_id = world.run(batches.create_batch, staff, "year_outcomes", YEAR, 0, now=CREATED).id
    exported = world.run(batches.export_batch, staff, batch_id, tmp_path / "round1", now=EXPORTED)
    roster_rows = check_export(world, exported, batch_id, item_ids, sample=(0, 2, 4))

    # -- submitted: every item to submitted_central ---------------------------------------------
    world.run(batches.submit_batch, staff, batch_id, now=SUBMITTED)
    assert set(states_of(world, item_ids).values()) == {"submitted_central"}

    # -- the receipt file imported; the confirmation period opens -------------------------------
    imported = world.run(receipt_import.import_receipts, staff, batch_id, receipt_csv(roster_rows),
                         "收訖明細.csv", confirmation_window_id=world.receipt_window_id, now=IMPORTED)
    assert (imported.receipts, imported.items) == (len(STUDENTS), len(STUDENTS))
    first_receipts = {n: receipt_of(world, item_ids[n]) for n in STUDENTS}
    for n, receipt in first_receipts.items():
        assert (receipt.student_id, receipt.state, receipt.batch_id, receipt.window_id) == (
            world.student_ids[n], "issued", batch_id, world.receipt_window_id)

    # -- two confirm, one disputes, two say nothing ---------------------------------------------
    for n in (0, 1):
        world.run(receipts.confirm, world.student(n), first_receipts[n].id, now=IN_RECEIPT)
    world.run(receipts.dispute, world.student(2), first_receipts[2].id, reason="提交的檔案不是我最後的版本",
              now=IN_RECEIPT)
    run = deadlines.run_due(db, files, AFTER_WINDOW, school_ids={world.school_id}).schools[0]
    assert not run.errors
    assert (run.changed["deem_confirmed"], run.changed["closed_batches"]) == (2, 1)
    assert states_of(world, item_ids) == {0: "receipt_confirmed", 1: "receipt_confirmed", 2: "disputed",
                                          3: "deemed_confirmed", 4: "deemed_confirmed"}
    assert [receipt_of(world, item_ids[n]).state for n in STUDENTS] == [
        "confirmed", "confirmed", "disputed", "deemed_confirmed", "deemed_confirmed"]

    # -- the dispute goes to the equipment section and is settled by correcting the item ---------
    [row] = world.run(disputes.dispute_queue, equipment, now=RESOLVED)
    assert (row.item_id, row.reason, row.office) == (item_ids[2], "提交的檔案不是我最後的版本", "equipment_section")
    with pytest.raises(Forbidden):
        world.run(disputes.resolve, world.student(2), item_ids[2], kind="resubmit", reason="我自己改", now=RESOLVED)
    with pytest.raises(Forbidden):
        world.run(disputes.resolve, activities, item_ids[2], kind="resubmit", reason="不是我的", now=RESOLVED)
    assert states_of(world, {2: item_ids[2]}) == {2: "disputed"}
    world.run(disputes.resolve, equipment, item_ids[2], kind="resubmit", reason="已更正，將重新提交中央資料庫",
              now=RESOLVED)
    with world.uow() as uow:
        item = uow.get(Item, item_ids[2])
        assert (item.state, item.resolution, item.resolution_note) == (
            "resolved", "resubmit", "已更正，將重新提交中央資料庫")

    # -- the resubmission batch carries only that item -------------------------------------------
    again_id = world.run(batches.create_resubmission_batch, staff, batch_id, now=RESUBMITTED).id
    with world.uow() as uow:
        again = uow.get(SubmissionBatch, again_id)
        assert (again.resubmission_of_id, again.kind, again.academic_year) == (batch_id, "year_outcomes", YEAR)
        assert uow.session.scalars(select(BatchEntry.item_id).where(
            BatchEntry.batch_id == again_id)).all() == [item_ids[2]]
    exported_again = world.run(batches.export_batch, staff, again_id, tmp_path / "round2", now=RESUBMITTED)
    resubmitted_rows = check_export(world, exported_again, again_id, {2: item_ids[2]}, sample=(2,))
    world.run(batches.submit_batch, staff, again_id, now=RESUBMITTED + timedelta(hours=1))
    assert states_of(world, item_ids)[2] == "submitted_central"
    assert receipt_of(world, item_ids[2]).id == first_receipts[2].id  # until the new receipt comes

    # -- a second confirmation period: the year has one window of the kind, so it is moved; it
    # must still leave the policy's days (≥ 3) ----------------------------------------------------
    with world.uow() as uow:
        days = uow.policy.receipt_confirmation_days
        assert days >= 3
        with pytest.raises(RuleViolation) as short:  # one day short
            calendar.define_window(uow, staff, "receipt_confirmation", YEAR, 0, SECOND_FIRST_DAY,
                                   SECOND_FIRST_DAY + timedelta(days=days - 2), now=RESUBMITTED)
        assert short.value.details["rule"] == "receipt_window_too_short"
    second_last_day = SECOND_FIRST_DAY + timedelta(days=days - 1)
    with world.uow() as uow:
        window = calendar.define_window(uow, staff, "receipt_confirmation", YEAR, 0, SECOND_FIRST_DAY,
                                        second_last_day, now=RESUBMITTED)
        uow.commit()
        second_window_id = window.id
    after_second_window = datetime.combine(second_last_day + timedelta(days=1), datetime.min.time(),
                                           tzinfo=timezone.utc) + timedelta(hours=2)
    imported = world.run(receipt_import.import_receipts, staff, again_id, receipt_csv(resubmitted_rows),
                         "收訖明細-重新提交.csv", confirmation_window_id=second_window_id, now=SECOND_IMPORTED)
    assert (imported.receipts, imported.items) == (1, 1)
    new_receipt = receipt_of(world, item_ids[2])
    assert new_receipt.id != first_receipts[2].id
    assert (new_receipt.state, new_receipt.batch_id, new_receipt.student_id) == (
        "issued", again_id, world.student_ids[2])
    with world.uow() as uow:
        assert uow.get(Receipt, first_receipts[2].id).state == "disputed"  # the first round's stays as it was
        assert uow.get(SubmissionBatch, again_id).state == "confirmation_open"

    world.run(receipts.confirm, world.student(2), new_receipt.id, now=SECOND_CONFIRMED)
    assert states_of(world, item_ids) == {0: "receipt_confirmed", 1: "receipt_confirmed", 2: "receipt_confirmed",
                                          3: "deemed_confirmed", 4: "deemed_confirmed"}
    run = deadlines.run_due(db, files, after_second_window, school_ids={world.school_id}).schools[0]
    assert (run.errors, run.changed["deem_confirmed"], run.changed["closed_batches"]) == ([], 0, 1)

    # -- the audit: exactly one row per item per transition ------------------------------------
    common = [("upload", None, "draft"), ("submit", "draft", "submitted"), ("certify", "submitted", "certified"),
              ("select", "certified", "selected"), ("submit_central", "selected", "submitted_central")]
    assert item_history(world, item_ids[0]) == common + [
        ("confirm_receipt", "submitted_central", "receipt_confirmed")]
    assert item_history(world, item_ids[3]) == common + [
        ("deem_confirmed", "submitted_central", "deemed_confirmed")]
    assert item_history(world, item_ids[2]) == common + [
        ("dispute", "submitted_central", "disputed"), ("resolve", "disputed", "resolved"),
        ("resubmit_central", "resolved", "submitted_central"),
        ("confirm_receipt", "submitted_central", "receipt_confirmed")]
    for n in STUDENTS:
        assert max(Counter(item_history(world, item_ids[n])).values()) == 1
    with world.uow() as uow:
        who = dict(uow.session.execute(select(AuditEntry.event, AuditEntry.actor_name).where(
            AuditEntry.subject_kind == "course_outcome", AuditEntry.subject_id == item_ids[2],
            AuditEntry.event.in_(["resolve", "resubmit_central", "confirm_receipt"]))).all())
        assert who == {"resolve": "林組長", "resubmit_central": "陳組長", "confirm_receipt": "學生2"}
        moved = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_kind == "window", AuditEntry.subject_id == second_window_id,
            AuditEntry.event == "define_window").order_by(AuditEntry.id)).all()[-1]
        assert moved.from_state is not None and moved.to_state.startswith("2026-10-25T16:00:00")
        assert uow.get(Window, second_window_id).id == world.receipt_window_id

    steps = [("create", "prepared"), ("export", "exported"), ("submit", "submitted"),
             ("import_receipt", "receipt_imported"), ("open_confirmation", "confirmation_open"),
             ("close", "closed")]
    assert batch_events(world, batch_id) == steps
    assert batch_events(world, again_id) == steps

    # -- the semester batch: every enrolled student's basic data, and the term's cadre records ----
    semester_at = after_second_window + timedelta(days=1)
    with world.uow() as uow:
        uow.session.add_all(CadreRecord(
            school_id=world.school_id, student_id=world.student_ids[n], academic_year=YEAR, semester=1,
            level=level, unit=unit, position=position, starts_on=first, ends_on=last,
            created_at=IN_UPLOAD, updated_at=IN_UPLOAD) for n, (level, _, unit, position, first, last) in CADRE.items())
        uow.commit()
    semester_id = world.run(batches.create_batch, staff, "semester_basic_cadre", YEAR, 1, now=semester_at).id
    semester_export = world.run(batches.export_batch, staff, semester_id, tmp_path / "semester", now=semester_at)
    book = load_workbook(semester_export.workbook)
    assert book.sheetnames == ["封面", "名冊", "幹部紀錄"]
    cover = sheet_rows(book["封面"])
    assert cover[:5] == [["學校代碼", "013301"], ["學年度", str(YEAR)], ["學期", "1"], ["名冊別", "24"],
                         ["名冊名稱", "幹部經歷名冊"]]
    assert cover[-2:] == [["筆數", str(len(STUDENTS))], ["幹部紀錄筆數", str(len(CADRE))]]
    basic = sheet_rows(book["名冊"])
    cadre = sheet_rows(book["幹部紀錄"])
    assert (basic[0], cadre[0], len(basic), len(cadre)) == (STUDENT_HEADER, CADRE_HEADER, 1 + len(STUDENTS),
                                                            1 + len(CADRE))
    with world.uow() as uow:
        students = [uow.get(Student, world.student_ids[n]) for n in STUDENTS]
    assert basic[1:] == [[s.national_id, roc(s.birth_date), "101", s.student_no, s.name, "1", "日間部"]
                         for s in students]
    assert cadre[1:] == [
        [students[n].national_id, roc(students[n].birth_date), students[n].student_no, f"學生{n}", str(YEAR), "1",
         label, unit, position, roc(first), roc(last) if last else None]
        for n, (_, label, unit, position, first, last) in CADRE.items()]
    assert json.loads((semester_export.directory / "manifest.json").read_text(encoding="utf-8"))["files"] == []
    world.run(batches.submit_batch, staff, semester_id, now=semester_at + timedelta(hours=1))
    assert batch_events(world, semester_id) == steps[:3]
    assert states_of(world, item_ids) == {0: "receipt_confirmed", 1: "receipt_confirmed", 2: "receipt_confirmed",
                                          3: "deemed_confirmed", 4: "deemed_confirmed"}  # no items: none moved
