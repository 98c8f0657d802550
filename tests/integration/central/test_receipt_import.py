"""Receipt import (收訖明細匯入): the documented CSV/XLSX layout creates one receipt per student of
a submitted batch and opens the confirmation period; a bad file is refused with row-level
messages and changes nothing; the period must be long enough; at its end the unanswered are
deemed confirmed and the batch closes."""
from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import replace
from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from persistence.tables import AuditEntry, Item, Receipt, Student, SubmissionBatch
from tests.world import AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD, RECEIPT_LAST_DAY, YEAR, World
from workflows.central import batches, disputes, receipts
from workflows.school import calendar
from workflows.items import certification, selection
from workflows.deadlines import run as deadlines, sweeps
from workflows.core.clock import end_of_day, start_of_day
from workflows.core.errors import Forbidden, InvalidTransition, RuleViolation
from workflows.core.policy import load_policy
from workflows.central.receipt_import import ReceiptImportRejected, close_finished_batches, import_receipts

HEADER = ("身分證號", "類別", "項目編號", "檔案雜湊")
IMPORT_AT = AFTER_SELECTION  # before the receipt window opens: the whole period is left
RECEIPT_END = end_of_day(RECEIPT_LAST_DAY)


# --------------------------------------------------------------------------- setup helpers


def submitted_batch(world: World, students=(0, 1, 2), *, kind: str = "course_outcome") -> tuple[int, dict[int, int]]:
    """A batch in the state batches.submit_batch leaves it (submitted; its items
    submitted_central): (batch id, {student index: item id}). The items are uploaded, certified
    and selected through the workflows; the batch row and the move to submitted_central are
    moved by the batch workflow (create, export, submit)."""
    item_ids = {}
    for n in students:
        if kind == "course_outcome":
            item_id = world.upload(n, title=f"作品{n}")
            world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
            world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
        else:
            item_id = world.upload_performance(n, title=f"競賽{n}")
        world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)
        item_ids[n] = item_id
    staff = world.staff()
    kind_of_batch = "year_outcomes" if kind == "course_outcome" else "year_performances"
    with world.uow() as uow:
        batch = batches.create_batch(uow, staff, kind_of_batch, YEAR, 0, now=AFTER_SELECTION,
                                     student_ids=[world.student_ids[n] for n in students])
        batch_id = batch.id
    with tempfile.TemporaryDirectory() as out:
        world.run(batches.export_batch, staff, batch_id, out, now=AFTER_SELECTION)
    world.run(batches.submit_batch, staff, batch_id, now=AFTER_SELECTION)
    return batch_id, item_ids


def national_id(world: World, n: int) -> str:
    with world.uow() as uow:
        return uow.get(Student, world.student_ids[n]).national_id


def digest(world: World, item_id: int) -> str:
    with world.uow() as uow:
        return uow.get(Item, item_id).document_sha256


def csv_file(rows, header=HEADER, *, bom: bool = True, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


def xlsx_file(rows, header) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "收訖明細"
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def good_rows(world, item_ids, category="課程學習成果"):
    return [(national_id(world, n), category, str(item_id), "") for n, item_id in item_ids.items()]


def run_import(world, batch_id, data, filename="receipts.csv", *, now=IMPORT_AT, window_id=None):
    staff = world.staff()
    with world.uow() as uow:
        return import_receipts(uow, staff, batch_id, data, filename,
                               confirmation_window_id=window_id or world.receipt_window_id, now=now)


def snapshot(world, batch_id) -> tuple:
    """What an import would change: the batch, the receipts, the items' links, the audit rows."""
    with world.uow() as uow:
        batch = uow.get(SubmissionBatch, batch_id)
        return (batch.state, batch.confirmation_window_id,
                uow.session.scalar(select(func.count()).select_from(Receipt)),
                tuple(uow.session.execute(select(Item.id, Item.state, Item.receipt_id).order_by(Item.id)).all()),
                uow.session.scalar(select(func.count()).select_from(AuditEntry)))


def receipts_by_student(world) -> dict[int, Receipt]:
    with world.uow() as uow:
        return {r.student_id: r for r in uow.session.scalars(select(Receipt))}


# --------------------------------------------------------------------------- good files


def _assert_imported(world, batch_id, item_ids):
    found = receipts_by_student(world)
    assert set(found) == {world.student_ids[n] for n in item_ids}
    with world.uow() as uow:
        for n, item_id in item_ids.items():
            receipt = found[world.student_ids[n]]
            assert (receipt.state, receipt.batch_id, receipt.window_id, receipt.category) == (
                "issued", batch_id, world.receipt_window_id, "course_outcome")
            item = uow.get(Item, item_id)
            assert (item.receipt_id, item.state) == (receipt.id, "submitted_central")
        batch = uow.get(SubmissionBatch, batch_id)
        assert (batch.state, batch.confirmation_window_id) == ("confirmation_open", world.receipt_window_id)
        events = uow.session.execute(select(AuditEntry.event, AuditEntry.actor_name).where(
            AuditEntry.subject_kind == "batch", AuditEntry.subject_id == batch_id).order_by(AuditEntry.id)).all()
        assert events == [("create", "陳組長"), ("export", "陳組長"), ("submit", "陳組長"),
                          ("import_receipt", "陳組長"), ("open_confirmation", "陳組長")]


def test_a_good_csv_creates_one_receipt_per_student_and_opens_confirmation(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world)
    result = run_import(world, batch_id, csv_file(good_rows(world, item_ids)))
    assert (result.receipts, result.items) == (3, 3)
    _assert_imported(world, batch_id, item_ids)
    # Students answer through the existing receipt use cases.
    receipt = receipts_by_student(world)[world.student_ids[0]]
    world.run(receipts.confirm, world.student(0), receipt.id, now=IN_RECEIPT)
    with world.uow() as uow:
        assert uow.get(Item, item_ids[0]).state == "receipt_confirmed"


def test_a_good_xlsx_naming_items_by_file_hash_is_imported_alike(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world)
    header = ("姓名", "身分證號", "類別", "檔案雜湊")  # no 項目編號; an extra column is ignored
    rows = [(f"學生{n}", national_id(world, n), "課程學習成果", digest(world, item_id).upper())
            for n, item_id in item_ids.items()]
    result = run_import(world, batch_id, xlsx_file(rows, header), "收訖明細.xlsx")
    assert (result.receipts, result.items) == (3, 3)
    _assert_imported(world, batch_id, item_ids)


def test_a_csv_without_bom_is_read_too(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world, (0,))
    assert run_import(world, batch_id, csv_file(good_rows(world, item_ids), bom=False)).receipts == 1


# --------------------------------------------------------------------------- bad files


def _bad_cases(world, item_ids):
    rows = good_rows(world, item_ids)
    unknown = ("Z199999999", "課程學習成果", str(item_ids[0]), "")
    return {
        "unknown student": ([rows[0], unknown, rows[1]], 3, "身分證號", "找不到身分證號 Z19****999 的學生"),
        "wrong category": ([rows[0], (rows[1][0], "多元表現", rows[1][2], ""), ], 3, "類別",
                           "本批次是「課程學習成果」，此列為「多元表現」"),
        "unknown category": ([rows[0], (rows[1][0], "獎狀", rows[1][2], "")], 3, "類別", "「獎狀」不是可用的類別"),
        "duplicate rows": ([rows[0], rows[1], rows[0]], 4, "", "與第 2 行重複"),
        "student not in the batch": ([rows[0], rows[1], (national_id(world, 2), "課程學習成果", "999", "")],
                                     4, "身分證號", "不在本批次"),
        "unknown item": ([rows[0], (rows[1][0], "課程學習成果", str(item_ids[0]), "")], 3, "項目編號",
                         f"項目編號 {item_ids[0]} 不是本批次中學生"),
        "unknown hash": ([rows[0], (rows[1][0], "課程學習成果", "", "0" * 64)], 3, "檔案雜湊", "沒有雜湊為 000000000000"),
        "no item reference": ([rows[0], (rows[1][0], "課程學習成果", "", "")], 3, "項目編號", "至少須填一項"),
    }


@pytest.mark.parametrize("case", ["unknown student", "wrong category", "unknown category", "duplicate rows",
                                  "student not in the batch", "unknown item", "unknown hash", "no item reference"])
def test_a_bad_row_refuses_the_whole_file_with_its_line_and_column(db, files, case):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world, (0, 1))
    rows, line, column, message = _bad_cases(world, item_ids)[case]
    before = snapshot(world, batch_id)
    with pytest.raises(ReceiptImportRejected) as refused:
        run_import(world, batch_id, csv_file(rows))
    where = f"第 {line} 行「{column}」：" if column else f"第 {line} 行："
    assert any(e.startswith(where) and message in e for e in refused.value.errors), refused.value.errors
    assert "整份檔案未匯入" in refused.value.message
    assert snapshot(world, batch_id) == before


def test_a_file_in_big5_is_refused_with_how_to_save_it(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world, (0,))
    before = snapshot(world, batch_id)
    with pytest.raises(ReceiptImportRejected) as refused:
        run_import(world, batch_id, csv_file(good_rows(world, item_ids), bom=False, encoding="big5"))
    assert refused.value.errors[0].startswith("第 1 行：檔案不是 UTF-8 編碼")
    assert "CSV UTF-8" in refused.value.errors[0]
    assert snapshot(world, batch_id) == before


def test_a_file_that_leaves_out_an_item_of_the_batch_is_refused(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world, (0, 1))
    before = snapshot(world, batch_id)
    with pytest.raises(ReceiptImportRejected) as refused:
        run_import(world, batch_id, csv_file(good_rows(world, item_ids)[:1]))
    with world.uow() as uow:
        student_no = uow.get(Student, world.student_ids[1]).student_no
    assert refused.value.errors == [
        f"批次中學生 {student_no} 的項目 {item_ids[1]}「作品1」不在收訖明細中（中央資料庫未收到？請確認後再匯入）"]
    assert snapshot(world, batch_id) == before


def test_a_damaged_workbook_is_refused(db, files):
    world = World(db, files)
    batch_id, _ = submitted_batch(world, (0,))
    with pytest.raises(ReceiptImportRejected) as refused:
        run_import(world, batch_id, b"PK\x03\x04 not really a workbook", "收訖明細.xlsx")
    assert "無法讀取 Excel 檔案" in refused.value.errors[0]


def test_only_the_submitting_offices_import_and_only_a_submitted_batch(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world, (0,))
    data = csv_file(good_rows(world, item_ids))
    teacher = world.teacher
    with world.uow() as uow, pytest.raises(Forbidden):
        import_receipts(uow, teacher, batch_id, data, "r.csv",
                        confirmation_window_id=world.receipt_window_id, now=IMPORT_AT)
    run_import(world, batch_id, data)
    before = snapshot(world, batch_id)
    with pytest.raises(Exception) as again:
        run_import(world, batch_id, data)
    assert getattr(again.value, "code", None) == "invalid_transition"
    assert snapshot(world, batch_id) == before


# --------------------------------------------------------------------------- the period


THREE_DAYS = replace(load_policy("template"), name="three-days", receipt_confirmation_days=3)


def test_a_confirmation_period_shorter_than_three_days_is_refused(db, files):
    world = World(db, files, policy=THREE_DAYS)
    batch_id, item_ids = submitted_batch(world, (0,))
    data = csv_file(good_rows(world, item_ids))
    before = snapshot(world, batch_id)
    # 2 days and a bit before the period's end: fewer than 3 days are left to the students.
    late = start_of_day(RECEIPT_LAST_DAY - timedelta(days=1)) - timedelta(hours=1)
    with pytest.raises(RuleViolation) as refused:
        run_import(world, batch_id, data, now=late)
    assert (refused.value.rule, refused.value.field) == ("receipt_window_too_short", "confirmation_window_id")
    assert "全國規定不得少於 3 日" in refused.value.message
    assert snapshot(world, batch_id) == before
    # Exactly three days left is enough.
    run_import(world, batch_id, data, now=start_of_day(RECEIPT_LAST_DAY - timedelta(days=2)))
    assert snapshot(world, batch_id)[0] == "confirmation_open"


def test_the_window_must_be_a_receipt_confirmation_period(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world, (0,))
    with world.uow() as uow:
        selection_window = calendar.find(uow, "selection", YEAR, 0).id
    with pytest.raises(Exception) as refused:
        run_import(world, batch_id, csv_file(good_rows(world, item_ids)), window_id=selection_window)
    assert getattr(refused.value, "field", None) == "confirmation_window_id"


# --------------------------------------------------------------------------- the round to its end


def test_some_confirm_some_dispute_the_rest_are_deemed_and_the_batch_closes(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world)
    run_import(world, batch_id, csv_file(good_rows(world, item_ids)))
    receipt_of = {n: receipts_by_student(world)[world.student_ids[n]].id for n in item_ids}
    world.run(receipts.confirm, world.student(0), receipt_of[0], now=IN_RECEIPT)
    world.run(receipts.dispute, world.student(1), receipt_of[1], reason="檔案不是我上傳的版本", now=IN_RECEIPT)

    # Not over yet: nothing is deemed and the batch stays open.
    assert world.run(close_finished_batches, RECEIPT_END - timedelta(seconds=1)) == 0
    with world.uow() as uow:
        sweeps.run_all(uow, RECEIPT_END - timedelta(seconds=1))
    assert receipts_by_student(world)[world.student_ids[2]].state == "issued"

    with world.uow() as uow:
        assert sweeps.run_all(uow, RECEIPT_END).changed["deem_confirmed"] == 1
    states = {n: receipts_by_student(world)[world.student_ids[n]].state for n in item_ids}
    assert states == {0: "confirmed", 1: "disputed", 2: "deemed_confirmed"}
    with world.uow() as uow:
        assert [uow.get(Item, item_ids[n]).state for n in (0, 1, 2)] == [
            "receipt_confirmed", "disputed", "deemed_confirmed"]

    with world.uow() as uow:
        assert close_finished_batches(uow, RECEIPT_END) == 1
        uow.commit()
    with world.uow() as uow:
        batch = uow.get(SubmissionBatch, batch_id)
        assert (batch.state, batch.closed_at) == ("closed", RECEIPT_END)
        assert close_finished_batches(uow, RECEIPT_END + timedelta(days=1)) == 0  # idempotent


def test_the_scheduler_deems_and_closes_in_one_run(db, files):
    world = World(db, files)
    batch_id, item_ids = submitted_batch(world, (0, 1))
    run_import(world, batch_id, csv_file(good_rows(world, item_ids)))
    early = deadlines.run_due(db, files, RECEIPT_END - timedelta(seconds=1)).schools[0].changed
    assert (early["deem_confirmed"], early["closed_batches"]) == (0, 0)
    due = deadlines.run_due(db, files, RECEIPT_END).schools[0].changed
    assert (due["deem_confirmed"], due["closed_batches"]) == (2, 1)
    assert deadlines.run_due(db, files, RECEIPT_END).schools[0].changed["closed_batches"] == 0
    with world.uow() as uow:
        assert uow.get(SubmissionBatch, batch_id).state == "closed"


def test_a_resubmission_batch_relinks_the_corrected_item_to_its_new_receipt(db, files, tmp_path):
    world = World(db, files)
    staff = world.staff()
    batch_id, item_ids = submitted_batch(world, (0, 1))
    run_import(world, batch_id, csv_file(good_rows(world, item_ids)))
    first = {n: receipts_by_student(world)[world.student_ids[n]].id for n in item_ids}
    world.run(receipts.confirm, world.student(1), first[1], now=IN_RECEIPT)
    world.run(receipts.dispute, world.student(0), first[0], reason="版本不對", now=IN_RECEIPT)
    world.run(disputes.resolve, staff, item_ids[0], kind="resubmit", reason="已更正", now=IN_RECEIPT)
    again = world.run(batches.create_resubmission_batch, staff, batch_id, now=IN_RECEIPT).id
    world.run(batches.export_batch, staff, again, tmp_path, now=IN_RECEIPT)
    world.run(batches.submit_batch, staff, again, now=IN_RECEIPT)
    with world.uow() as uow:  # the year's one confirmation window, moved for the second round
        window_id = calendar.define_window(uow, staff, "receipt_confirmation", YEAR, 0, date(2026, 10, 26),
                                           date(2026, 11, 9), now=IN_RECEIPT).id
        uow.commit()

    # The first batch's whole file again: student 1 is not in the resubmission batch.
    before = snapshot(world, again)
    with pytest.raises(ReceiptImportRejected) as refused:
        run_import(world, again, csv_file(good_rows(world, item_ids)), now=IN_RECEIPT, window_id=window_id)
    assert any("不在本批次" in e for e in refused.value.errors)
    assert snapshot(world, again) == before

    run_import(world, again, csv_file(good_rows(world, {0: item_ids[0]})), now=IN_RECEIPT, window_id=window_id)
    with world.uow() as uow:
        item = uow.get(Item, item_ids[0])
        new = uow.get(Receipt, item.receipt_id)
        assert (item.state, new.batch_id, new.state, new.window_id) == ("submitted_central", again, "issued", window_id)
        assert new.id != first[0] and uow.get(Receipt, first[0]).state == "disputed"
        assert uow.get(Item, item_ids[1]).receipt_id == first[1]
    # Imported once: the same file again is refused by the batch's state, nothing relinked twice.
    with pytest.raises(InvalidTransition):
        run_import(world, again, csv_file(good_rows(world, {0: item_ids[0]})), now=IN_RECEIPT, window_id=window_id)
