"""Benchmark: the teacher's certification queue and the staff status pages with 10k and with 1M
artefacts in the database, in one run (issue 4). Target: the 1M time within 1.5× of the 10k time
— a page's cost follows the page (one teacher's queue, one school's year), not the table.

The database first holds one school of the usual size (SCHOOL_ITEMS items of one academic year:
500 students, 15 classes, 20 courses, items in every state) and is timed; then 99 more schools
of the same shape are added (a deployment serves many schools: the ministry's module served 295),
the planner's statistics refreshed, and the same pages timed again. Each page is requested
through the real app (Flask test client, signed in as a teacher and as the registry office),
`--repeat` times after a warm-up; the median is reported.

    python benchmarks/web_pages.py                     # PostgreSQL on 127.0.0.1
    python benchmarks/web_pages.py --engine sqlite
    python benchmarks/web_pages.py --schools 10        # a smaller second size

ratio = median at the large size ÷ median at 10k (target ≤ 1.5).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from benchmarks import scratch_db  # noqa: E402
from benchmarks.scratch_db import DEFAULT_PG_URL  # noqa: E402
from persistence.db import Database, make_engine  # noqa: E402
from persistence.migrate import upgrade  # noqa: E402
from persistence.tables import (Course, Enrolment, Item, Receipt, School, SchoolClass, Staff,  # noqa: E402
                                StaffRole, Student, Window)
from workflows.people import accounts
from workflows.core.actors import platform_admin  # noqa: E402
from workflows.core.clock import end_of_day, start_of_day  # noqa: E402
from workflows.core.policy import load_policy, policy_to_toml  # noqa: E402
from workflows.core.unit_of_work import UnitOfWork  # noqa: E402

BENCH_DATABASE = "portfolio_bench_pages"  # the only PostgreSQL database this script creates or drops
YEAR, SEMESTER = 114, 1
NOW = datetime(2025, 12, 1, 2, 0, tzinfo=timezone.utc)  # inside the certification window
STUDENTS, CLASSES, COURSES, TEACHERS = 500, 15, 20, 10
ITEMS_PER_STUDENT = 20  # → 10,000 items per school
PASSWORD = "benchmark password"
# The states a school's items are in, in proportion (every state a page shows).
OUTCOME_STATES = ["draft", "submitted", "submitted", "certified", "certified", "certified", "rejected",
                  "selected", "unselected", "submitted_central", "receipt_confirmed",
                  "deemed_confirmed", "locked", "not_certified", "deleted"]
PERFORMANCE_STATES = ["uploaded", "uploaded", "selected", "unselected", "submitted_central",
                      "receipt_confirmed", "deleted"]


def database_url(args, workdir: Path) -> str:
    return scratch_db.create(args.engine, args.pg_url, BENCH_DATABASE, workdir)


def drop_database(args) -> None:
    if not args.keep:
        scratch_db.drop(args.engine, args.pg_url, BENCH_DATABASE)


def add_school(db: Database, number: int, policy_toml: str) -> dict:
    """One school of the usual shape, written with Core inserts (not timed)."""
    code = f"{900200 + number}"
    sha = "ab" * 32
    with db.engine.begin() as c:
        school_id = c.execute(insert(School).values(code=code, name=f"效能測試高中{number}",
                                                    policy_name="xinzhuang", policy_toml=policy_toml,
                                                    created_at=NOW).returning(School.id)).scalar_one()
        staff_ids = [c.execute(insert(Staff).values(school_id=school_id, staff_no=f"T{n:03d}",
                                                    name=f"老師{n}", division="day", external=False,
                                                    active=True).returning(Staff.id)).scalar_one()
                     for n in range(TEACHERS + 1)]
        registry = staff_ids[-1]
        c.execute(insert(StaffRole), [{"school_id": school_id, "staff_id": s, "role": "subject_teacher"}
                                      for s in staff_ids[:-1]]
                  + [{"school_id": school_id, "staff_id": s, "role": "homeroom_teacher"} for s in staff_ids[:-1]]
                  + [{"school_id": school_id, "staff_id": registry, "role": r}
                     for r in ("registry", "executive_secretary", "admin")])
        c.execute(insert(SchoolClass), [{"school_id": school_id, "academic_year": YEAR,
                                         "name": f"{100 + 100 * (n // 5) + n % 5 + 1}",
                                         "homeroom_staff_id": staff_ids[n % TEACHERS]} for n in range(CLASSES)])
        class_names = [f"{100 + 100 * (n // 5) + n % 5 + 1}" for n in range(CLASSES)]
        c.execute(insert(Student), [{
            "school_id": school_id, "student_no": f"S{n:05d}", "national_id": f"A{number:03d}{n:06d}",
            "birth_date": date(2009, 1, 1), "name": f"學生{n}", "class_name": class_names[n % CLASSES],
            "grade": 1 + (n % CLASSES) // 5, "division": "day", "status": "enrolled"} for n in range(STUDENTS)])
        student_ids = list(c.scalars(select(Student.id).where(Student.school_id == school_id).order_by(Student.id)))
        c.execute(insert(Course), [{
            "school_id": school_id, "academic_year": YEAR, "semester": SEMESTER,
            "code": f"{YEAR - 2}{code}H00100A1ML{n:04d}"[:23], "name": f"課程{n}",
            "teacher_id": staff_ids[n % TEACHERS], "route": "in_school"} for n in range(COURSES)])
        course_ids = list(c.scalars(select(Course.id).where(Course.school_id == school_id).order_by(Course.id)))
        c.execute(insert(Enrolment), [{"school_id": school_id, "course_id": course_ids[(s + k) % COURSES],
                                       "student_id": sid}
                                      for s, sid in enumerate(student_ids) for k in range(10)])
        for kind, first, last in (("course_outcome_upload", date(2025, 9, 1), date(2026, 1, 20)),
                                  ("certification", date(2025, 9, 1), date(2026, 1, 23)),
                                  ("selection", date(2026, 8, 1), date(2026, 9, 13)),
                                  ("receipt_confirmation", date(2026, 10, 4), date(2026, 10, 18))):
            c.execute(insert(Window).values(school_id=school_id, kind=kind, academic_year=YEAR,
                                            semester=SEMESTER if kind in ("course_outcome_upload", "certification") else 0,
                                            starts_at=start_of_day(first), ends_at=end_of_day(last)))
        window_id = c.scalar(select(Window.id).where(Window.school_id == school_id,
                                                     Window.kind == "receipt_confirmation"))
        receipts = c.execute(insert(Receipt).returning(Receipt.id, Receipt.student_id), [{
            "school_id": school_id, "student_id": sid, "category": "course_outcome", "academic_year": YEAR,
            "window_id": window_id, "state": "issued", "version": 1, "issued_at": NOW} for sid in student_ids]).all()
        receipt_of = {student: rid for rid, student in receipts}
        rows = []
        for s, sid in enumerate(student_ids):
            for k in range(ITEMS_PER_STUDENT):
                outcome = k < 14
                state = (OUTCOME_STATES if outcome else PERFORMANCE_STATES)[(s + k) % (15 if outcome else 7)]
                central = state in ("submitted_central", "receipt_confirmed", "deemed_confirmed")
                moment = NOW - timedelta(days=1 + (s * 7 + k) % 60, hours=k)
                rows.append({
                    "school_id": school_id, "student_id": sid, "kind": "course_outcome" if outcome else "performance",
                    "academic_year": YEAR, "semester": SEMESTER if outcome else 0,
                    "course_id": course_ids[(s + k) % COURSES] if outcome else None,
                    "category": None if outcome else "competition", "title": f"成果{k}", "description": "",
                    "document_sha256": sha, "document_name": "a.pdf", "document_kind": "pdf", "document_size": 1000,
                    "state": state, "version": 1,
                    "submitted_at": moment if outcome and state not in ("draft", "locked", "deleted") else None,
                    "certified_at": moment + timedelta(days=2) if outcome and state in (
                        "certified", "selected", "unselected", "submitted_central", "receipt_confirmed",
                        "deemed_confirmed") else None,
                    "receipt_id": receipt_of[sid] if central else None,
                    "created_at": moment, "updated_at": moment})
        c.execute(insert(Item), rows)
    return {"school_id": school_id, "teacher_id": staff_ids[0], "registry_id": registry}


def analyse(db: Database) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if db.dialect == "postgresql" else "ANALYZE"))


def sign_in(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def time_page(client, path: str, repeat: int, headers: dict) -> float:
    for _ in range(3):  # warm-up: caches, pools, the planner
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(samples)


PAGES = {
    "認證佇列 /teacher/queue": ("teacher", "/teacher/queue"),
    "作業狀態 /staff/status": ("registry", f"/staff/status?year={YEAR}&semester={SEMESTER}"),
    "API /api/v1/status/summary": ("registry", f"/api/v1/status/summary?academic_year={YEAR}"),
}


def measure(db: Database, app, clients, repeat: int) -> dict[str, float]:
    out = {}
    for name, (who, path) in PAGES.items():
        headers = {}
        if path.startswith("/api/"):
            token = clients[who].post("/api/v1/auth/token", json={
                "username": f"bench.{who}", "password": PASSWORD}).get_json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
        out[name] = time_page(clients[who], path, repeat, headers)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("PORTFOLIO_BENCH_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--schools", type=int, default=100, help="schools at the large size (default 100 → 1M items)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from web.app import create_app

    accounts.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    url = database_url(args, workdir)
    db = Database(make_engine(url))
    print(f"pages at 10k and {args.schools * STUDENTS * ITEMS_PER_STUDENT // 1000}k items: {args.engine}; "
          f"python {platform.python_version()}, {platform.platform()}, {os.cpu_count()} CPUs")
    try:
        upgrade(db.engine)
        policy_toml = policy_to_toml(load_policy("xinzhuang"))
        school = add_school(db, 0, policy_toml)
        with UnitOfWork(db, school["school_id"]) as uow:
            accounts.create_account(uow, platform_admin(), username="bench.teacher", password=PASSWORD,
                                    kind="staff", staff_id=school["teacher_id"], now=NOW)
            accounts.create_account(uow, platform_admin(), username="bench.registry", password=PASSWORD,
                                    kind="staff", staff_id=school["registry_id"], now=NOW)
            uow.commit()
        analyse(db)
        app = create_app({"DATABASE": db, "DATA_DIR": str(workdir / "files"), "SECRET_KEY": "bench",
                          "SESSION_COOKIE_SECURE": False, "NOW": NOW})
        clients = {"teacher": sign_in(app, "bench.teacher"), "registry": sign_in(app, "bench.registry")}
        small = measure(db, app, clients, args.repeat)
        started = time.perf_counter()
        for number in range(1, args.schools):
            add_school(db, number, policy_toml)
        analyse(db)
        with db.engine.connect() as connection:
            total = connection.scalar(select(func.count()).select_from(Item))
        print(f"added {args.schools - 1} schools in {time.perf_counter() - started:.0f} s: {total:,} items in all")
        large = measure(db, app, clients, args.repeat)
    finally:
        db.dispose()
        drop_database(args)
        shutil.rmtree(workdir, ignore_errors=True)
    worst = 0.0
    for name in small:
        ratio = large[name] / small[name]
        worst = max(worst, ratio)
        print(f"{name}: 10k {small[name] * 1000:.1f} ms, {total // 1000}k {large[name] * 1000:.1f} ms, "
              f"ratio {ratio:.2f} (target ≤ 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
