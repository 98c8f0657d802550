"""`portfolio fsck`: every stored file against its hash, every row against its file; `--repair`
removes orphans (and leftover temporary files) only. SQLite and PostgreSQL."""
from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from persistence.fsck import check, repair
from persistence.tables import Item
from tests import samples
from tests.artifacts import update_json
from tests.world import World
from web.cli import main

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability"


@pytest.fixture
def world(db, files) -> World:
    return World(db, files)


def _fsck(db, files, *args):
    url = db.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["--db", url, "--data-dir", str(files.root), "fsck", *args])


def _document(world, item_id: int) -> str:
    with world.uow() as uow:
        return uow.get(Item, item_id).document_sha256


def _path(files, sha256: str) -> Path:
    return Path(files.path_hint(sha256))


def _orphan(files, marker: str) -> str:
    """Bytes in the store that no row names (an upload whose commit never came)."""
    return files.put(io.BytesIO(samples.pdf(marker)), max_bytes=10_000).sha256


def test_a_clean_store_is_clean(world, db, files):
    world.upload(0, title="甲")
    world.upload(1, title="乙")
    report = check(db, files)
    assert report.clean and report.files_checked == 2 and report.references_checked == 2
    result = _fsck(db, files)
    assert result.exit_code == 0, result.output
    assert "已檢查檔案 2 個" in result.output and "檔案庫正常" in result.output


def test_a_missing_file_names_its_rows(world, db, files):
    item_id = world.upload(0, title="甲")
    sha256 = _document(world, item_id)
    _path(files, sha256).unlink()
    report = check(db, files)
    assert [p.sha256 for p in report.missing] == [sha256]
    assert [(r.table, r.row_id, r.column, r.school_code) for r in report.missing[0].rows] == [
        ("items", item_id, "document_sha256", world.code)]
    assert not report.corrupt and not report.orphaned
    result = _fsck(db, files, "--repair")  # nothing to repair: still a problem
    assert result.exit_code == 1
    assert f"遺失（資料列指向的檔案不在檔案庫中）：{sha256}" in result.output
    assert f"學習歷程項目 #{item_id}（document_sha256，學校 {world.code}）" in result.output


def test_a_corrupt_file_is_reported_and_never_removed(world, db, files):
    item_id = world.upload(0, title="甲")
    sha256 = _document(world, item_id)
    path = _path(files, sha256)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    report = check(db, files)
    assert [p.sha256 for p in report.corrupt] == [sha256] and report.corrupt[0].rows[0].row_id == item_id
    assert not report.missing and not report.orphaned
    result = _fsck(db, files, "--repair")
    assert result.exit_code == 1 and f"毀損（內容與 SHA-256 不符）：{sha256}" in result.output
    assert path.exists()


def test_repair_removes_only_the_orphan(world, db, files):
    item_id = world.upload(0, title="甲")
    kept = _document(world, item_id)
    orphan = _orphan(files, "無人引用")
    old = files.tmp / "put-interrupted.part"
    old.write_bytes(b"%PDF-1.4 half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    young = files.tmp / "put-in-progress.part"  # may be an upload still writing
    young.write_bytes(b"%PDF")

    result = _fsck(db, files)
    assert result.exit_code == 1
    assert f"無人引用：{orphan}" in result.output and "暫存檔 1 個" in result.output
    assert str(old) in result.output and str(young) not in result.output

    repaired = _fsck(db, files, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "已刪除無人引用的檔案 1 個、暫存檔 1 個" in repaired.output
    assert not files.exists(orphan) and not old.exists() and young.exists()
    assert files.exists(kept) and files.verify(kept)
    assert check(db, files).clean
    assert _fsck(db, files).exit_code == 0


def test_repair_keeps_a_file_a_row_names_since_the_check(world, db, files):
    """The report is old by the time repair runs: each orphan is checked again under the lock."""
    item_id = world.upload(0, title="甲")
    orphan = _orphan(files, "剛被引用")
    report = check(db, files)
    assert [p.sha256 for p in report.orphaned] == [orphan]
    with world.uow() as uow:  # an upload storing the same bytes commits meanwhile
        uow.session.execute(update(Item).where(Item.id == item_id).values(media_sha256=orphan))
        uow.session.commit()
    removed = repair(db, files, report)
    assert removed.orphans == [] and files.exists(orphan)
    assert check(db, files).clean


def test_every_problem_at_once_repair_fixes_only_orphans(world, db, files):
    missing_item, corrupt_item, good_item = (world.upload(n, title=t) for n, t in enumerate("甲乙丙"))
    missing, corrupt, good = (_document(world, i) for i in (missing_item, corrupt_item, good_item))
    _path(files, missing).unlink()
    path = _path(files, corrupt)
    path.chmod(0o644)
    path.write_bytes(b"%PDF-1.4 replaced")
    orphans = sorted(_orphan(files, f"孤兒{n}") for n in range(3))

    report = check(db, files)
    figures = {"files_checked": report.files_checked, "references_checked": report.references_checked,
               "missing": len(report.missing), "corrupt": len(report.corrupt),
               "orphaned": len(report.orphaned)}
    assert figures == {"files_checked": 5, "references_checked": 3, "missing": 1, "corrupt": 1, "orphaned": 3}
    assert [p.sha256 for p in report.orphaned] == orphans
    result = _fsck(db, files, "--repair")
    assert result.exit_code == 1 and "已刪除無人引用的檔案 3 個" in result.output
    assert "請自備份還原" in result.output
    after = check(db, files)
    assert [p.sha256 for p in after.missing] == [missing] and [p.sha256 for p in after.corrupt] == [corrupt]
    assert not after.orphaned and files.verify(good) and path.exists()
    figures["removed_by_repair"] = 3
    print(f"fsck ({db.dialect}): {figures}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    update_json(ARTIFACTS / "fsck.json", lambda recorded: recorded.update({db.dialect: figures}), indent=1)
