"""Uploads under kill -9: gunicorn (2 sync workers) on PostgreSQL, a pool of client threads
uploading through the real JSON API (bearer tokens, multipart), and the whole gunicorn process
group killed with SIGKILL at random moments and restarted, again and again.

Afterwards every upload the client saw acknowledged (201 with an id and a hash) must be in the
database with that hash and in the store with bytes that hash to it; no row may point at a
missing or damaged file (fsck); files whose commit never came are orphans fsck reports, and
`repair` removes them until a second check is clean. Lost acknowledged uploads: 0.

Default: ≥ 300 acknowledged uploads and ≥ 10 kills (fits CI). `--heavy`: ≥ 1,000 and ≥ 30.
Uploads are multiple performances (多元表現) under the 新莊 policy, which sets no yearly cap, by
several students, in a performance window open around today (the servers use the real clock).
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from persistence.db import Database, make_engine
from persistence.files import LocalFileStore
from persistence.fsck import check, repair
from persistence.tables import AuditEntry, Item, Staff, StaffRole, Student
from tests import samples
from tests.conftest import PG_URL, _truncate_all
from tests.world import national_id
from workflows.people import accounts
from workflows.people.actors import staff_actor
from workflows.school import calendar
from workflows.core.actors import platform_admin
from workflows.core.clock import taipei_date, utc_now
from workflows.school.schools import create_school
from workflows.core.unit_of_work import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "reliability"
PASSWORD = "kill nine uploads"
STUDENTS = 6
CLIENTS = 6

# Gunicorn under load, killed or cut off from its database: under pytest-xdist this test and
# tests/reliability/test_db_outage.py run on one worker, one after another, not against each other.
pytestmark = pytest.mark.xdist_group("gunicorn-under-fire")


def _die_with_parent() -> None:
    """In gunicorn's master: its own process group (killed whole), and SIGKILL when the test
    run dies, so an interrupted run leaves no server behind."""
    import ctypes

    os.setsid()
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn on a fixed port, killed (SIGKILL to the whole group) and restarted at will."""

    def __init__(self, workdir: Path, url: str, data_dir: Path):
        self.port = _free_port()
        self.workdir, self.url, self.data_dir = workdir, url, data_dir
        self.secret = secrets.token_hex(16)  # the same for every start: tokens stay valid
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.start_seconds: list[float] = []

    def start(self) -> None:
        log = open(self.workdir / "gunicorn.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "--timeout", "60",
             "web.app:create_app()"],
            cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PORTFOLIO_DATABASE_URL": self.url,
                 "PORTFOLIO_DATA_DIR": str(self.data_dir), "PORTFOLIO_SECRET_KEY": self.secret})
        log.close()
        self.starts += 1
        started = time.monotonic()
        deadline = started + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited: {(self.workdir / 'gunicorn.log').read_text()[-2000:]}")
            try:
                status, _ = request(self.port, "GET", "/api/v1/openapi.json", timeout=5)
                if status == 200:
                    self.start_seconds.append(time.monotonic() - started)
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("gunicorn did not start within 60 s")

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        # Workers are in the same group; wait until none is left holding the port or the store.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        self.process = None


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None,
            timeout: float = 30) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Content-Length": str(len(body)), **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="document"; filename="{filename}"\r\n'
                 f"Content-Type: application/pdf\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _school(db: Database) -> tuple[int, list[str], int]:
    """A school whose performance window is open today; students with accounts."""
    now = utc_now()
    today = taipei_date(now)
    year = today.year - 1911 - (1 if today.month < 8 else 0)
    school_id = create_school(db, platform_admin(), code="019901", name="斷電測試高中", policy="xinzhuang", now=now)
    usernames = []
    with UnitOfWork(db, school_id) as uow:
        s = uow.session
        clerk = Staff(school_id=school_id, staff_no="S001", name="註冊組長")
        s.add(clerk)
        s.flush()
        s.add(StaffRole(school_id=school_id, staff_id=clerk.id, role="registry"))
        for n in range(STUDENTS):
            student = Student(school_id=school_id, student_no=f"K{n:05d}", national_id=national_id(990000 + n),
                              birth_date=today.replace(year=today.year - 16, day=1), name=f"學生{n}",
                              class_name="101", grade=1)
            s.add(student)
            s.flush()
            usernames.append(f"kill{n}.019901")
            accounts.create_account(uow, platform_admin(), username=usernames[-1], password=PASSWORD,
                                    kind="student", student_id=student.id, now=now)
        uow.commit()
        clerk_id = clerk.id
    with UnitOfWork(db, school_id) as uow:
        calendar.define_window(uow, staff_actor(uow, clerk_id), "performance_upload", year, 0,
                               today - timedelta(days=10), today + timedelta(days=20), now=now)
        uow.commit()
    return school_id, usernames, year


@dataclass
class Tally:
    target: int
    acknowledged: dict[int, str] = field(default_factory=dict)  # item id → sha256
    unacknowledged: list[str] = field(default_factory=list)  # sha256 of attempts with no 201
    refused: list[str] = field(default_factory=list)  # a clear 4xx/5xx answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    def done(self) -> bool:
        with self.lock:
            return len(self.acknowledged) >= self.target


def _client(server: Server, token: str, year: int, tally: Tally, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    while not stop.is_set():
        data = samples.pdf(uuid.uuid4().hex)  # every upload its own bytes, so its own hash
        sha256 = hashlib.sha256(data).hexdigest()
        body, content_type = multipart({"kind": "performance", "title": "競賽", "academic_year": str(year),
                                        "category": "competition"}, "獎狀.pdf", data)
        try:
            status, answer = request(server.port, "POST", "/api/v1/artefacts", body,
                                     {**headers, "Content-Type": content_type})
        except ConnectionRefusedError:
            time.sleep(0.02)  # the server is down: nothing was sent
            continue
        except (OSError, http.client.HTTPException):
            with tally.lock:
                tally.unacknowledged.append(sha256)
            continue  # cut off: sent, maybe stored, maybe committed, never acknowledged
        if status == 201:
            detail = json.loads(answer)
            with tally.lock:
                # The hash the server acknowledged is what is checked afterwards.
                tally.acknowledged[detail["id"]] = detail["document"]["sha256"]
                if detail["document"]["sha256"] != sha256:
                    tally.refused.append(f"201 with the wrong hash {detail['document']['sha256']}")
        else:
            with tally.lock:
                tally.unacknowledged.append(sha256)
                tally.refused.append(f"{status} {answer[:200]!r}")


def test_no_acknowledged_upload_is_lost_when_the_server_is_killed(pg_engine, tmp_path, heavy):
    target, min_kills = (1000, 30) if heavy else (300, 10)
    _truncate_all(pg_engine)
    db = Database(make_engine(PG_URL))
    data_dir = tmp_path / "files"
    files = LocalFileStore(data_dir)
    _school_id, usernames, year = _school(db)
    server = Server(tmp_path, PG_URL, data_dir)
    tally, stop = Tally(target), threading.Event()
    kills = 0
    rng = random.Random()
    try:
        server.start()
        tokens = []
        for username in usernames:
            status, answer = request(server.port, "POST", "/api/v1/auth/token",
                                     json.dumps({"username": username, "password": PASSWORD}).encode(),
                                     {"Content-Type": "application/json"})
            assert status == 200, answer
            tokens.append(json.loads(answer)["token"])
        clients = [threading.Thread(target=_client, args=(server, tokens[n % len(tokens)], year, tally, stop),
                                    daemon=True) for n in range(CLIENTS)]
        for thread in clients:
            thread.start()
        # Kill at random moments: while requests are being read, files written, rows committed.
        while kills < min_kills or not tally.done():
            time.sleep(rng.uniform(0.2, 2.5))
            server.kill()
            kills += 1
            server.start()
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    finally:
        stop.set()
        server.kill()

    # Nothing runs now: every write the store saw is finished or was cut off.
    with db.session() as session:
        rows = dict(session.execute(select(Item.id, Item.document_sha256)).all())
        audited = set(session.scalars(select(AuditEntry.subject_id).where(
            AuditEntry.event == "upload", AuditEntry.subject_kind == "performance")))
        audit_rows = session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.event == "upload"))
    lost = [i for i, sha in tally.acknowledged.items() if rows.get(i) != sha or not files.verify(sha)]
    report = check(db, files, temp_min_age=0)
    committed_unacknowledged = sum(1 for sha in set(tally.unacknowledged) if sha in set(rows.values()))
    removed = repair(db, files, report, temp_min_age=0)
    after = check(db, files, temp_min_age=0)
    figures = {
        "scenario": "uploads under kill -9", "heavy": heavy, "engine": "postgresql",
        "gunicorn_workers": 2, "client_threads": CLIENTS, "kills": kills, "server_starts": server.starts,
        "mean_start_seconds": round(sum(server.start_seconds) / len(server.start_seconds), 2),
        "attempted": len(tally.acknowledged) + len(tally.unacknowledged),
        "acknowledged": len(tally.acknowledged), "found": len(tally.acknowledged) - len(lost),
        "lost": len(lost), "refused_with_answer": len(tally.refused),
        "rows": len(rows), "committed_but_unacknowledged": committed_unacknowledged,
        "rows_without_upload_audit": len(set(rows) - audited), "upload_audit_rows": audit_rows,
        "fsck_files": report.files_checked, "fsck_missing": len(report.missing),
        "fsck_corrupt": len(report.corrupt), "fsck_orphaned": len(report.orphaned),
        "fsck_temp_files": len(report.temp_files), "repair_removed_orphans": len(removed.orphans),
        "repair_removed_temp_files": len(removed.temp_files), "fsck_after_repair_clean": after.clean,
    }
    print(f"\nuploads under kill -9: acknowledged {figures['acknowledged']}, found {figures['found']}, "
          f"lost {figures['lost']}; kills {kills}; fsck: missing {figures['fsck_missing']}, corrupt "
          f"{figures['fsck_corrupt']}, orphaned {figures['fsck_orphaned']}, temp files {figures['fsck_temp_files']}; "
          f"after repair clean: {after.clean}\n{json.dumps(figures, ensure_ascii=False)}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = "uploads-kill9-heavy.json" if heavy else "uploads-kill9.json"
    (ARTIFACTS / name).write_text(json.dumps(figures, ensure_ascii=False, indent=1))

    assert kills >= min_kills and len(tally.acknowledged) >= target
    assert lost == [], f"acknowledged uploads lost: {lost[:10]}"
    assert not report.missing and not report.corrupt, (report.missing[:5], report.corrupt[:5])
    assert figures["rows_without_upload_audit"] == 0 and audit_rows == len(rows)
    # Every refusal was a clear answer, not a crash: under kill -9 a request is cut off, never a 500.
    assert not [r for r in tally.refused if r.startswith(("500", "201"))], tally.refused[:5]
    assert sorted(removed.orphans) == sorted(p.sha256 for p in report.orphaned)
    assert after.clean
