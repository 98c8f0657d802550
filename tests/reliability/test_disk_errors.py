"""Disk full / write error on the file store, injected at each step of storing an upload: the
upload is refused with a clear message (507 when there is no room, 503 for a failing disk),
nothing is acknowledged, no row, no audit row, no temporary file is left, and the next upload
works. SQLite and PostgreSQL, through the JSON API."""
from __future__ import annotations

import errno
import hashlib
import io
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from persistence import files as files_mod
from persistence.files import CHUNK_BYTES, NO_SPACE_MESSAGE, WRITE_ERROR_MESSAGE
from persistence.fsck import check
from persistence.tables import AuditEntry, Item
from tests import samples
from tests.artifacts import update_json
from tests.integration.web.conftest import api_token, app, client, people, world  # noqa: F401
from tests.world import IN_UPLOAD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability"
# Two chunks: the first write succeeds, so a failure at the second leaves a real partial file.
DOCUMENT = samples.big(CHUNK_BYTES + CHUNK_BYTES // 2)


def _fd_in(fd: int, directory: Path) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith(str(directory))
    except OSError:
        return False


class Injector:
    """Fails one step of the store's write path with an OSError, only for the store's files."""

    def __init__(self, monkeypatch, files):
        self.monkeypatch, self.files = monkeypatch, files
        self.fired = 0

    def fail(self, step: str, code: int) -> None:
        error = OSError(code, os.strerror(code))
        real = {"write": os.write, "fsync": os.fsync, "replace": os.replace,
                "fsync_dir": files_mod.fsync_dir}
        renamed = []

        def boom():
            self.fired += 1
            raise error

        if step == "create temporary file":
            def mkstemp(*args, **kwargs):
                boom()
            self.monkeypatch.setattr(files_mod.tempfile, "mkstemp", mkstemp)
        elif step == "second write":
            writes = []

            def write(fd, data):
                if _fd_in(fd, self.files.tmp):
                    writes.append(fd)
                    if len(writes) >= 2:
                        boom()
                return real["write"](fd, data)
            self.monkeypatch.setattr(files_mod.os, "write", write)
        elif step == "fsync":
            def fsync(fd):
                if _fd_in(fd, self.files.tmp):
                    boom()
                return real["fsync"](fd)
            self.monkeypatch.setattr(files_mod.os, "fsync", fsync)
        elif step == "rename":
            def replace(source, target, **kwargs):
                if str(source).startswith(str(self.files.tmp)):
                    boom()
                return real["replace"](source, target, **kwargs)
            self.monkeypatch.setattr(files_mod.os, "replace", replace)
        elif step == "directory sync after rename":
            def replace(source, target, **kwargs):
                renamed.append(target)
                return real["replace"](source, target, **kwargs)

            def fsync_dir(path):
                if renamed:
                    boom()
                return real["fsync_dir"](path)
            self.monkeypatch.setattr(files_mod.os, "replace", replace)
            self.monkeypatch.setattr(files_mod, "fsync_dir", fsync_dir)
        else:
            raise AssertionError(step)

    def heal(self) -> None:
        self.monkeypatch.undo()


CASES = [
    ("create temporary file", errno.ENOSPC, 507, NO_SPACE_MESSAGE, "no_space"),
    ("second write", errno.ENOSPC, 507, NO_SPACE_MESSAGE, "no_space"),
    ("second write", errno.EDQUOT, 507, NO_SPACE_MESSAGE, "no_space"),
    ("second write", errno.EIO, 503, WRITE_ERROR_MESSAGE, "write_error"),
    ("fsync", errno.EIO, 503, WRITE_ERROR_MESSAGE, "write_error"),
    ("fsync", errno.ENOSPC, 507, NO_SPACE_MESSAGE, "no_space"),
    ("rename", errno.EIO, 503, WRITE_ERROR_MESSAGE, "write_error"),
    ("directory sync after rename", errno.EIO, 503, WRITE_ERROR_MESSAGE, "write_error"),
]


def _counts(world) -> tuple[int, int]:
    with world.uow() as uow:
        return (uow.session.scalar(select(func.count()).select_from(Item)),
                uow.session.scalar(select(func.count()).select_from(AuditEntry)))


def _upload(client, headers, world, data: bytes, title: str):
    return client.post("/api/v1/artefacts", headers=headers, content_type="multipart/form-data", data={
        "kind": "course_outcome", "title": title, "course_id": str(world.course_id),
        "document": (io.BytesIO(data), "作品.pdf")})


@pytest.mark.parametrize("step, code, status, message, reason", CASES,
                         ids=[f"{c[0]}-{errno.errorcode[c[1]]}" for c in CASES])
def test_a_failing_store_refuses_the_upload_and_keeps_nothing(
        step, code, status, message, reason, app, client, people, world, db, files, monkeypatch):
    app.config["NOW"] = IN_UPLOAD
    student = api_token(client, "stu0")
    before = _counts(world)
    injector = Injector(monkeypatch, files)
    injector.fail(step, code)

    refused = _upload(client, student, world, DOCUMENT, "磁碟出錯時的上傳")
    injector.heal()
    assert injector.fired >= 1, f"{step}: the failure was never injected"
    assert refused.status_code == status, refused.get_data(as_text=True)
    body = refused.get_json()
    assert body["message"] == message
    assert (body["error"], body["details"]["rule"], body["details"]["field"], body["details"]["reason"]) == (
        "storage_failed", "storage_failed", "document", reason)

    assert _counts(world) == before  # no row, no audit row
    assert list(files.tmp.iterdir()) == []  # nothing half-written
    sha256 = hashlib.sha256(DOCUMENT).hexdigest()
    report = check(db, files, temp_min_age=0)
    assert not report.missing and not report.corrupt and not report.temp_files
    if step == "directory sync after rename":
        # Complete and intact at its final path, but never acknowledged: an orphan fsck reports.
        assert [p.sha256 for p in report.orphaned] == [sha256] and files.verify(sha256)
    else:
        assert not files.exists(sha256) and not report.orphaned

    accepted = _upload(client, student, world, DOCUMENT, "再試一次")
    assert accepted.status_code == 201, accepted.get_json()
    assert accepted.get_json()["document"]["sha256"] == sha256
    assert files.verify(sha256) and check(db, files, temp_min_age=0).clean
    assert _counts(world)[0] == before[0] + 1

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    figures = {"step": step, "errno": errno.errorcode[code], "status": status, "rows_added": 0,
               "audit_rows_added": 0, "temp_files_left": 0, "next_upload": accepted.status_code}
    print(f"disk error ({db.dialect}): {figures}")
    # One file for the scenario: each case adds its line ({engine: {step/errno: figures}}).
    update_json(ARTIFACTS / "disk-errors.json",
                lambda recorded: recorded.setdefault(db.dialect, {}).update({f"{step} / {errno.errorcode[code]}": figures}),
                ensure_ascii=False, indent=1)
