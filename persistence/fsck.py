"""The file-store check 檔案庫檢查 (`portfolio fsck`): every stored file against its name (its
SHA-256) and every row against its file.

Problems, platform-wide (the store is shared by every school):

- missing 遺失: a row names a file the store lacks (which rows are listed);
- corrupt 毀損: stored bytes no longer hash to the file's name;
- orphaned 無人引用: a stored file no row names (an upload whose commit never came, a replaced
  draft's old file, a crash between retention's two steps);
- leftover temporary files 暫存檔 of writes that were interrupted (older than a minute; a younger
  one may be an upload in progress).

`repair` removes orphans and leftover temporary files, nothing else: a missing or corrupt file
needs a backup (docs/backup.md), not a deletion. It holds the file-store lock exclusively, as
retention's `remove_files` does; an upload holds it shared from storing its file until its row
commits, so a file an upload has just stored (or found already stored) is never removed under
it. Each orphan is checked again under the lock.

`FILE_COLUMNS` is the one list of columns that name stored files: retention and backups use it.
"""
from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from persistence import locks
from persistence.db import Database
from persistence.files import FileStore, validate_sha256
from persistence.tables import ConsultationRecord, Item, School

# Every column naming a stored file; each table has school_id and student_id.
FILE_COLUMNS = (Item.document_sha256, Item.media_sha256, Item.certified_document_sha256,
                Item.certified_media_sha256, ConsultationRecord.file_sha256)
TABLE_LABELS = {Item.__tablename__: "學習歷程項目", ConsultationRecord.__tablename__: "課程諮詢紀錄"}
CHUNK = 500
TEMP_MIN_AGE_SECONDS = 60.0


def file_column_names() -> dict[str, frozenset[str]]:
    """{table name: names of its columns that name stored files}."""
    found: dict[str, set[str]] = defaultdict(set)
    for column in FILE_COLUMNS:
        found[column.class_.__tablename__].add(column.key)
    return {table: frozenset(names) for table, names in found.items()}


def referenced(session, hashes) -> set[str]:
    """Which of `hashes` a row of any school still names."""
    found: set[str] = set()
    hashes = list(hashes)
    for start in range(0, len(hashes), CHUNK):
        chunk = hashes[start:start + CHUNK]
        for column in FILE_COLUMNS:
            found |= set(session.scalars(select(column).where(column.in_(chunk)).distinct()))
    return found


@dataclass(frozen=True)
class RowRef:
    """One row naming a file."""

    table: str
    row_id: int
    column: str
    school_code: str

    def __str__(self) -> str:
        return f"{TABLE_LABELS.get(self.table, self.table)} #{self.row_id}（{self.column}，學校 {self.school_code}）"


@dataclass(frozen=True)
class FileProblem:
    sha256: str
    rows: tuple[RowRef, ...] = ()
    detail: str = ""


@dataclass
class FsckReport:
    files_checked: int = 0
    references_checked: int = 0
    missing: list[FileProblem] = field(default_factory=list)
    corrupt: list[FileProblem] = field(default_factory=list)
    orphaned: list[FileProblem] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.corrupt or self.orphaned or self.temp_files)

    @property
    def repairable_only(self) -> bool:
        """Only orphans and leftover temporary files: `repair` can fix all of it."""
        return not (self.missing or self.corrupt)


@dataclass
class Removed:
    orphans: list[str] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)


def _references(session) -> dict[str, list[RowRef]]:
    named: dict[str, list[RowRef]] = defaultdict(list)
    for column in FILE_COLUMNS:
        table = column.class_
        rows = session.execute(select(table.id, School.code, column)
                               .join(School, School.id == table.school_id)
                               .where(column.is_not(None)).order_by(table.id))
        for row_id, code, sha256 in rows:
            named[sha256].append(RowRef(table.__tablename__, row_id, column.key, code))
    return named


def _temp_files(files: FileStore, min_age: float) -> list[Path]:
    directory = getattr(files, "tmp", None)
    if directory is None or not Path(directory).is_dir():
        return []
    cutoff = time.time() - min_age
    found = []
    for entry in sorted(Path(directory).iterdir()):
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file() and entry.stat().st_mtime <= cutoff:
                found.append(entry)
    return found


def check(db: Database, files: FileStore, *, temp_min_age: float = TEMP_MIN_AGE_SECONDS) -> FsckReport:
    """Read every row naming a file and every stored file; change nothing."""
    with db.session() as session:
        named = _references(session)
    report = FsckReport(references_checked=sum(len(rows) for rows in named.values()))
    stored = set()
    for sha256 in files.iter_hashes():
        stored.add(sha256)
        report.files_checked += 1
        rows = tuple(named.get(sha256, ()))
        if not files.verify(sha256):
            report.corrupt.append(FileProblem(sha256, rows, f"內容雜湊與檔名不符：{files.path_hint(sha256)}"))
        if not rows:
            report.orphaned.append(FileProblem(sha256, (), files.path_hint(sha256)))
    for sha256 in sorted(set(named) - stored):
        detail = files.path_hint(sha256) if _valid(sha256) else "資料列中的雜湊格式不正確"
        report.missing.append(FileProblem(sha256, tuple(named[sha256]), detail))
    report.corrupt.sort(key=lambda p: p.sha256)
    report.orphaned.sort(key=lambda p: p.sha256)
    report.temp_files = _temp_files(files, temp_min_age)
    return report


def _valid(sha256: str) -> bool:
    try:
        validate_sha256(sha256)
    except ValueError:
        return False
    return True


def repair(db: Database, files: FileStore, report: FsckReport, *,
           temp_min_age: float = TEMP_MIN_AGE_SECONDS) -> Removed:
    """Remove the report's orphans that no row names now, and leftover temporary files; never
    anything else. Platform-wide: runs outside any school's unit of work."""
    removed = Removed()
    candidates = [p.sha256 for p in report.orphaned]
    with db.session() as session, session.begin():
        # On SQLite the transaction's BEGIN IMMEDIATE is the lock (uploads store their file
        # inside theirs); connecting takes it.
        session.connection()
        locks.hold(session, locks.FILE_STORE)
        keep = referenced(session, candidates)
        for sha256 in candidates:
            if sha256 not in keep and files.delete(sha256):
                removed.orphans.append(sha256)
        # Under the lock no upload is writing: an old temporary file is an interrupted write.
        for path in _temp_files(files, temp_min_age):
            if path in report.temp_files:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.temp_files.append(path)
    return removed
