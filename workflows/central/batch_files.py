"""Read models of the batch pages 提交批次: one batch with its entries, the events its state
allows and its audit trail; the roster types of a list of batches; the receipt import form's
windows; and the files of a batch's export on this server (workbook, manifest.json, files/),
found from the batch itself — never from a path someone sent — and streamed as one zip.

Nothing here changes data: the use cases are workflows/central/batches.py and workflows/central/receipt_import.py.
"""
from __future__ import annotations

import hashlib
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Iterator

from persistence.vocabulary import ITEM_KIND_OF_BATCH, TRACK_LABELS
from persistence.files import CHUNK_BYTES
from persistence.tables import BatchEntry, Student, SubmissionBatch, Window
from workflows.central import batches, roster
from workflows.school import calendar
from workflows.core.actors import Actor
from workflows.items.artefacts_view import OTHER_EVENT_LABELS, HistoryEntry, history, label_state
from workflows.core.errors import CorruptState, InvalidInput, NotFound
from workflows.central.receipt_import import BATCH_CATEGORIES, RECEIPT_LAYOUT
from workflows.core.transitions import allowed_events
from workflows.core.unit_of_work import UnitOfWork

# The events a person fires from the batch page; open_confirmation comes with the receipt
# import and close with the deadline sweep, so the page explains them instead of offering them.
PAGE_EVENTS = ("export", "submit", "cancel", "import_receipt")
# States after which corrected items can go in a resubmission batch (重新提交批次).
AFTER_SUBMISSION = ("submitted", "receipt_imported", "confirmation_open", "closed")
# Audit events of a batch that are not its machine's: its creation.
HISTORY_EVENTS = {**OTHER_EVENT_LABELS, "create": "建立批次"}
_SCHOOL_CODE = re.compile(r"[0-9A-Za-z]{1,16}")
_ROW_ERROR = re.compile(r"第 (\d+) 行(?:「([^」]*)」)?：(.*)", re.DOTALL)


@dataclass(frozen=True)
class EntryView:
    """One row of a batch (批次名單): a student and, in an item batch, one of their items."""

    student_no: str
    name: str
    class_name: str
    item_id: int | None
    item_title: str | None
    item_state_label: str | None
    resubmit_ready: bool  # resolved for resubmission: a resubmission batch can carry it


@dataclass(frozen=True)
class ExportFiles:
    """A batch's export on this server, as export_batch left it and the batch recorded it."""

    batch_id: int
    directory: Path
    workbook: Path
    manifest: Path
    files: tuple[Path, ...]  # the items' files, as manifest.json lists them
    workbook_sha256: str
    exported_at: datetime | None

    @property
    def zip_name(self) -> str:
        return f"{self.directory.name}.zip"


@dataclass(frozen=True)
class BatchDetail:
    row: batches.BatchRow
    academic_year: int
    semester: int
    track_label: str | None
    round: int
    roster_label: str | None
    carries_items: bool
    receipt_batch: bool  # its receipts come back through the receipt import
    events: tuple[tuple[str, str], ...]  # (event, label) the state allows, of PAGE_EVENTS
    all_events: tuple[tuple[str, str], ...]  # everything the diagram allows from the state
    entries: tuple[EntryView, ...]
    history: tuple[HistoryEntry, ...]
    export: ExportFiles | None
    confirmation_window: str | None
    resubmit_ready: int
    version: int  # the batch's, as the page shows it: export, submit and cancel carry it (stale-page guard)

    @property
    def students(self) -> int:
        return self.row.students

    @property
    def items(self) -> int:
        return self.row.items

    @property
    def may_resubmit(self) -> bool:
        return self.row.state in AFTER_SUBMISSION and self.resubmit_ready > 0

    @property
    def exported_on_another_server(self) -> bool:
        return self.row.export_sha256 is not None and self.export is None


@dataclass(frozen=True)
class ReceiptForm:
    """What the receipt import form offers: the receipt confirmation windows, the policy's
    minimum days and the file's columns (docs/receipts.md)."""

    minimum_days: int
    windows: tuple[tuple[int, str], ...]  # (window id, description): the batch's own, then its year's
    academic_year: int
    year_window_id: int | None  # the school's window of the batch's year
    batch_window_id: int | None  # the batch's own window (new dates create or move it)
    batch_label: str  # what the batch's own window is called
    columns: tuple[tuple[str, bool], ...]  # (header, required)

    @property
    def chosen_window_id(self) -> int | None:
        """Offered first: the batch's own dates once it has them, else its year's window."""
        return self.batch_window_id or self.year_window_id


@dataclass(frozen=True)
class ProblemRow:
    """One problem of a refused receipt file, as a table row: line (None: the whole batch),
    column, message."""

    line: int | None
    field: str
    message: str


def school_export_dir(uow: UnitOfWork, root: str | Path) -> Path:
    """Where this school's exports live under the server's export directory: one folder per
    school, so one school's export never sits beside another's."""
    code = uow.school.code
    if not _SCHOOL_CODE.fullmatch(code):
        raise CorruptState(f"學校代碼「{code}」無法作為資料夾名稱。")
    return Path(root) / code


def roster_labels(uow: UnitOfWork, rows: list[batches.BatchRow]) -> dict[int, str]:
    """{batch id: 名冊別 label} in one query; a batch mixing divisions (refused at export) or
    whose kind has no code shows none."""
    ids = [row.id for row in rows]
    if not ids:
        return {}
    found: dict[int, set[str]] = {}
    for batch_id, division in uow.session.execute(
            uow.select(BatchEntry.batch_id).add_columns(Student.division).join(
                Student, (Student.school_id == BatchEntry.school_id) & (Student.id == BatchEntry.student_id))
            .where(BatchEntry.batch_id.in_(ids)).distinct()):
        found.setdefault(batch_id, set()).add(division)
    rounds = dict(uow.session.execute(
        uow.select(SubmissionBatch.id).add_columns(SubmissionBatch.round)
        .where(SubmissionBatch.id.in_(ids), SubmissionBatch.track.is_not(None))).all())
    labels = {}
    for row in rows:
        divisions = found.get(row.id) or {"day"}
        if len(divisions) != 1:
            continue
        try:
            labels[row.id] = roster.roster_type(row.kind, division=divisions.pop(),
                                                grade12_round=rounds.get(row.id)).label
        except InvalidInput:  # a kind without a code: shown without one
            continue
    return labels


def batch_detail(uow: UnitOfWork, actor: Actor, batch_id: int, export_root: str | Path, *,
                 now: datetime | None = None) -> BatchDetail:
    """One batch as the submitting offices see it (Forbidden to anyone else; NotFound for an id
    not of this school)."""
    batches.require_submitter(uow, actor, now)
    batch = uow.get(SubmissionBatch, batch_id, what="提交批次")
    row = next(r for r in batches.list_batches(uow, actor, batch.academic_year, now=now) if r.id == batch.id)
    entries = []
    for student, item in batches.batch_entries(uow, actor, batch.id, now=now):
        entries.append(EntryView(
            student.student_no, student.name, student.class_name,
            item.id if item else None, item.title if item else None,
            label_state(item.kind, item.state) if item else None,
            bool(item and item.state == "resolved" and item.resolution == batches.RESUBMIT)))
    carried = set(uow.session.scalars(
        uow.select(BatchEntry.item_id).join(SubmissionBatch, (SubmissionBatch.school_id == BatchEntry.school_id)
                                            & (SubmissionBatch.id == BatchEntry.batch_id))
        .where(SubmissionBatch.resubmission_of_id == batch.id, SubmissionBatch.state != "cancelled")))
    allowed = tuple(allowed_events(batch))
    window = None
    if batch.confirmation_window_id is not None:
        found = uow.get(Window, batch.confirmation_window_id, what="收訖明細確認期間")
        window = calendar.describe(found, calendar.labels(uow, [found]).get(found.id))
    return BatchDetail(
        row=row, academic_year=batch.academic_year, semester=batch.semester,
        track_label=TRACK_LABELS.get(batch.track) if batch.track else None, round=batch.round,
        roster_label=roster_labels(uow, [row]).get(row.id),
        carries_items=batch.kind in ITEM_KIND_OF_BATCH,
        receipt_batch=batch.kind in BATCH_CATEGORIES,
        events=tuple(e for e in allowed if e[0] in PAGE_EVENTS), all_events=allowed,
        entries=tuple(entries), history=tuple(history(uow, "batch", batch.id, HISTORY_EVENTS)),
        export=_find_export(uow, batch, export_root), confirmation_window=window,
        resubmit_ready=sum(1 for e in entries if e.resubmit_ready and e.item_id not in carried),
        version=batch.version)


def receipt_form(uow: UnitOfWork, actor: Actor, batch_id: int, *, now: datetime | None = None) -> ReceiptForm:
    batches.require_submitter(uow, actor, now)
    batch = uow.get(SubmissionBatch, batch_id, what="提交批次")
    # The school's windows and this batch's own; another batch's dates are that batch's.
    found = [w for w in calendar.windows(uow) if w.kind == "receipt_confirmation"
             and w.batch_id in (None, batch.id)]
    found.sort(key=lambda w: (w.batch_id is None, w.academic_year != batch.academic_year,
                              -w.academic_year, w.starts_at))
    names = calendar.labels(uow, found)
    year_window = calendar.find(uow, "receipt_confirmation", batch.academic_year, 0)
    batch_window = calendar.find_batch_window(uow, batch.id)
    return ReceiptForm(
        minimum_days=uow.policy.receipt_confirmation_days,
        windows=tuple((w.id, f"{w.academic_year} 學年度{calendar.describe(w, names[w.id])}") for w in found),
        academic_year=batch.academic_year, year_window_id=year_window.id if year_window else None,
        batch_window_id=batch_window.id if batch_window else None,
        batch_label=calendar.batch_label(batch),
        columns=tuple((c.label, c.required) for c in RECEIPT_LAYOUT.columns))


def problem_rows(messages: list[str]) -> list[ProblemRow]:
    """A refused receipt file's messages (ReceiptImportRejected.errors, 「第 N 行「欄」：…」) as
    table rows; a message about the batch as a whole has no line."""
    rows = []
    for message in messages:
        matched = _ROW_ERROR.fullmatch(message)
        if matched:
            rows.append(ProblemRow(int(matched.group(1)), matched.group(2) or "", matched.group(3)))
        else:
            rows.append(ProblemRow(None, "", message))
    return rows


# --------------------------------------------------------------------------- the export on disk


def export_files(uow: UnitOfWork, actor: Actor, batch_id: int, export_root: str | Path, *,
                 now: datetime | None = None) -> ExportFiles:
    """The batch's export on this server, for download by the submitting offices; NotFound when
    there is none or it is no longer the one the batch recorded (export again)."""
    batches.require_submitter(uow, actor, now)
    batch = uow.get(SubmissionBatch, batch_id, what="提交批次")
    found = _find_export(uow, batch, export_root)
    if found is None:
        raise NotFound(f"批次 #{batch.id} 在本伺服器上沒有與紀錄相符的匯出檔案，請先匯出名冊。")
    return found


def _inside(base: Path, relative: str) -> Path | None:
    """`relative` (from manifest.json) under `base`, or None if it would leave it."""
    pure = PurePosixPath(relative)
    if pure.is_absolute() or not pure.parts or any(p in ("", ".", "..") for p in pure.parts):
        return None
    path = base.joinpath(*pure.parts)
    try:
        path.resolve().relative_to(base.resolve())
    except ValueError:
        return None
    return path


def _find_export(uow: UnitOfWork, batch: SubmissionBatch, export_root: str | Path) -> ExportFiles | None:
    if not batch.export_sha256:
        return None
    directory = school_export_dir(uow, export_root) / f"batch-{batch.id}"
    manifest_path = directory / roster.MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        workbook = _inside(directory, manifest["workbook"]["path"])
        files = [_inside(directory, entry["path"]) for entry in manifest.get("files", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if workbook is None or None in files or manifest.get("batch_id") != batch.id:
        return None
    # The export on disk must be the one the batch recorded: a directory left from another
    # database, or replaced by hand, is not offered for download.
    try:
        with open(workbook, "rb") as f:
            digest = hashlib.sha256()
            while chunk := f.read(CHUNK_BYTES):
                digest.update(chunk)
    except OSError:
        return None
    if digest.hexdigest() != batch.export_sha256:
        return None
    return ExportFiles(batch.id, directory, workbook, manifest_path, tuple(files),
                       batch.export_sha256, batch.exported_at)


class _Chunks:
    """A write-only sink zipfile writes to; what was written is taken out piece by piece, so the
    archive streams without being built in memory or on disk."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def zip_stream(export: ExportFiles) -> Iterator[bytes]:
    """The whole export (workbook, manifest.json, files/) as a zip under `batch-<id>/`, in pieces.
    Each item file is checked against its manifest hash on the way: a file changed on disk stops
    the archive before its end, so no complete zip ever disagrees with its manifest."""
    manifest = json.loads(export.manifest.read_text(encoding="utf-8"))
    expected = {export.workbook: export.workbook_sha256}
    for path, entry in zip(export.files, manifest.get("files", [])):
        expected[path] = entry.get("sha256")
    sink = _Chunks()
    prefix = export.directory.name
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in (export.workbook, export.manifest, *export.files):
            name = f"{prefix}/{path.relative_to(export.directory).as_posix()}"
            digest = hashlib.sha256()
            with open(path, "rb") as source, archive.open(name, "w", force_zip64=True) as target:
                while chunk := source.read(CHUNK_BYTES):
                    digest.update(chunk)
                    target.write(chunk)
                    yield sink.take()
            if path in expected and digest.hexdigest() != expected[path]:
                raise CorruptState(f"匯出檔案 {name} 的內容與 manifest.json 的 SHA-256 不符，已停止下載；請重新匯出。")
            yield sink.take()
    yield sink.take()

