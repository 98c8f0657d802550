"""`write_backup` → `restore_backup` (issue 6): every row and every file come back, on both
engines and across them; a damaged backup is reported by name and nothing is written."""
from __future__ import annotations

import json
import uuid
from io import BytesIO

import pytest
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url

from persistence.backup import BackupError, encode_rows, restore_backup, verify_backup, write_backup
from persistence.db import Database, make_engine
from persistence.files import LocalFileStore
from workflows.core.actors import platform_admin
from workflows.school.schools import create_school

from tests import samples
from tests.conftest import PG_URL
from tests.world import AFTER_SELECTION, IN_RECEIPT, World


def dump(url_or_engine) -> dict[str, list[dict]]:
    """Every table's rows, engine-neutral."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    with engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(bind=connection)
        rows = {t.name: list(encode_rows(connection, t)) for t in metadata.sorted_tables
                if t.name != "alembic_version"}
    if isinstance(url_or_engine, str):
        engine.dispose()
    return rows


@pytest.fixture
def world(db, files) -> World:
    """Items with files in several states, audit rows, receipts, and one stored file that no row
    names (an upload whose row never committed)."""
    w = World(db, files, students=3)
    w.to_receipts(students=(0, 1))
    w.upload(2, title="草稿")
    files.put(BytesIO(samples.pdf("孤兒檔")), max_bytes=10_000_000)
    return w


def _fresh_pg_database(base_url: str):
    source = make_url(base_url)
    name = f"{source.database}_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_restore_url(db):
    """A fresh PostgreSQL database beside the test one when the source is PostgreSQL, dropped
    afterwards; None on SQLite."""
    if db.dialect != "postgresql":
        yield None
        return
    yield from _fresh_pg_database(db.engine.url.render_as_string(hide_password=False))


@pytest.fixture
def other_engine_url(db, tmp_path, request):
    """An empty database on the other engine: PostgreSQL for a SQLite source (skips without a
    server), SQLite for a PostgreSQL source."""
    if db.dialect == "postgresql":
        yield f"sqlite:///{tmp_path / 'other.sqlite3'}"
        return
    request.getfixturevalue("pg_engine")
    yield from _fresh_pg_database(PG_URL)


def assert_restored(source_db, files, target_url, target_dir):
    assert dump(target_url) == dump(source_db.engine)
    restored = LocalFileStore(target_dir)
    stored = sorted(files.iter_hashes())
    assert sorted(restored.iter_hashes()) == stored
    assert all(restored.verify(h) for h in stored)


def test_round_trip_restores_every_row_and_file(db, files, world, tmp_path, pg_restore_url):
    result = write_backup(db, files, tmp_path / "backup", now=IN_RECEIPT)
    assert result.rows["items"] == 3 and result.rows["receipts"] == 2 and result.rows["audit_log"] > 5
    stored = len(list(files.iter_hashes()))
    assert result.files == stored and result.referenced_files == stored - 1 and not result.problems

    sqlite_url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    restored = restore_backup(tmp_path / "backup", sqlite_url, tmp_path / "restored-files")
    assert restored.rows == result.rows and restored.files == stored
    assert_restored(db, files, sqlite_url, tmp_path / "restored-files")

    if pg_restore_url:
        restore_backup(tmp_path / "backup", pg_restore_url, tmp_path / "pg-files")
        assert_restored(db, files, pg_restore_url, tmp_path / "pg-files")
        # New rows get new ids after the restored ones (sequences follow the restored ids).
        target = Database.from_url(pg_restore_url)
        try:
            assert create_school(target, platform_admin(), code="013302", name="另一校",
                                 policy="xinzhuang", now=AFTER_SELECTION) > world.school_id
        finally:
            target.dispose()


def test_a_backup_crosses_engines_and_back(db, files, world, tmp_path, other_engine_url):
    """SQLite → PostgreSQL → SQLite, or PostgreSQL → SQLite → PostgreSQL's format: same rows, same files."""
    write_backup(db, files, tmp_path / "first", now=IN_RECEIPT)
    restore_backup(tmp_path / "first", other_engine_url, tmp_path / "other-files")
    assert_restored(db, files, other_engine_url, tmp_path / "other-files")
    other = Database.from_url(other_engine_url)
    try:
        write_backup(other, LocalFileStore(tmp_path / "other-files"), tmp_path / "second", now=IN_RECEIPT)
    finally:
        other.dispose()
    final_url = f"sqlite:///{tmp_path / 'final.sqlite3'}"
    restore_backup(tmp_path / "second", final_url, tmp_path / "final-files")
    assert_restored(db, files, final_url, tmp_path / "final-files")


def _stored_file(backup, manifest, referenced=True):
    sha256 = next(f["sha256"] for f in manifest["files"] if f["referenced"] is referenced)
    return sha256, backup / "files" / sha256[:2] / sha256[2:4] / sha256


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["stored file byte", "table file edited", "file missing"])
def test_a_damaged_backup_is_reported_by_name_and_nothing_is_written(db, files, world, tmp_path, damage):
    backup = tmp_path / "backup"
    write_backup(db, files, backup, now=IN_RECEIPT)
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    if damage == "stored file byte":
        sha256, path = _stored_file(backup, manifest)
        _flip_byte(path)
        expected = sha256
    elif damage == "table file edited":
        path = backup / "tables" / "items.jsonl"
        path.write_text(path.read_text(encoding="utf-8").replace("作品", "作业", 1), encoding="utf-8")
        expected = "tables/items.jsonl"
    else:
        sha256, path = _stored_file(backup, manifest, referenced=False)
        path.unlink()
        expected = sha256

    _, problems = verify_backup(backup)
    assert [expected in p.name for p in problems] == [True]

    target = tmp_path / "target.sqlite3"
    with pytest.raises(BackupError) as refused:
        restore_backup(backup, f"sqlite:///{target}", tmp_path / "target-files")
    assert any(expected in str(p) for p in refused.value.problems)
    assert not target.exists() and not (tmp_path / "target-files").exists()


def test_a_backup_from_a_newer_schema_is_refused(db, files, world, tmp_path):
    backup = tmp_path / "backup"
    write_backup(db, files, backup, now=IN_RECEIPT)
    manifest_path = backup / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["schema_revision"] = "9999_from_the_future"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    import hashlib
    (backup / "manifest.json.sha256").write_text(
        hashlib.sha256(manifest_path.read_bytes()).hexdigest() + "  manifest.json\n", encoding="ascii")
    target = tmp_path / "target.sqlite3"
    with pytest.raises(BackupError, match="9999_from_the_future"):
        restore_backup(backup, f"sqlite:///{target}", tmp_path / "target-files")
    assert not target.exists()


def test_restore_into_a_non_empty_target_is_refused(db, files, world, tmp_path):
    backup = tmp_path / "backup"
    write_backup(db, files, backup, now=IN_RECEIPT)
    url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    restore_backup(backup, url, tmp_path / "target-files")
    before = dump(url)

    with pytest.raises(BackupError, match="資料庫已有資料"):
        restore_backup(backup, url, tmp_path / "other-files")
    assert not (tmp_path / "other-files").exists()
    with pytest.raises(BackupError, match="檔案目錄 .* 不是空的"):
        restore_backup(backup, f"sqlite:///{tmp_path / 'fresh.sqlite3'}", tmp_path / "target-files")
    assert dump(url) == before


def test_backup_refuses_a_non_empty_destination(db, files, world, tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "old.txt").write_text("x")
    with pytest.raises(BackupError, match="不是空的"):
        write_backup(db, files, tmp_path / "backup", now=IN_RECEIPT)
    assert [p.name for p in (tmp_path / "backup").iterdir()] == ["old.txt"]


def test_a_restore_brings_back_no_sign_in_session(db, files, world, tmp_path):
    """A session or API token signed out after the snapshot must not open the restored service:
    sign_in_sessions is left out of every backup, and everyone signs in again."""
    from datetime import timedelta

    from workflows.people import accounts, sign_in_sessions
    from workflows.core.clock import utc_now

    with world.uow() as uow:
        account = accounts.create_account(uow, platform_admin(), username="stu0.backup", password="a long password",
                                          kind="student", student_id=world.student_ids[0])
        uow.commit()
    lifetimes = sign_in_sessions.Lifetimes(absolute=timedelta(hours=8))
    value = sign_in_sessions.start_session(db, account, "web", lifetimes, utc_now())
    result = write_backup(db, files, tmp_path / "backup", now=IN_RECEIPT)
    assert "sign_in_sessions" not in result.rows and result.rows["accounts"] == 1
    target_url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    restore_backup(tmp_path / "backup", target_url, tmp_path / "restored-files")
    restored = Database.from_url(target_url)
    try:
        assert sign_in_sessions.signed_in_account(restored, value, "web", lifetimes, utc_now()) is None
        with restored.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM sign_in_sessions")).scalar() == 0
    finally:
        restored.dispose()
