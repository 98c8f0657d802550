"""The receipt round of a submission batch: import the receipt file (收訖明細) the central database
returns, open the students' confirmation period, and close the batch when it is over.

The ministry's file format is not public, so this module defines one layout (docs/receipts.md):
a CSV (UTF-8, with or without a BOM, as Excel's "CSV UTF-8" writes) or an XLSX workbook (its
first sheet), header in row 1, one row per submitted item:

    身分證號, 類別, 項目編號, 檔案雜湊

A semester batch (basic data and cadre records, or course records) carries no items: its file
has one row per student, naming the student and the category, the item columns left empty.

`RECEIPT_LAYOUT` is the one place that names the columns and the category labels; adapt it
there when the real file differs. Every row is checked first; a file with any bad row, or that
leaves out an item of the batch, changes nothing (ReceiptImportRejected lists every problem).
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Mapping

from sqlalchemy import and_, exists, select

from persistence.vocabulary import BATCH_KIND_LABELS, ITEM_KIND_OF_BATCH
from persistence.tables import BatchEntry, Item, Receipt, Student, SubmissionBatch, Window
from workflows.school import calendar
from workflows.core.clock import now_or
from workflows.core.actors import Actor, system
from workflows.school.csv_rows import Column, RowError, parse_file, Row
from workflows.core.errors import DomainError, RuleViolation
from workflows.core.guards import require_current
from workflows.core.numbers import INT_MAX as ID_MAX, whole
from workflows.people.personal_data import mask_national_id
from workflows.core.policy import receipt_category_label
from workflows.people.offices import require_submission_office
from workflows.core.transitions import fire, require_allowed, start
from workflows.core.unit_of_work import UnitOfWork

SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ReceiptLayout:
    """The receipt file's columns and category labels: the one place to adapt to the real file.

    At least one of item_id / sha256 must be present as a column and filled in each row; when
    both are, they must name the same item. Unknown columns (姓名, 收訖時間, …) are ignored."""

    columns: tuple[Column, ...]
    categories: Mapping[str, str]  # label as written in the file -> item kind


RECEIPT_LAYOUT = ReceiptLayout(
    columns=(
        Column("national_id", "身分證號", ("身分證字號", "身分證統一編號", "統一證號", "居留證號")),
        Column("category", "類別", ("資料類別", "名冊別")),
        Column("item_id", "項目編號", ("項目", "item_id"), required=False),
        Column("sha256", "檔案雜湊", ("SHA-256", "sha256", "雜湊值"), required=False),
    ),
    categories=MappingProxyType({
        "課程學習成果": "course_outcome", "course_outcome": "course_outcome",
        "多元表現": "performance", "performance": "performance",
        # The semester batches: by the wording of the data or by the roster type code (名冊別).
        "基本資料": "basic_cadre", "幹部經歷": "basic_cadre", "幹部紀錄": "basic_cadre",
        "基本資料及幹部紀錄": "basic_cadre", "basic_cadre": "basic_cadre",
        "24": "basic_cadre", "34": "basic_cadre", "74": "basic_cadre",
        "修課紀錄": "courses", "學業成績": "courses", "courses": "courses",
        "41": "courses", "42": "courses",
    }),
)
# The batch kinds whose receipts list items, and the category their rows must carry: the
# batches that carry items, and their items' kind.
BATCH_CATEGORIES: Mapping[str, str] = MappingProxyType(ITEM_KIND_OF_BATCH)
# The semester batches: one receipt per student, covering the records the batch carried.
SEMESTER_BATCH_CATEGORIES: Mapping[str, str] = MappingProxyType({
    "semester_basic_cadre": "basic_cadre", "semester_courses": "courses"})
category_label = receipt_category_label


class ReceiptImportRejected(DomainError):
    """The receipt file had bad rows or left items out; nothing was changed."""

    status = 422
    code = "import_rejected"

    def __init__(self, errors: list[str]):
        super().__init__(f"收訖明細有 {len(errors)} 個錯誤，整份檔案未匯入，請修正後重新匯入。",
                         errors=list(errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class ReceiptRow:
    line: int
    national_id: str = field(repr=False)  # personal data: never in a repr
    kind: str | None
    item_id: int | None
    sha256: str | None


@dataclass(frozen=True)
class ImportedReceipts:
    batch_id: int
    receipts: int
    items: int


# --------------------------------------------------------------------------- reading the file


def _build_row(row: Row) -> ReceiptRow | None:
    national_id = row.required("national_id")
    category = row.required("category")
    kind = None
    if category is not None:
        kind = RECEIPT_LAYOUT.categories.get(category.strip())
        if kind is None:
            labels = "、".join(label for label in RECEIPT_LAYOUT.categories if not label.isascii())
            row.error("category", f"「{category}」不是可用的類別；請填 {labels}")
    item_text, digest = row.get("item_id"), row.get("sha256").lower()
    item_id = None
    if item_text:
        item_id = whole(item_text, signed=False, beyond=0)  # '²' or 10,000 digits: no id
        if item_id is None or not 1 <= item_id <= ID_MAX:
            item_id = None
            row.error("item_id", f"「{item_text}」應為匯出時的項目編號（正整數）")
    if digest and not SHA256.fullmatch(digest):
        row.error("sha256", f"「{row.get('sha256')}」不是 SHA-256 雜湊（64 個十六進位字元）")
        digest = ""
    if kind in SEMESTER_BATCH_CATEGORIES.values():
        if item_text or row.get("sha256"):  # semester records are not items: nothing to name
            row.error("item_id", f"{category_label(kind)}的收訖明細沒有項目，項目編號與檔案雜湊請留空")
    elif not item_text and not row.get("sha256"):
        row.error("item_id", "項目編號與檔案雜湊至少須填一項")
    return ReceiptRow(row.line, (national_id or "").upper(), kind, item_id, digest or None)


def _xlsx_as_csv(data: bytes) -> bytes:
    """The workbook's first sheet as CSV text, one CSV line per sheet row (so line numbers are
    the row numbers the user sees), for the same parser as a CSV file."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ReceiptImportRejected(["第 1 行：無法讀取 Excel 檔案（.xlsx），請確認檔案未損毀"]) from None
    sheet = workbook.worksheets[0]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for cells in sheet.iter_rows(values_only=True):
        writer.writerow(["" if v is None else str(int(v)) if isinstance(v, float) and v.is_integer()
                         else str(v) for v in cells])
    workbook.close()
    return out.getvalue().encode("utf-8")


def parse_receipt_file(data: bytes, filename: str) -> tuple[list[ReceiptRow], list[RowError]]:
    """Rows and row-level errors of a receipt file (CSV or XLSX, by name or content)."""
    if filename.lower().endswith(".xlsx") or data.startswith(b"PK\x03\x04"):
        data = _xlsx_as_csv(data)
    parsed = parse_file(data, RECEIPT_LAYOUT.columns, _build_row)
    return parsed.rows, list(parsed.errors)


# --------------------------------------------------------------------------- import


def _check_rows(uow: UnitOfWork, batch: SubmissionBatch, rows: list[ReceiptRow]
                ) -> tuple[list[RowError], dict[int, list[Item]], list[str]]:
    """Row errors, the items each student's rows name, and what the file leaves out."""
    expected_kind = BATCH_CATEGORIES[batch.kind]
    entries = uow.session.execute(uow.select(BatchEntry).where(BatchEntry.batch_id == batch.id)
                                  .with_only_columns(BatchEntry.student_id, BatchEntry.item_id)).all()
    in_batch = {student_id for student_id, _ in entries}
    item_ids = {item_id for _, item_id in entries if item_id is not None}
    items = {i.id: i for i in uow.session.scalars(uow.select(Item).where(Item.id.in_(item_ids))
                                                  .with_for_update())} if item_ids else {}
    # A resubmitted item still points at the receipt its student disputed (another batch's);
    # it waits for this batch's receipt all the same. Any other linked item already has one.
    earlier = {r.id: r for r in uow.session.scalars(uow.select(Receipt).where(
        Receipt.id.in_({i.receipt_id for i in items.values() if i.receipt_id is not None})))}

    def waiting(item: Item) -> bool:
        if item.state != "submitted_central":
            return False
        if item.receipt_id is None:
            return True
        receipt = earlier.get(item.receipt_id)
        return (batch.resubmission_of_id is not None and receipt is not None
                and receipt.batch_id != batch.id and receipt.state == "disputed")

    by_hash: dict[tuple[int, str], Item] = {}
    for item in items.values():
        for digest in (item.document_sha256, item.media_sha256):
            if digest:
                by_hash[(item.student_id, digest)] = item
    national_ids = {row.national_id for row in rows}
    students = {s.national_id.upper(): s for s in uow.session.scalars(
        uow.select(Student).where(Student.national_id.in_(national_ids)))} if national_ids else {}
    student_nos = dict(uow.session.execute(uow.select(Student).where(Student.id.in_(in_batch))
                                           .with_only_columns(Student.id, Student.student_no)).all()) \
        if in_batch else {}

    errors: list[RowError] = []
    named: dict[int, list[Item]] = {}
    seen: dict[int, int] = {}  # item id -> line
    for row in rows:
        def error(column: str, message: str) -> None:
            errors.append(RowError(row.line, column, message))

        student = students.get(row.national_id)
        if student is None:
            error("身分證號", f"找不到身分證號 {mask_national_id(row.national_id)} 的學生")
            continue
        if student.id not in in_batch:
            error("身分證號", f"學生 {student.student_no} {student.name} 不在本批次（批次 {batch.id}）")
            continue
        if row.kind != expected_kind:
            error("類別", f"本批次是「{category_label(expected_kind)}」，此列為「{category_label(row.kind)}」")
            continue
        item = items.get(row.item_id) if row.item_id is not None else None
        if row.item_id is not None and (item is None or item.student_id != student.id):
            error("項目編號", f"項目編號 {row.item_id} 不是本批次中學生 {student.student_no} 的資料")
            continue
        if row.sha256 is not None:
            by_digest = by_hash.get((student.id, row.sha256))
            if by_digest is None:
                error("檔案雜湊", f"本批次中學生 {student.student_no} 沒有雜湊為 {row.sha256[:12]}… 的檔案")
                continue
            if item is not None and by_digest.id != item.id:
                error("檔案雜湊", f"雜湊屬於項目 {by_digest.id}，與項目編號 {item.id} 不符")
                continue
            item = by_digest
        if item.id in seen:
            error("", f"與第 {seen[item.id]} 行重複（同一學生的同一項目）")
            continue
        seen[item.id] = row.line
        if not waiting(item):
            error("項目編號", f"項目 {item.id}「{item.title}」目前不是待產生收訖明細的已提交資料")
            continue
        named.setdefault(student.id, []).append(item)
    missing = [f"批次中學生 {student_nos.get(i.student_id, i.student_id)} 的項目 {i.id}「{i.title}」"
               "不在收訖明細中（中央資料庫未收到？請確認後再匯入）"
               for i in sorted(items.values(), key=lambda i: i.id) if i.id not in seen]
    return errors, named, missing


def _check_semester_rows(uow: UnitOfWork, batch: SubmissionBatch, rows: list[ReceiptRow]
                         ) -> tuple[list[RowError], list[int], list[str]]:
    """Row errors, the students the file names (in file order), and the batch's students it
    leaves out: a semester batch's receipt has one row per student of the batch."""
    expected = SEMESTER_BATCH_CATEGORIES[batch.kind]
    in_batch = dict(uow.session.execute(
        uow.select(Student).join(BatchEntry, (BatchEntry.school_id == Student.school_id)
                                 & (BatchEntry.student_id == Student.id))
        .where(BatchEntry.batch_id == batch.id)
        .with_only_columns(Student.id, Student.student_no)).all())
    national_ids = {row.national_id for row in rows}
    students = {s.national_id.upper(): s for s in uow.session.scalars(
        uow.select(Student).where(Student.national_id.in_(national_ids)))} if national_ids else {}
    errors: list[RowError] = []
    named: list[int] = []
    seen: dict[int, int] = {}  # student id -> line
    for row in rows:
        student = students.get(row.national_id)
        if student is None:
            errors.append(RowError(row.line, "身分證號", f"找不到身分證號 {mask_national_id(row.national_id)} 的學生"))
        elif student.id not in in_batch:
            errors.append(RowError(row.line, "身分證號",
                                   f"學生 {student.student_no} {student.name} 不在本批次（批次 {batch.id}）"))
        elif row.kind is not None and row.kind != expected:
            errors.append(RowError(row.line, "類別",
                                   f"本批次是「{category_label(expected)}」，此列為「{category_label(row.kind)}」"))
        elif student.id in seen:
            errors.append(RowError(row.line, "", f"與第 {seen[student.id]} 行重複（同一學生）"))
        else:
            seen[student.id] = row.line
            named.append(student.id)
    missing = [f"批次中學生 {student_no} 不在收訖明細中（中央資料庫未收到？請確認後再匯入）"
               for student_id, student_no in sorted(in_batch.items(), key=lambda p: p[1])
               if student_id not in seen]
    return errors, named, missing


def _issue(uow: UnitOfWork, actor: Actor, batch: SubmissionBatch, window: Window, student_id: int,
           category: str, filename: str, now: datetime) -> Receipt:
    receipt = Receipt(school_id=uow.school_id, student_id=student_id, category=category,
                      academic_year=batch.academic_year, window_id=window.id, issued_at=now,
                      batch_id=batch.id)
    term = f"第 {batch.semester} 學期" if batch.semester else ""
    start(uow.session, receipt, event="issue", actor=actor, at=now,
          reason=f"{batch.academic_year} 學年度{term}{category_label(category)}收訖明細（批次 {batch.id}，{filename}）")
    return receipt


def import_receipts(uow: UnitOfWork, actor: Actor, batch_id: int, data: bytes, filename: str, *,
                    confirmation_window_id: int, expected_version: int | None = None,
                    now: datetime | None = None) -> ImportedReceipts:
    """匯入收訖明細: one receipt per student of the batch, linking the items the file lists (an
    item of a resubmission batch is relinked from the receipt its student disputed to the new
    one); then the batch's confirmation period opens (≥ the policy's days, nationally ≥ 3). Any
    bad row, or an item of the batch the file leaves out, refuses the whole file."""
    now = now_or(now)
    actor = require_submission_office(uow, actor, "匯入收訖明細", now=now)
    batch = uow.get(SubmissionBatch, batch_id, for_update=True, what="提交批次")
    require_current(batch, expected_version, what="這個提交批次")
    require_allowed(batch, "import_receipt")
    if batch.kind not in BATCH_CATEGORIES and batch.kind not in SEMESTER_BATCH_CATEGORIES:
        raise RuleViolation(f"不能匯入「{BATCH_KIND_LABELS.get(batch.kind, batch.kind)}」批次的收訖明細。",
                            rule="receipt_batch_kind", field="batch_id")
    window = calendar.require_confirmation_window(uow, confirmation_window_id, now,
                                                  field="confirmation_window_id")
    rows, errors = parse_receipt_file(data, filename)
    if batch.kind in SEMESTER_BATCH_CATEGORIES:
        return _import_semester(uow, actor, batch, window, rows, errors, filename, now)
    row_errors, named, missing = _check_rows(uow, batch, rows)
    problems = [str(e) for e in sorted([*errors, *row_errors], key=lambda e: e.line)]
    if not problems:  # items a bad row meant to name would be listed twice
        problems = missing
    if not problems and not named:
        problems = ["第 1 行：檔案沒有任何收訖資料"]
    if problems:
        raise ReceiptImportRejected(problems)

    category = BATCH_CATEGORIES[batch.kind]
    linked = 0
    for student_id, items in sorted(named.items()):
        receipt = _issue(uow, actor, batch, window, student_id, category, filename, now)
        for item in items:
            item.receipt_id, item.updated_at = receipt.id, now
            linked += 1
    batch.confirmation_window_id = window.id
    fire(uow.session, batch, "import_receipt", actor=actor, at=now,
         reason=f"{filename}：{len(named)} 位學生、{linked} 件")
    fire(uow.session, batch, "open_confirmation", actor=actor, at=now, reason=calendar.describe(window))
    uow.commit()
    return ImportedReceipts(batch.id, len(named), linked)


def _import_semester(uow: UnitOfWork, actor: Actor, batch: SubmissionBatch, window: Window,
                     rows: list[ReceiptRow], errors: list[RowError], filename: str,
                     now: datetime) -> ImportedReceipts:
    """A semester batch's receipts: one per student, covering the records the batch carried
    (read from the records when shown, workflows/central/portfolio_view.py); no item is linked."""
    row_errors, named, missing = _check_semester_rows(uow, batch, rows)
    problems = [str(e) for e in sorted([*errors, *row_errors], key=lambda e: e.line)]
    if not problems:  # a student a bad row meant to name would be listed twice
        problems = missing
    if not problems and not named:
        problems = ["第 1 行：檔案沒有任何收訖資料"]
    if problems:
        raise ReceiptImportRejected(problems)
    category = SEMESTER_BATCH_CATEGORIES[batch.kind]
    for student_id in sorted(named):
        _issue(uow, actor, batch, window, student_id, category, filename, now)
    batch.confirmation_window_id = window.id
    fire(uow.session, batch, "import_receipt", actor=actor, at=now,
         reason=f"{filename}：{len(named)} 位學生（{category_label(category)}）")
    fire(uow.session, batch, "open_confirmation", actor=actor, at=now, reason=calendar.describe(window))
    uow.commit()
    return ImportedReceipts(batch.id, len(named), 0)


# --------------------------------------------------------------------------- closing


def close_finished_batches(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> int:
    """確認期間結束: batches whose confirmation period has ended and whose receipts are all
    answered or deemed confirmed move to closed. Idempotent; run after the deem sweep. Does not
    commit (the caller's transaction). Returns the batches closed."""
    actor = actor or system()
    waiting = exists(select(Receipt.id).where(
        Receipt.school_id == SubmissionBatch.school_id, Receipt.batch_id == SubmissionBatch.id,
        Receipt.state == "issued"))
    ended = exists(select(Window.id).where(
        Window.school_id == SubmissionBatch.school_id, Window.id == SubmissionBatch.confirmation_window_id,
        Window.ends_at <= now))
    batches = uow.session.scalars(uow.select(SubmissionBatch).where(
        and_(SubmissionBatch.state == "confirmation_open", ended, ~waiting))
        .order_by(SubmissionBatch.id).with_for_update()).all()
    for batch in batches:
        fire(uow.session, batch, "close", actor=actor, at=now, reason="收訖明細確認期間結束，學生皆已確認或逾期視為確認")
        batch.closed_at = now
    return len(batches)
