"""Backups (備份) of the database and the file store, and their verified restore (還原).

A backup is a directory::

    manifest.json          what is in it: tables (row count, column kinds, SHA-256 of the table
                           file), files (SHA-256, size, whether a row names it), schema revision
    manifest.json.sha256   the manifest's own SHA-256, printed by `portfolio backup`
    tables/<table>.jsonl   one JSON object per row, primary-key order; dates and datetimes ISO
                           (datetimes in UTC), bytes base64: engine-neutral, so a SQLite backup
                           restores into PostgreSQL and back
    files/ab/cd/<sha256>   the stored files, laid out as in the store

Consistency. Every table is read in one transaction: PostgreSQL REPEATABLE READ READ ONLY (one
snapshot for all tables), SQLite one transaction that holds the database's write lock, as every
transaction here does (persistence/db.py). Files are content-addressed and an upload fsyncs its
file before the row that names it commits, so any file a snapshot row names was already in the
store when the snapshot began; copying the files after reading the rows therefore finds every
one of them. A row committed after the snapshot began is not in the backup, whether or not its
file is. The one way a named file could vanish meanwhile is the retention sweep removing files
of purged rows (workflows/deadlines/retention.remove_files): the backup holds the file-store lock
(persistence/locks.py) shared, as uploads do, until the named files are copied, so that sweep
waits. Files in the store that no snapshot row names (an upload not yet committed, a purged
file not yet removed) are copied too and listed with ``referenced: false``.

The backup is written into a temporary directory beside its destination, every file fsync'ed,
then renamed into place: a backup directory that exists is complete.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, MetaData, Table, func, select, text, types

from persistence import locks
from persistence.db import Database, make_engine
from persistence.files import CHUNK_BYTES, LocalFileStore, fsync_dir
from persistence.fsck import file_column_names
from persistence.migrate import alembic_config, current_revision, upgrade

FORMAT = "portfolio-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_HASH = "manifest.json.sha256"
TABLES_DIR = "tables"
FILES_DIR = "files"
INSERT_CHUNK = 500
# alembic_version: the revision is recorded in the manifest instead. sign_in_sessions: a restore
# must not bring back sessions and API tokens that were signed out or ended after the snapshot;
# everyone signs in again on the restored service.
SKIPPED_TABLES = {"alembic_version", "sign_in_sessions"}

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FILE_COLUMN_NAMES = file_column_names()


class BackupError(RuntimeError):
    """The backup could not be written or restored; `message` says why (zh-TW)."""

    def __init__(self, message: str, problems: list["Problem"] | None = None) -> None:
        self.message = message
        self.problems = problems or []
        super().__init__(message)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a backup or a restored copy: kind is missing, corrupt or extra."""

    kind: str
    name: str
    detail: str

    def __str__(self) -> str:
        label = {"missing": "缺少", "corrupt": "內容不符", "extra": "多出"}.get(self.kind, self.kind)
        return f"{label}：{self.name}（{self.detail}）"


@dataclass
class BackupResult:
    path: Path
    rows: dict[str, int]
    files: int
    referenced_files: int
    manifest_sha256: str
    revision: str | None
    problems: list[Problem] = field(default_factory=list)  # named files absent or damaged in the store


@dataclass
class RestoreResult:
    rows: dict[str, int]
    files: int
    revision: str | None


# --------------------------------------------------------------------------- values


def _kind(column_type) -> str:
    """How a column's values are written: the engine-neutral kind of its type."""
    if isinstance(column_type, types.DateTime):
        return "datetime"
    if isinstance(column_type, types.Date):
        return "date"
    if isinstance(column_type, types.LargeBinary):
        return "bytes"
    if isinstance(column_type, types.Boolean):
        return "bool"
    if isinstance(column_type, types.Float):
        return "float"
    if isinstance(column_type, types.Integer):
        return "int"
    return "str"


def _encode(value, kind: str):
    if value is None:
        return None
    if kind == "datetime":
        # SQLite keeps UTC without an offset (persistence/tables.UTCDateTime).
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat()
    if kind == "date":
        return value.isoformat()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "bool":
        return bool(value)
    return value


def _decode(value, kind: str, dialect: str):
    if value is None:
        return None
    if kind == "datetime":
        moment = datetime.fromisoformat(value).astimezone(timezone.utc)
        return moment.replace(tzinfo=None) if dialect == "sqlite" else moment
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "bytes":
        return base64.b64decode(value)
    return value


def encode_rows(connection: Connection, table: Table) -> Iterator[dict]:
    """Every row of ``table`` in primary-key order, engine-neutral (what a table file holds)."""
    kinds = {c.name: _kind(c.type) for c in table.columns}
    order = list(table.primary_key.columns) or list(table.columns)
    for row in connection.execute(select(table).order_by(*order)).mappings():
        yield {name: _encode(row[name], kind) for name, kind in kinds.items()}


def named_hashes(table: str, row: dict) -> set[str]:
    """The stored files a row of `table` names: its columns in persistence/fsck.FILE_COLUMNS
    (the audit log's hashes and an export's workbook hash are records, not stored files)."""
    columns = _FILE_COLUMN_NAMES.get(table, ())
    return {value for name, value in row.items()
            if name in columns and isinstance(value, str) and _SHA256.fullmatch(value)}


# --------------------------------------------------------------------------- writing


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _copy_checked(source: Path, target: Path, sha256: str) -> tuple[str, int]:
    """Copy, hashing what is read; returns the content's (sha256, size). The copy is fsync'ed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def _file_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256[2:4] / sha256


def _fsync_tree(root: Path) -> None:
    for directory, _dirs, _files in os.walk(root, topdown=False):
        fsync_dir(Path(directory))


def _snapshot_connection(db: Database):
    """A connection whose one transaction sees one state of every table."""
    if db.dialect == "postgresql":
        return db.engine.connect().execution_options(isolation_level="REPEATABLE READ",
                                                     postgresql_readonly=True)
    return db.engine.connect()  # BEGIN IMMEDIATE: writers wait until the snapshot is copied


def write_backup(db: Database, files: LocalFileStore, out_dir: Path | str, *, now: datetime) -> BackupResult:
    """Write a consistent backup of ``db`` and ``files`` to ``out_dir`` (which must not exist or
    be empty). Named files missing or damaged in the store do not stop the backup: they are
    listed in the manifest (``problems``) and in the result, for the operator to act on."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise BackupError(f"備份目錄已存在且不是空的：{out_dir}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.partial-"))
    try:
        manifest, problems = _write_into(db, files, work, now)
        data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        manifest_sha256 = hashlib.sha256(data).hexdigest()
        _write_durably(work / MANIFEST, data)
        _write_durably(work / MANIFEST_HASH, f"{manifest_sha256}  {MANIFEST}\n".encode("ascii"))
        _fsync_tree(work)
        if out_dir.exists():
            out_dir.rmdir()
        os.rename(work, out_dir)
        fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupResult(path=out_dir, rows={t["name"]: t["rows"] for t in manifest["tables"]},
                        files=len(manifest["files"]),
                        referenced_files=sum(1 for f in manifest["files"] if f["referenced"]),
                        manifest_sha256=manifest_sha256, revision=manifest["schema_revision"],
                        problems=problems)


def _write_into(db: Database, files: LocalFileStore, work: Path, now: datetime) -> tuple[dict, list[Problem]]:
    tables_meta, named = [], set()
    copied: dict[str, dict] = {}
    problems: list[Problem] = []
    with _snapshot_connection(db) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # The snapshot starts with this statement; the lock keeps retention's file removal
            # out until the files the snapshot names are copied.
            connection.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"),
                               {"key": locks.key_of(locks.FILE_STORE)})
        metadata = MetaData()
        metadata.reflect(bind=connection)
        revision = None
        if "alembic_version" in metadata.tables:
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        for table in metadata.sorted_tables:
            if table.name in SKIPPED_TABLES:
                continue
            path = work / TABLES_DIR / f"{table.name}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            digest, count = hashlib.sha256(), 0
            with open(path, "wb") as f:
                for row in encode_rows(connection, table):
                    named |= named_hashes(table.name, row)
                    line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
                    digest.update(line)
                    f.write(line)
                    count += 1
                f.flush()
                os.fsync(f.fileno())
            tables_meta.append({"name": table.name, "file": f"{TABLES_DIR}/{table.name}.jsonl",
                                "rows": count, "sha256": digest.hexdigest(),
                                "columns": [{"name": c.name, "kind": _kind(c.type)} for c in table.columns]})
        for sha256 in sorted(named):
            _copy_one(files, work, sha256, True, copied, problems)
    # Unnamed files cannot affect the snapshot's consistency: copied after the lock is released.
    for sha256 in files.iter_hashes():
        if sha256 not in copied:
            _copy_one(files, work, sha256, False, copied, problems)
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "created_at": now.astimezone(timezone.utc).isoformat(),
                "source_dialect": db.dialect, "schema_revision": revision,
                "tables": tables_meta,
                "files": [copied[h] for h in sorted(copied)],
                "problems": [{"kind": p.kind, "name": p.name, "detail": p.detail} for p in problems]}
    return manifest, problems


def _copy_one(files: LocalFileStore, work: Path, sha256: str, referenced: bool,
              copied: dict[str, dict], problems: list[Problem]) -> None:
    source = _file_path(files.root, sha256)
    target = _file_path(work / FILES_DIR, sha256)
    if not source.is_file():
        problems.append(Problem("missing", sha256, "資料列指向的檔案不在檔案庫中"))
        return
    digest, size = _copy_checked(source, target, sha256)
    if digest != sha256:
        target.unlink()
        problems.append(Problem("corrupt", sha256, f"檔案庫中的內容雜湊為 {digest}，未備份此檔"))
        return
    copied[sha256] = {"sha256": sha256, "size": size, "referenced": referenced}


# --------------------------------------------------------------------------- verifying


def read_manifest(backup_dir: Path | str) -> dict:
    backup_dir = Path(backup_dir)
    try:
        manifest = json.loads((backup_dir / MANIFEST).read_bytes())
    except FileNotFoundError:
        raise BackupError(f"找不到備份清單 {MANIFEST}：{backup_dir}") from None
    except ValueError as error:
        raise BackupError(f"備份清單 {MANIFEST} 無法解讀：{error}") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"不是本系統可讀的備份格式（format {manifest.get('format')!r}，"
                          f"版本 {manifest.get('format_version')!r}，需為 {FORMAT} 版本 {FORMAT_VERSION}）")
    return manifest


def verify_backup(backup_dir: Path | str) -> tuple[dict, list[Problem]]:
    """Check every table file and stored file against the manifest; every mismatch is listed
    (missing, corrupt, extra). Reads only."""
    backup_dir = Path(backup_dir)
    manifest = read_manifest(backup_dir)
    problems: list[Problem] = []
    recorded = (backup_dir / MANIFEST_HASH)
    if recorded.is_file():
        actual, _ = _sha256_file(backup_dir / MANIFEST)
        expected = (recorded.read_text(encoding="ascii", errors="replace").split() or [""])[0]
        if actual != expected:
            problems.append(Problem("corrupt", MANIFEST, f"雜湊應為 {expected}，實為 {actual}"))
    else:
        problems.append(Problem("missing", MANIFEST_HASH, "備份清單的雜湊檔不在"))
    listed_tables = set()
    for table in manifest["tables"]:
        path = backup_dir / table["file"]
        listed_tables.add(path.resolve())
        if not path.is_file():
            problems.append(Problem("missing", table["file"], f"資料表 {table['name']} 的資料檔不在"))
            continue
        actual, _ = _sha256_file(path)
        if actual != table["sha256"]:
            problems.append(Problem("corrupt", table["file"], f"雜湊應為 {table['sha256']}，實為 {actual}"))
            continue
        with open(path, "rb") as f:
            lines = sum(1 for _ in f)
        if lines != table["rows"]:
            problems.append(Problem("corrupt", table["file"], f"應有 {table['rows']} 列，實有 {lines} 列"))
    tables_dir = backup_dir / TABLES_DIR
    if tables_dir.is_dir():
        for path in sorted(tables_dir.iterdir()):
            if path.resolve() not in listed_tables:
                problems.append(Problem("extra", f"{TABLES_DIR}/{path.name}", "備份清單沒有列出此檔"))
    listed_files = set()
    for entry in manifest["files"]:
        sha256 = entry["sha256"]
        name = f"{FILES_DIR}/{sha256[:2]}/{sha256[2:4]}/{sha256}"
        if not _SHA256.fullmatch(sha256):
            problems.append(Problem("corrupt", name, "備份清單中的雜湊格式錯誤"))
            continue
        listed_files.add(sha256)
        path = _file_path(backup_dir / FILES_DIR, sha256)
        if not path.is_file():
            problems.append(Problem("missing", name, f"{entry['size']:,} 位元組的檔案不在"))
            continue
        actual, size = _sha256_file(path)
        if size != entry["size"]:
            problems.append(Problem("corrupt", name, f"大小應為 {entry['size']:,} 位元組，實為 {size:,}"))
        elif actual != sha256:
            problems.append(Problem("corrupt", name, f"內容雜湊為 {actual}"))
    files_dir = backup_dir / FILES_DIR
    if files_dir.is_dir():
        for path in sorted(p for p in files_dir.rglob("*") if p.is_file()):
            if path.name not in listed_files or path != _file_path(files_dir, path.name):
                problems.append(Problem("extra", path.relative_to(backup_dir).as_posix(), "備份清單沒有列出此檔"))
    return manifest, problems


# --------------------------------------------------------------------------- restoring


def _known_revision(revision: str | None) -> None:
    if revision is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config(None))
    try:
        found = scripts.get_revision(revision)
    except CommandError:
        found = None
    if found is None:
        raise BackupError(f"備份的資料庫結構版本 {revision} 比本程式新（本程式最新為 {scripts.get_current_head()}），"
                          "請以較新版本的程式還原")


def _target_problems(engine, data_dir: Path) -> list[str]:
    reasons = []
    if data_dir.exists():
        stored = [p for p in data_dir.rglob("*") if p.is_file()]
        if stored:
            reasons.append(f"檔案目錄 {data_dir} 不是空的（已有 {len(stored)} 個檔案）")
    with engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(bind=connection)
        filled = [f"{t.name}（{n} 列）" for t in metadata.sorted_tables if t.name not in SKIPPED_TABLES
                  for n in [connection.execute(select(func.count()).select_from(t)).scalar_one()] if n]
    if filled:
        reasons.append(f"資料庫已有資料：{'、'.join(filled[:5])}{' 等' if len(filled) > 5 else ''}")
    return reasons


def restore_backup(backup_dir: Path | str, db_url: str, data_dir: Path | str) -> RestoreResult:
    """Restore a verified backup into an empty database and an empty file directory.

    Nothing is written until the whole backup is verified and the target found empty; then the
    files go into the store (fsync'ed, as uploads), the schema is migrated to the backup's
    revision and every row is inserted in one transaction; finally every table's row count and
    every stored file's hash are checked again in the target."""
    backup_dir, data_dir = Path(backup_dir), Path(data_dir)
    manifest, problems = verify_backup(backup_dir)
    if problems:
        raise BackupError(f"備份驗證失敗，共 {len(problems)} 項不符，未寫入任何資料", problems)
    revision = manifest["schema_revision"]
    _known_revision(revision)
    engine = make_engine(db_url)
    try:
        reasons = _target_problems(engine, data_dir)
        if reasons:
            raise BackupError("還原目標不是空的，未寫入任何資料：" + "；".join(reasons))
        current = current_revision(engine)
        if current not in (None, revision):
            raise BackupError(f"目標資料庫的結構版本 {current} 與備份的 {revision} 不同，請還原到全新的資料庫")
        store = LocalFileStore(data_dir)
        for entry in manifest["files"]:
            with open(_file_path(backup_dir / FILES_DIR, entry["sha256"]), "rb") as f:
                stored = store.put(f, max_bytes=entry["size"])
            if stored.sha256 != entry["sha256"]:
                raise BackupError(f"寫入檔案庫的檔案 {entry['sha256']} 雜湊不符（{stored.sha256}）")
        if revision is not None:
            upgrade(engine, revision)
        _insert_rows(engine, backup_dir, manifest)
        _verify_target(engine, store, manifest)
    finally:
        engine.dispose()
    return RestoreResult(rows={t["name"]: t["rows"] for t in manifest["tables"]},
                         files=len(manifest["files"]), revision=revision)


def _insert_rows(engine, backup_dir: Path, manifest: dict) -> None:
    dialect = engine.dialect.name
    with engine.begin() as connection:
        metadata = MetaData()
        metadata.reflect(bind=connection)
        for entry in manifest["tables"]:
            table = metadata.tables.get(entry["name"])
            if table is None:
                raise BackupError(f"目標資料庫沒有資料表 {entry['name']}（結構版本 {manifest['schema_revision']}）")
            kinds = {c["name"]: c["kind"] for c in entry["columns"]}
            unknown = set(kinds) - set(table.columns.keys())
            if unknown:
                raise BackupError(f"目標資料表 {entry['name']} 沒有欄位：{', '.join(sorted(unknown))}")
            chunk = []
            with open(backup_dir / entry["file"], encoding="utf-8") as f:
                for line in f:
                    row = json.loads(line)
                    chunk.append({name: _decode(row.get(name), kind, dialect) for name, kind in kinds.items()})
                    if len(chunk) >= INSERT_CHUNK:
                        connection.execute(table.insert(), chunk)
                        chunk = []
            if chunk:
                connection.execute(table.insert(), chunk)
            if dialect == "postgresql":
                _reset_sequences(connection, table)


def _reset_sequences(connection: Connection, table: Table) -> None:
    """Rows came with their ids: the next generated id must follow the largest one."""
    for column in table.primary_key.columns:
        if not isinstance(column.type, types.Integer):
            continue
        sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                      {"t": f'"{table.name}"', "c": column.name}).scalar()
        if sequence:
            connection.execute(text(f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'),
                               {"s": sequence})


def _verify_target(engine, store: LocalFileStore, manifest: dict) -> None:
    problems = []
    with engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(bind=connection)
        for entry in manifest["tables"]:
            count = connection.execute(select(func.count()).select_from(metadata.tables[entry["name"]])).scalar_one()
            if count != entry["rows"]:
                problems.append(Problem("corrupt", entry["name"], f"還原後有 {count} 列，應為 {entry['rows']} 列"))
    for entry in manifest["files"]:
        if not store.verify(entry["sha256"]):
            problems.append(Problem("corrupt", store.path_hint(entry["sha256"]), "還原後重新讀取的雜湊不符"))
    if problems:
        raise BackupError(f"還原後驗證失敗，共 {len(problems)} 項不符", problems)

