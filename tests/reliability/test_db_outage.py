"""Database restarted under load (issue 7): the service answers an outage with 503 and
Retry-After, never a 500 or a half-applied transition, and recovers without a restart.

The service runs under gunicorn (2 sync workers) on PostgreSQL through tests/reliability/tcp_proxy.py,
which stands in for the server stopping and starting: `cut()` resets every connection and refuses
new ones, `restore()` lets them through again (the shared server itself is never stopped).
Client threads certify (teacher) and submit (students) items over the API in a loop, and one
more reads a page with a signed-in session; the proxy is cut for a few seconds several times.

    python -m pytest -s tests/reliability/test_db_outage.py            # 3 cuts
    python -m pytest -s tests/reliability/test_db_outage.py --heavy    # 15 cuts

The literal scenario — the PostgreSQL server itself stopped (`pg_ctlcluster … stop -m fast`) and
started — runs only when asked for, because it stops the server for every database on the
machine (run it on a machine of its own, as root):

    PORTFOLIO_TEST_RESTART_PG=1 python -m pytest -s tests/reliability/test_db_outage.py -k restart

PostgreSQL only (PORTFOLIO_TEST_PG_URL); without a server it skips with the reason, except in CI.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from persistence.db import Database, make_engine
from persistence.tables import AuditEntry, Course, Enrolment, Item, Staff, StaffRole, Student
from tests.conftest import PG_URL, _truncate_all
from tests.reliability.tcp_proxy import TcpProxy
from tests.world import national_id
from workflows.people import accounts
from workflows.people.actors import staff_actor
from workflows.school import calendar
from workflows.core.actors import platform_admin
from workflows.core.clock import semester_of, taipei_date, utc_now
from workflows.school.schools import create_school
from workflows.core.unit_of_work import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "test-artifacts" / "reliability" / "db_outage.json"
PASSWORD = "outage test password"
STUDENTS = 8
CUT_SECONDS = 3.0
UP_SECONDS = 3.0  # normal service between cuts
CLIENTS = 6  # certifying threads; one more per student group submits, one reads a page

# Under pytest-xdist: on one worker with tests/reliability/test_uploads_kill9.py, one after another.
pytestmark = pytest.mark.xdist_group("gunicorn-under-fire")


def _die_with_parent() -> None:
    """In gunicorn: SIGKILL when the test run dies, so no server outlives an interrupted run."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class ServerRestart:
    """The real thing: stop the local PostgreSQL cluster (fast: every session is ended) and start
    it again. Same interface as TcpProxy, so the scenario is the same."""

    accepted = reset = refused = 0

    def __init__(self):
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        if not versions:
            pytest.skip("no local PostgreSQL cluster to restart (/etc/postgresql)")
        self.version = versions[-1]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.restore()

    def url_for(self, url: str) -> str:
        return url

    def _ctl(self, action: str, *extra: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action, *extra],
                       check=True, capture_output=True, timeout=120)

    def cut(self) -> None:
        self._ctl("stop", "-m", "fast")
        self.reset += 1

    def restore(self) -> None:
        status = subprocess.run(["pg_ctlcluster", self.version, "main", "status"], capture_output=True)
        if status.returncode != 0:
            self._ctl("start")
            for _ in range(60):  # until it accepts connections again
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", 5432)) == 0:
                        return
                time.sleep(0.5)


@pytest.fixture
def pg_db(pg_engine):
    _truncate_all(pg_engine)
    database = Database(make_engine(PG_URL))
    yield database
    database.dispose()


class School:
    """One school whose upload and certification windows are open now (the server's clock)."""

    def __init__(self, db: Database):
        now = utc_now()
        self.db = db
        self.school_id = create_school(db, platform_admin(), code="013399", name="斷線測試高中",
                                       policy="xinzhuang", now=now)
        today = taipei_date(now)
        self.year, self.semester = semester_of(today)
        with UnitOfWork(db, self.school_id) as uow:
            s = uow.session
            teacher = Staff(school_id=self.school_id, staff_no="T001", name="斷線老師")
            clerk = Staff(school_id=self.school_id, staff_no="S001", name="斷線組長")
            s.add_all([teacher, clerk])
            s.flush()
            s.add_all([StaffRole(school_id=self.school_id, staff_id=teacher.id, role="subject_teacher"),
                       StaffRole(school_id=self.school_id, staff_id=clerk.id, role="registry")])
            course = Course(school_id=self.school_id, academic_year=self.year, semester=self.semester,
                            code=f"{self.year - 2}013399H00100A1ML0101", name="國語文", teacher_id=teacher.id)
            s.add(course)
            s.flush()
            students = [Student(school_id=self.school_id, student_no=f"B{n:05d}",
                                national_id=national_id(399000 + n), birth_date=today.replace(year=today.year - 16),
                                name=f"學生{n}", class_name="101", grade=1) for n in range(STUDENTS)]
            s.add_all(students)
            s.flush()
            s.add_all(Enrolment(school_id=self.school_id, course_id=course.id, student_id=st.id)
                      for st in students)
            admin = platform_admin()
            accounts.create_account(uow, admin, username="outage.teacher", password=PASSWORD,
                                    kind="staff", staff_id=teacher.id, now=now)
            for n, st in enumerate(students):
                accounts.create_account(uow, admin, username=f"outage.s{n}", password=PASSWORD,
                                        kind="student", student_id=st.id, now=now)
            uow.commit()
            self.course_id = course.id
            self.student_ids = [st.id for st in students]
            clerk_id = clerk.id
        with UnitOfWork(db, self.school_id) as uow:
            calendar.define_outcome_windows(uow, staff_actor(uow, clerk_id), self.year, self.semester,
                                            today - timedelta(days=10), today + timedelta(days=20), now=now)
            uow.commit()

    def items(self, count: int, state: str, tag: str, student: int | None = None) -> list[int]:
        """`count` course outcomes in `state` (plain rows: setup, not the subject)."""
        now = utc_now()
        rows = [dict(school_id=self.school_id,
                     student_id=self.student_ids[student if student is not None else n % STUDENTS],
                     kind="course_outcome", academic_year=self.year, semester=self.semester,
                     course_id=self.course_id, title=f"{tag}-{n}", description="",
                     document_sha256=secrets.token_hex(32), document_name="作品.pdf",
                     document_kind="pdf", document_size=1000, state=state, version=1,
                     submitted_at=now if state == "submitted" else None, created_at=now, updated_at=now)
                for n in range(count)]
        with self.db.engine.begin() as connection:
            connection.execute(insert(Item), rows)
            return list(connection.scalars(select(Item.id).where(Item.title.like(f"{tag}-%")).order_by(Item.id)))


class Gunicorn:
    def __init__(self, url: str, workdir: Path, workers: int = 2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = open(workdir / "gunicorn.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "--timeout", "60",
             "web.app:create_app()"],
            cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            env={**os.environ, "PORTFOLIO_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
                 "PORTFOLIO_DATA_DIR": str(workdir / "files"), "PORTFOLIO_SECRET_KEY": secrets.token_hex(16)})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.process.poll() is None, (workdir / "gunicorn.log").read_text()
                time.sleep(0.1)
        raise AssertionError("gunicorn did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes


def call(port: int, method: str, path: str, body: bytes | dict | None = None,
         headers: dict | None = None) -> Answer:
    if isinstance(body, dict):
        body, headers = json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body or b"", headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


@dataclass
class Tally:
    """What the clients saw, shared by their threads."""

    statuses: Counter = field(default_factory=Counter)
    by_kind: dict = field(default_factory=dict)
    without_retry_after: list = field(default_factory=list)
    not_zh_message: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    transport_errors: list = field(default_factory=list)
    acknowledged: dict = field(default_factory=dict)  # event -> item ids answered 2xx
    refused_503: dict = field(default_factory=dict)  # event -> item ids answered 503 at least once
    attempted: dict = field(default_factory=dict)  # event -> item ids the clients started on
    history: dict = field(default_factory=dict)  # (event, item id) -> answers: 200, 409, 503 or "503?"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, answer: Answer, item_id: int | None = None, event: str | None = None) -> None:
        with self.lock:
            self.statuses[answer.status] += 1
            self.by_kind.setdefault(kind, Counter())[answer.status] += 1
            if answer.status == 503:
                if not answer.headers.get("retry-after", "").isdigit():
                    self.without_retry_after.append((kind, answer.headers))
                text = answer.body.decode("utf-8", "replace")
                if "資料庫暫時無法連線" not in text:
                    self.not_zh_message.append((kind, text[:300]))
                if kind != "page" and not answer.headers.get("content-type", "").startswith("application/json"):
                    self.not_zh_message.append((kind, "not JSON: " + answer.headers.get("content-type", "")))
                if event:
                    self.refused_503.setdefault(event, set()).add(item_id)
                    # "503?": the answer says the work may have been applied (the commit's reply was lost).
                    self.history.setdefault((event, item_id), []).append("503?" if "無法確認" in text else 503)
            elif event:
                self.history.setdefault((event, item_id), []).append(answer.status)
            if 200 <= answer.status < 300:
                if event:
                    self.acknowledged.setdefault(event, set()).add(item_id)
            elif answer.status != 503 and answer.status != 409:
                self.unexpected.append((kind, answer.status, answer.body[:300]))


def token(port: int, username: str) -> dict:
    answer = call(port, "POST", "/api/v1/auth/token", {"username": username, "password": PASSWORD})
    assert answer.status == 200, answer
    return {"Authorization": f"Bearer {json.loads(answer.body)['token']}"}


def page_session(port: int) -> str:
    """A signed-in teacher's session cookie, through the real sign-in form (CSRF and all)."""
    login = call(port, "GET", "/login")
    cookie = login.headers["set-cookie"].split(";")[0]
    csrf = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', login.body).group(1).decode()
    form = f"csrf_token={csrf}&username=outage.teacher&password={PASSWORD.replace(' ', '+')}".encode()
    signed_in = call(port, "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded",
                                                    "Cookie": cookie})
    assert signed_in.status == 302, signed_in
    return signed_in.headers["set-cookie"].split(";")[0]


def fire_all(port: int, headers: dict, event: str, ids: list[int], tally: Tally, stop: threading.Event) -> None:
    """Fire `event` on one item after another until `stop`; an item answered 503 is retried
    until it gets another answer, so every item started ends with a definite one."""
    for item_id in ids:
        if stop.is_set():
            return
        with tally.lock:
            tally.attempted.setdefault(event, set()).add(item_id)
        while True:
            try:
                answer = call(port, "POST", f"/api/v1/artefacts/{item_id}/events/{event}", {}, headers)
            except OSError as error:
                with tally.lock:
                    tally.transport_errors.append(f"{event} {item_id}: {error!r}")
                time.sleep(0.1)
                continue
            tally.record(event, answer, item_id, event)
            if answer.status != 503:
                break
            time.sleep(0.1)


def read_pages(port: int, cookie: str, tally: Tally, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            answer = call(port, "GET", "/teacher/queue", headers={"Cookie": cookie})
        except OSError as error:
            with tally.lock:
                tally.transport_errors.append(f"page: {error!r}")
            continue
        tally.record("page", answer)
        time.sleep(0.02)


def _check_after(port: int, headers: dict, school: School, tally: Tally, probes: list[int]) -> bool:
    """A fresh certification succeeds (no restart, only time): the pool found its way back."""
    item_id = school.items(1, "submitted", f"probe-{len(probes)}")[0]
    probes.append(item_id)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = call(port, "POST", f"/api/v1/artefacts/{item_id}/events/certify", {}, headers)
        tally.record("probe", answer, item_id, "certify")
        if answer.status == 200:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("outage", [
    "proxy",
    pytest.param("restart", marks=pytest.mark.skipif(
        os.environ.get("PORTFOLIO_TEST_RESTART_PG") != "1",
        reason="stops the machine's PostgreSQL server: set PORTFOLIO_TEST_RESTART_PG=1 on a machine of its own")),
])
def test_database_outages_under_load_answer_503_and_the_service_recovers(pg_db, tmp_path, heavy, outage):
    cuts = 15 if heavy else 3
    per_client = 4000 if heavy else 1000  # more than the clients reach: the load lasts all cuts
    school = School(pg_db)
    to_certify = school.items(per_client * CLIENTS, "submitted", "cert")
    to_submit = {n: school.items(per_client // 2, "draft", f"draft{n}", student=n) for n in range(STUDENTS)}
    pg_port = make_url(PG_URL).port or 5432
    tally = Tally()
    figures: dict = {"cuts": cuts, "cut_seconds": CUT_SECONDS, "up_seconds": UP_SECONDS, "gunicorn_workers": 2,
                     "client_threads": CLIENTS + STUDENTS + 1}

    outage_of = ServerRestart() if outage == "restart" else TcpProxy(pg_port, make_url(PG_URL).host or "127.0.0.1")
    figures["outage"] = "PostgreSQL server stopped and started" if outage == "restart" else "TCP proxy cut"
    with outage_of as proxy:
        server = Gunicorn(proxy.url_for(PG_URL), tmp_path)
        try:
            teacher = token(server.port, "outage.teacher")
            cookie = page_session(server.port)
            stop = threading.Event()
            threads = [threading.Thread(target=fire_all, args=(server.port, teacher, "certify",
                                                               to_certify[n::CLIENTS], tally, stop))
                       for n in range(CLIENTS)]
            threads += [threading.Thread(target=fire_all, args=(server.port, token(server.port, f"outage.s{n}"),
                                                                "submit", ids, tally, stop))
                        for n, ids in to_submit.items()]
            threads.append(threading.Thread(target=read_pages, args=(server.port, cookie, tally, stop)))
            for thread in threads:
                thread.start()
            recovered, probes = [], []
            try:
                for _ in range(cuts):
                    time.sleep(UP_SECONDS)
                    proxy.cut()
                    # During the cut: a page and an API call, each answered 503 with Retry-After.
                    time.sleep(CUT_SECONDS / 2)
                    during = [call(server.port, "GET", "/teacher/queue", headers={"Cookie": cookie}),
                              call(server.port, "GET", "/api/v1/artefacts", headers=teacher)]
                    for kind, answer in zip(("page", "api-read"), during):
                        tally.record(kind, answer)
                    figures.setdefault("during_cut", []).append([a.status for a in during])
                    time.sleep(CUT_SECONDS / 2)
                    proxy.restore()
                    recovered.append(_check_after(server.port, teacher, school, tally, probes))
            finally:
                time.sleep(1.0)
                stop.set()  # each client finishes the item it is on
                for thread in threads:
                    thread.join(timeout=60)
            assert server.process.poll() is None, "gunicorn died"
            figures["gunicorn_pid_unchanged"] = True
        finally:
            server.stop()
        figures["proxy"] = {"connections": proxy.accepted, "reset": proxy.reset, "refused": proxy.refused}

    tally.attempted.setdefault("certify", set()).update(probes)
    plan = {"certify": to_certify + probes, "submit": [i for ids in to_submit.values() for i in ids]}
    consistency = check_database(pg_db, school, tally, plan)
    figures.update({
        "responses": dict(sorted(tally.statuses.items())),
        "by_kind": {k: dict(sorted(v.items())) for k, v in tally.by_kind.items()},
        "503_without_retry_after": len(tally.without_retry_after),
        "503_without_message": len(tally.not_zh_message),
        "unexpected": len(tally.unexpected),
        "transport_errors": len(tally.transport_errors),
        "recovered_after_each_cut": recovered,
        **consistency,
    })
    print("\ndatabase outage under load:", json.dumps(figures, ensure_ascii=False, indent=1))
    artifact = ARTIFACT if outage == "proxy" else ARTIFACT.with_name("db_outage-restart.json")
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")

    assert tally.statuses[503] > 0, "no request met an outage: the test proved nothing"
    assert not [s for s in tally.statuses if s >= 500 and s != 503], tally.statuses
    assert not tally.without_retry_after, tally.without_retry_after[:3]
    assert not tally.not_zh_message, tally.not_zh_message[:3]
    assert not tally.unexpected, tally.unexpected[:5]
    assert not tally.transport_errors, tally.transport_errors[:5]
    assert all(recovered) and len(recovered) == cuts, recovered
    for during in figures["during_cut"]:
        assert during == [503, 503]
    assert consistency["acknowledged_missing"] == 0
    assert consistency["half_applied"] == 0
    assert sum(consistency["not_moved"].values()) == 0, "an item started on never moved"
    assert consistency["audit_rows"] == consistency["moved"]
    assert consistency["503_said_not_applied_but_was"] == 0


def check_database(db: Database, school: School, tally: Tally, plan: dict[str, list[int]]) -> dict:
    """Every item either moved with exactly one audit row of its event, or did not move and has
    none; every acknowledged event is in the database."""
    with db.engine.connect() as connection:
        states = dict(connection.execute(select(Item.id, Item.state).where(Item.school_id == school.school_id)).all())
        audits = Counter(connection.execute(
            select(AuditEntry.subject_id, AuditEntry.event).where(
                AuditEntry.school_id == school.school_id, AuditEntry.subject_kind == "course_outcome")).all())
    moved_to = {"certify": "certified", "submit": "submitted"}
    started_in = {"certify": "submitted", "submit": "draft"}
    half_applied, missing, told_wrong, told_in_doubt = [], 0, 0, 0
    moved, not_moved, audit_rows = Counter(), Counter(), Counter()
    in_doubt = Counter()  # answered 503, yet committed: the reply was lost, not the work
    for event, ids in plan.items():
        acknowledged, refused = tally.acknowledged.get(event, set()), tally.refused_503.get(event, set())
        attempted = tally.attempted.get(event, set())
        for item_id in ids:
            state, rows = states[item_id], audits[(item_id, event)]
            audit_rows[event] += rows
            if state == moved_to[event]:
                moved[event] += 1
                if rows != 1:
                    half_applied.append((item_id, event, state, rows))
                if item_id in refused and item_id not in acknowledged:
                    in_doubt[event] += 1
            elif state == started_in[event]:
                if item_id in attempted:
                    not_moved[event] += 1
                if rows != 0:
                    half_applied.append((item_id, event, state, rows))
            else:
                half_applied.append((item_id, event, state, rows))
            if item_id in acknowledged and state != moved_to[event]:
                missing += 1
            answers = tally.history.get((event, item_id), [])
            told_in_doubt += answers.count("503?")
            if state == moved_to[event] and item_id not in acknowledged and "503?" not in answers:
                # Applied, never acknowledged, and every 503 it got said "not applied": one lied.
                # (A 503 to a retry after a "maybe" is true: that retry applied nothing.)
                told_wrong += 1
    return {"attempted": {e: len(v) for e, v in tally.attempted.items()},
            "acknowledged": {e: len(v) for e, v in tally.acknowledged.items()},
            "moved": dict(moved), "audit_rows": dict(audit_rows), "not_moved": dict(not_moved),
            "half_applied": len(half_applied), "half_applied_examples": half_applied[:5],
            "acknowledged_missing": missing, "answered_503_but_committed": dict(in_doubt),
            "503_said_maybe_applied": told_in_doubt, "503_said_not_applied_but_was": told_wrong}
