"""Benchmark: certify over HTTP under gunicorn, against a bare Flask endpoint doing the same
single-row update under the same gunicorn settings, in one run (issue 4).

The app side is the real thing: `gunicorn 'web.app:create_app()'`, a bearer token, and
`POST /api/v1/artefacts/<id>/events/certify` — sign-in check, the school's unit of work, the
routing and window rules, the state machine, the audit row. The baseline is
`benchmarks/bare_certify.py`: one UPDATE per request and nothing else. Both servers run with
the same gunicorn options, against the same database; the same client (C threads, one request
per connection, as gunicorn's sync workers do) sends N certifications to each. Rounds alternate
which side goes first; every round checks that each side certified exactly its N items and that
the app wrote exactly one audit row per item.

    python benchmarks/web_certify.py                      # PostgreSQL on 127.0.0.1, 2000 items
    python benchmarks/web_certify.py --engine sqlite

ratio = app requests/s ÷ baseline requests/s (target ≥ 0.5).

    python benchmarks/web_certify.py --floor              # also benchmarks/floor_certify.py

--floor adds a third server: the least any correct certification must do, hand-written in SQL
(floor_certify.py), to show how much of the gap is the stack and how much the app's design.

    python benchmarks/web_certify.py --floor --cpu        # where each side's time goes

--cpu (Linux) adds, per side, the CPU milliseconds one certification costs in its gunicorn
server (master and workers), in the PostgreSQL server and in the client: on a CPU-bound machine
those sums, not the servers' code alone, set the req/s.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from benchmarks import scratch_db  # noqa: E402
from benchmarks.scratch_db import DEFAULT_PG_URL  # noqa: E402
from persistence.db import Database, make_engine  # noqa: E402
from persistence.migrate import upgrade  # noqa: E402
from persistence.tables import AuditEntry, Course, Enrolment, Item, Staff, StaffRole, Student  # noqa: E402
from workflows.people import accounts
from workflows.school import calendar
from workflows.core.actors import platform_admin  # noqa: E402
from workflows.core.clock import semester_of, taipei_date, utc_now  # noqa: E402
from workflows.people.personal_data import check_digit  # noqa: E402
from workflows.people.actors import staff_actor  # noqa: E402
from workflows.school.schools import create_school  # noqa: E402
from workflows.core.unit_of_work import UnitOfWork  # noqa: E402

BENCH_DATABASE = "portfolio_bench_web"  # the only PostgreSQL database this script creates or drops
PASSWORD = "benchmark password"
STUDENTS = 200


def database_url(args, workdir: Path) -> str:
    return scratch_db.create(args.engine, args.pg_url, BENCH_DATABASE, workdir)


def drop_database(args) -> None:
    if not args.keep:
        scratch_db.drop(args.engine, args.pg_url, BENCH_DATABASE)


class School:
    """One school whose certification window is open now (real time: the servers use the clock)."""

    def __init__(self, db: Database):
        now = utc_now()
        self.db = db
        self.school_id = create_school(db, platform_admin(), code="900101", name="效能測試高中",
                                       policy="xinzhuang", now=now)
        today = taipei_date(now)
        self.year, self.semester = semester_of(today)
        with UnitOfWork(db, self.school_id) as uow:
            s = uow.session
            teacher = Staff(school_id=self.school_id, staff_no="T001", name="效能老師")
            clerk = Staff(school_id=self.school_id, staff_no="S001", name="效能組長")
            s.add_all([teacher, clerk])
            s.flush()
            s.add_all([StaffRole(school_id=self.school_id, staff_id=teacher.id, role="subject_teacher"),
                       StaffRole(school_id=self.school_id, staff_id=clerk.id, role="registry")])
            course = Course(school_id=self.school_id, academic_year=self.year, semester=self.semester,
                            code=f"{self.year - 2}900101H00100A1ML0101", name="國語文", teacher_id=teacher.id)
            s.add(course)
            s.flush()
            students = []
            for n in range(STUDENTS):
                nine = f"A1{n:07d}"
                students.append(Student(school_id=self.school_id, student_no=f"B{n:05d}",
                                        national_id=nine + check_digit(nine),
                                        birth_date=today.replace(year=today.year - 16),
                                        name=f"學生{n}", class_name="101", grade=1))
            s.add_all(students)
            s.flush()
            s.add_all(Enrolment(school_id=self.school_id, course_id=course.id, student_id=st.id)
                      for st in students)
            accounts.create_account(uow, platform_admin(), username="bench.teacher", password=PASSWORD,
                                    kind="staff", staff_id=teacher.id, now=now)
            uow.commit()
            self.teacher_id, self.course_id = teacher.id, course.id
            self.student_ids = [st.id for st in students]
            clerk_id = clerk.id
        with UnitOfWork(db, self.school_id) as uow:
            calendar.define_outcome_windows(uow, staff_actor(uow, clerk_id), self.year, self.semester,
                                            today - timedelta(days=10), today + timedelta(days=20), now=now)
            uow.commit()

    def submitted_items(self, count: int, tag: str) -> list[int]:
        """`count` course outcomes waiting for certification (set up directly, not timed)."""
        now = utc_now()
        rows = [dict(school_id=self.school_id, student_id=self.student_ids[n % STUDENTS],
                     kind="course_outcome", academic_year=self.year, semester=self.semester,
                     course_id=self.course_id, title=f"{tag}-{n}", description="",
                     document_sha256=secrets.token_hex(32), document_name="作品.pdf",
                     document_kind="pdf", document_size=1000, state="submitted", version=1,
                     submitted_at=now, created_at=now, updated_at=now) for n in range(count)]
        with self.db.engine.begin() as connection:
            connection.execute(insert(Item), rows)
            return list(connection.scalars(select(Item.id).where(Item.title.like(f"{tag}-%"))
                                           .order_by(Item.id)))

    def certified(self, ids: list[int]) -> int:
        with self.db.engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(Item).where(
                Item.id.in_(ids), Item.state == "certified"))

    def audited(self, ids: list[int]) -> int:
        with self.db.engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.subject_id.in_(ids), AuditEntry.subject_kind == "course_outcome",
                AuditEntry.event == "certify"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, target: str, url: str, workdir: Path, args, env: dict):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", target],
            cwd=ROOT, env={**os.environ, "PORTFOLIO_DATABASE_URL": url, "PYTHONPATH": str(ROOT),
                           "PORTFOLIO_DATA_DIR": str(workdir / "files"), **env})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"gunicorn {target} did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def request(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = json.dumps(body).encode() if body is not None else b""
    connection.request(method, path, body=payload, headers={"Content-Type": "application/json",
                                                            "Content-Length": str(len(payload)),
                                                            **(headers or {})})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def _drive_chunk(port: int, chunk: list[str], headers: dict, threads: int) -> list[str]:
    """POST every path of `chunk` with `threads` threads; the failures."""
    failures: list[str] = []

    def work(part):
        for path in part:
            status, data = request(port, "POST", path, {}, headers)
            if status != 200:
                failures.append(f"{path}: {status} {data[:200]!r}")
    workers = [threading.Thread(target=work, args=(chunk[n::threads],)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return failures


def _cpu_seconds(pids) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _processes() -> dict[int, tuple[int, str]]:
    """{pid: (parent pid, command name)} of every process (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name, rest = (entry / "stat").read_text().split(" (", 1)[1].rsplit(") ", 1)
            except (OSError, ValueError):
                continue
            found[int(entry.name)] = (int(rest.split()[1]), name)
    return found


def cpu_used(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by a server's process tree, by the PostgreSQL server's processes
    (every one named postgres: backends, WAL writer, checkpointer) and by this client with its
    finished child processes."""
    processes = _processes()
    tree, grew = {server_pid}, True
    while grew:
        children = {pid for pid, (parent, _name) in processes.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    finished = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"server": _cpu_seconds(tree),
            "database": _cpu_seconds(pid for pid, (_parent, name) in processes.items() if name == "postgres"),
            "client": time.process_time() + finished.ru_utime + finished.ru_stime}


def drive(port: int, paths: list[str], headers: dict, clients: int, processes: int = 1) -> float:
    """Seconds to POST every path with `clients` connections at a time, spread over `processes`
    client processes (one Python process cannot drive a fast server: its threads share one GIL);
    every answer must be 200."""
    processes = max(1, min(processes, clients))
    started = time.perf_counter()
    if processes == 1:
        failures = _drive_chunk(port, paths, headers, clients)
    else:
        threads = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            results = pool.starmap(_drive_chunk, [(port, paths[n::processes], headers, threads[n])
                                                  for n in range(processes)])
        failures = [failure for result in results for failure in result]
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[:3]}")
    return elapsed


def _describe_cpu(ms: dict[str, float]) -> str:
    return (f"server {ms['server']:.2f} ms, PostgreSQL {ms['database']:.2f} ms, client {ms['client']:.2f} ms, "
            f"in all {sum(ms.values()):.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("PORTFOLIO_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--items", type=int, default=2000, help="certifications per side per round")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections (client threads in all)")
    parser.add_argument("--client-processes", type=int, default=1,
                        help="client processes the connections are spread over")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--floor", action="store_true",
                        help="also time benchmarks/floor_certify.py: the least a correct certification must do")
    parser.add_argument("--cpu", action="store_true",
                        help="CPU ms per certification in each side's server, PostgreSQL and the client (Linux)")
    args = parser.parse_args()
    if args.floor and args.engine != "postgresql":
        parser.error("--floor is written for PostgreSQL (SELECT … FOR UPDATE OF)")
    if args.cpu and (args.engine != "postgresql" or not Path("/proc/self/stat").exists()):
        parser.error("--cpu reads Linux's /proc and counts a PostgreSQL server's processes")

    workdir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    url = database_url(args, workdir)
    db = Database(make_engine(url))
    upgrade(db.engine)
    school = School(db)
    secret = secrets.token_hex(16)
    app = Server("web.app:create_app()", url, workdir, args, {"PORTFOLIO_SECRET_KEY": secret})
    bare = Server("benchmarks.bare_certify:app", url, workdir, args, {"BENCH_TEACHER_ID": str(school.teacher_id)})
    floor = Server("benchmarks.floor_certify:app", url, workdir, args, {"PORTFOLIO_SECRET_KEY": secret}) if args.floor else None
    print(f"certify over HTTP: {args.engine}, gunicorn --workers {args.workers} (sync), "
          f"{args.clients} client threads, {args.items} certifications per side per round")
    print(f"python {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs")
    # side -> (its server, the path certifying one item)
    targets = {"app": (app, "/api/v1/artefacts/{}/events/certify"), "baseline": (bare, "/items/{}/certify")}
    if floor is not None:
        targets["floor"] = (floor, "/items/{}/certify")
    results = []
    cpu: dict[str, list[dict[str, float]]] = {name: [] for name in targets}  # ms per certification
    try:
        status, data = request(app.port, "POST", "/api/v1/auth/token",
                               {"username": "bench.teacher", "password": PASSWORD})
        if status != 200:
            raise SystemExit(f"token: {status} {data!r}")
        headers = {"Authorization": f"Bearer {json.loads(data)['token']}"}

        def certify_all(name: str, item_ids: list[int], measure: bool = False) -> float:
            server, path = targets[name]
            measure = measure and args.cpu
            before = cpu_used(server.process.pid) if measure else None
            seconds = drive(server.port, [path.format(i) for i in item_ids], {} if name == "baseline" else headers,
                            args.clients, args.client_processes)
            if measure:
                after = cpu_used(server.process.pid)
                cpu[name].append({part: 1000 * (after[part] - before[part]) / len(item_ids) for part in after})
            return seconds

        for name in targets:  # warm every server up (imports, pools) outside the timing
            certify_all(name, school.submitted_items(20, f"warm-{name}"))
        for round_no in range(1, args.rounds + 1):
            ids = {name: school.submitted_items(args.items, f"{name}-{round_no}") for name in targets}
            if db.dialect == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.execute(text("VACUUM (ANALYZE) items"))
            order = list(targets)
            if round_no % 2 == 0:
                order.reverse()
            seconds = {name: certify_all(name, ids[name], measure=True) for name in order}
            checks = {name: school.certified(ids[name]) for name in ids}
            checks.update({f"{name} audit rows": school.audited(ids[name]) for name in ids if name != "baseline"})
            if set(checks.values()) != {args.items}:
                raise SystemExit(f"round {round_no}: certified / audited {checks}, expected {args.items} each")
            rps = {name: args.items / seconds[name] for name in seconds}
            results.append(rps)
            line = ", ".join(f"{name} {seconds[name]:.2f} s = {rps[name]:.0f} req/s" for name in order)
            ratios = f"ratio {rps['app'] / rps['baseline']:.2f}"
            if floor is not None:
                ratios += f", floor ratio {rps['floor'] / rps['baseline']:.2f}"
            print(f"round {round_no} ({order[0]} first): {line}, {ratios}")
            if args.cpu:
                for name in order:
                    print(f"  cpu per certification, {name}: " + _describe_cpu(cpu[name][-1]))
    finally:
        for server, _path in targets.values():
            server.stop()
        db.dispose()
        drop_database(args)
        shutil.rmtree(workdir, ignore_errors=True)
    medians = {name: statistics.median(r[name] for r in results) for name in results[0]}
    ratios = [r["app"] / r["baseline"] for r in results]
    print(f"median: app {medians['app']:.0f} req/s, baseline {medians['baseline']:.0f} req/s, "
          f"ratio {statistics.median(ratios):.2f} (rounds {min(ratios):.2f}–{max(ratios):.2f}; target ≥ 0.5)")
    if args.cpu:
        for name, rounds in cpu.items():
            print(f"median cpu per certification, {name}: "
                  + _describe_cpu({part: statistics.median(r[part] for r in rounds) for part in rounds[0]}))
    if "floor" in medians:
        floors = [r["floor"] / r["baseline"] for r in results]
        print(f"floor (hand-written SQL, benchmarks/floor_certify.py): {medians['floor']:.0f} req/s, "
              f"ratio {statistics.median(floors):.2f} (rounds {min(floors):.2f}–{max(floors):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
