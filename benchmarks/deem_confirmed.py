"""Benchmark: the deemed-confirmation sweep against a hand-written raw-SQL baseline.

Two schools get identical data: N students, one closed receipt_confirmation window, N receipts
in state 'issued' and N × k performance items in 'submitted_central' pointing at them. School A
is moved by the real `workflows.deadlines.sweeps.deem_confirmed` in a UnitOfWork; school B by four
hand-written statements (text()) doing the same updates and audit inserts. Both run in the same
process, on the same engine and database, each timed with time.perf_counter around its whole
transaction, commit included. Data setup (bulk INSERT … SELECT) is not timed.

Each round rebuilds the database; rounds alternate which side runs first. After each round the
two schools are compared row by row (final item and receipt rows, audit rows), and the script
exits non-zero if the two sides did not do the same work.

    python benchmarks/deem_confirmed.py --engine sqlite
    python benchmarks/deem_confirmed.py --engine postgresql --receipts 1000000

Summary: ratio = baseline seconds / sweep seconds (the sweep's throughput relative to the
baseline's; the target is >= 0.8).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(ROOT))

import sqlalchemy  # noqa: E402
from sqlalchemy import Date, bindparam, create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine, make_url  # noqa: E402

from benchmarks import scratch_db  # noqa: E402
from persistence.db import Database, make_engine, normalise_url  # noqa: E402
from persistence.migrate import upgrade  # noqa: E402
from persistence.tables import UTCDateTime  # noqa: E402
from workflows.deadlines import sweeps
from workflows.core.actors import system  # noqa: E402
from workflows.core.clock import format_taipei  # noqa: E402
from workflows.core.unit_of_work import UnitOfWork  # noqa: E402

BENCH_DATABASE = "portfolio_bench"  # the only PostgreSQL database this script creates or drops
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

YEAR = 114
CREATED = datetime(2026, 9, 1, 0, 0, tzinfo=timezone.utc)
WINDOW_STARTS = datetime(2026, 10, 3, 16, 0, tzinfo=timezone.utc)  # 2026-10-04 00:00 Taipei
WINDOW_ENDS = datetime(2026, 10, 18, 16, 0, tzinfo=timezone.utc)   # 2026-10-19 00:00 Taipei
NOW = datetime(2026, 10, 19, 2, 0, tzinfo=timezone.utc)            # the sweep runs after the close
SCHOOLS = {"sweep": ("900001", "基準測試高中甲"), "baseline": ("900002", "基準測試高中乙")}

UTC = UTCDateTime()


def typed(statement: str, **types):
    """text() with typed bind parameters, so datetimes are stored exactly as the ORM stores them."""
    return text(statement).bindparams(*(bindparam(name, type_=type_) for name, type_ in types.items()))


# -- data setup (not timed) --------------------------------------------------------------------

class Dialect:
    """The few expressions that differ between SQLite and PostgreSQL in the setup SQL."""

    def __init__(self, name: str):
        self.name = name

    def series(self, alias: str, column: str, upper: str) -> tuple[str, str]:
        """(WITH clause, FROM item) producing integers 1..:upper as alias.column."""
        if self.name == "sqlite":
            return (f"WITH RECURSIVE {alias}({column}) AS (SELECT 1 UNION ALL "
                    f"SELECT {column} + 1 FROM {alias} WHERE {column} < :{upper}) ", alias)
        return "", f"generate_series(1, :{upper}) AS {alias}({column})"

    def digits(self, expression: str, width: int) -> str:
        if self.name == "sqlite":
            return f"printf('%0{width}d', {expression})"
        return f"lpad(CAST({expression} AS text), {width}, '0')"

    def hex64(self, expression: str) -> str:
        if self.name == "sqlite":
            return f"printf('%064x', {expression})"
        return f"lpad(to_hex({expression}), 64, '0')"


def setup(engine: Engine, receipts: int, items_per_receipt: int) -> dict[str, int]:
    """Schema via Alembic, then the two schools' identical data. Returns {side: school_id}."""
    upgrade(engine)
    d = Dialect(engine.dialect.name)
    policy_toml = (ROOT / "policies" / "template.toml").read_text(encoding="utf-8")
    school_ids = {}
    with engine.begin() as c:
        for side, (code, name) in SCHOOLS.items():
            school_id = c.execute(typed(
                "INSERT INTO schools (code, name, policy_name, policy_toml, created_at) "
                "VALUES (:code, :name, 'template', :toml, :created) RETURNING id", created=UTC),
                {"code": code, "name": name, "toml": policy_toml, "created": CREATED}).scalar_one()
            school_ids[side] = school_id
            window_id = c.execute(typed(
                "INSERT INTO windows (school_id, kind, academic_year, semester, starts_at, ends_at) "
                "VALUES (:s, 'receipt_confirmation', :year, 0, :starts, :ends) RETURNING id",
                starts=UTC, ends=UTC),
                {"s": school_id, "year": YEAR, "starts": WINDOW_STARTS, "ends": WINDOW_ENDS}).scalar_one()
            with_, from_ = d.series("seq", "g", "n")
            c.execute(typed(
                with_ + "INSERT INTO students (school_id, student_no, national_id, birth_date, name, "
                "class_name, grade, division, status) "
                f"SELECT :s, 'S' || {d.digits('g', 8)}, 'B' || {d.digits('g', 9)}, :birth, "
                f"'學生' || {d.digits('g', 8)}, '301', 3, 'day', 'enrolled' FROM {from_} ORDER BY g",
                birth=Date()), {"s": school_id, "n": receipts, "birth": date(2009, 1, 1)})
            c.execute(typed(
                "INSERT INTO receipts (school_id, student_id, category, academic_year, window_id, state, "
                "version, issued_at) SELECT :s, id, 'course_outcome', :year, :w, 'issued', 1, :issued "
                "FROM students WHERE school_id = :s ORDER BY id", issued=UTC),
                {"s": school_id, "year": YEAR, "w": window_id, "issued": WINDOW_STARTS})
            # Item j of student g has document hex(g * k + j), and a media file when j is even:
            # the same hashes in both schools, so the audit rows can be compared across them.
            with_, from_ = d.series("part", "j", "k")
            ordinal = "CAST(substr(st.student_no, 2) AS INTEGER)"
            c.execute(typed(
                with_ + "INSERT INTO items (school_id, student_id, kind, academic_year, semester, course_id, "
                "category, title, description, document_sha256, document_name, document_kind, "
                "document_size, media_sha256, state, version, submitted_at, receipt_id, created_at, "
                "updated_at) "
                f"SELECT :s, r.student_id, 'performance', :year, 0, NULL, 'competition', "
                f"'多元表現 ' || {d.digits('j', 2)}, '', {d.hex64(f'{ordinal} * :k + j')}, 'proof.pdf', "
                f"'pdf', 123456, CASE WHEN j % 2 = 0 THEN {d.hex64(f'{ordinal} * :k + j + 7')} END, "
                "'submitted_central', 1, :created, r.id, :created, :created "
                f"FROM receipts r JOIN students st ON st.school_id = r.school_id AND st.id = r.student_id "
                f"CROSS JOIN {from_} WHERE r.school_id = :s ORDER BY r.id, j", created=UTC),
                {"s": school_id, "year": YEAR, "k": items_per_receipt, "created": CREATED})
    settle(engine, vacuum=True)
    return school_ids


def settle(engine: Engine, *, vacuum: bool = False) -> None:
    """Untimed, before each side: fresh statistics (the side about to run plans with statistics of
    the data as it is, not as it was before the other side ran), and no pending WAL or dirty pages
    left for its transaction to pay for. After setup, PostgreSQL also vacuums (hint bits and the
    visibility map set, so neither side pays for the bulk load)."""
    if engine.dialect.name == "sqlite":
        # The raw connection runs in autocommit (persistence/db.py), outside any transaction,
        # which a checkpoint needs.
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            connection.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("VACUUM (ANALYZE)" if vacuum else "ANALYZE")
        try:
            c.exec_driver_sql("CHECKPOINT")
        except sqlalchemy.exc.DBAPIError:  # not a superuser: fine, just less steady
            pass


# -- the two contenders (timed) ----------------------------------------------------------------

REASON = "確認期間截止，逾期視為確認（排程器於截止時處理；執行時間 {when}）"
WAITING_ITEM = "'submitted_central'"  # the source state of deem_confirmed for both item kinds
FILE_HASH = ("NULLIF(CASE WHEN i.document_sha256 IS NOT NULL THEN 'document=' || i.document_sha256 ELSE '' END"
             " || CASE WHEN i.document_sha256 IS NOT NULL AND i.media_sha256 IS NOT NULL THEN ';' ELSE '' END"
             " || CASE WHEN i.media_sha256 IS NOT NULL THEN 'media=' || i.media_sha256 ELSE '' END, '')")
AUDIT_COLUMNS = ("school_id, subject_kind, subject_id, student_id, event, from_state, to_state, "
                 "actor_kind, actor_id, actor_name, at, reason, file_hash")

BASELINE = [
    # 1. audit rows for the items whose receipt is still waiting after its window closed
    typed(f"INSERT INTO audit_log ({AUDIT_COLUMNS}) "
          "SELECT i.school_id, i.kind, i.id, i.student_id, 'deem_confirmed', i.state, 'deemed_confirmed', "
          f"'system', NULL, :actor, w.ends_at, :reason, {FILE_HASH} "
          "FROM items i "
          "JOIN receipts r ON r.school_id = i.school_id AND r.id = i.receipt_id "
          "JOIN windows w ON w.school_id = r.school_id AND w.id = r.window_id "
          f"WHERE i.school_id = :s AND i.kind IN ('course_outcome', 'performance') AND i.state = {WAITING_ITEM} "
          "AND r.state = 'issued' AND w.ends_at <= :now", now=UTC),
    # 2. the items move
    typed("UPDATE items SET state = 'deemed_confirmed', version = items.version + 1, updated_at = :now "
          "FROM receipts r JOIN windows w ON w.school_id = r.school_id AND w.id = r.window_id "
          "WHERE r.school_id = items.school_id AND r.id = items.receipt_id "
          f"AND items.school_id = :s AND items.kind IN ('course_outcome', 'performance') "
          f"AND items.state = {WAITING_ITEM} AND r.state = 'issued' AND w.ends_at <= :now", now=UTC),
    # 3. audit rows for the receipts
    typed(f"INSERT INTO audit_log ({AUDIT_COLUMNS}) "
          "SELECT r.school_id, 'receipt', r.id, r.student_id, 'deem_confirmed', r.state, 'deemed_confirmed', "
          "'system', NULL, :actor, w.ends_at, :reason, NULL "
          "FROM receipts r JOIN windows w ON w.school_id = r.school_id AND w.id = r.window_id "
          "WHERE r.school_id = :s AND r.state = 'issued' AND w.ends_at <= :now", now=UTC),
    # 4. the receipts move, closed as of their window's deadline
    typed("UPDATE receipts SET state = 'deemed_confirmed', closed_at = w.ends_at, "
          "version = receipts.version + 1 "
          "FROM windows w WHERE w.school_id = receipts.school_id AND w.id = receipts.window_id "
          "AND receipts.school_id = :s AND receipts.state = 'issued' AND w.ends_at <= :now", now=UTC),
]


@dataclass
class Timing:
    seconds: float
    receipts: int  # as reported by the code under test
    items: int | None


def run_baseline(engine: Engine, school_id: int) -> Timing:
    params = {"s": school_id, "now": NOW, "actor": system().name, "reason": REASON.format(when=format_taipei(NOW))}
    started = time.perf_counter()
    with engine.begin() as c:
        counts = [c.execute(statement, params).rowcount for statement in BASELINE]
    seconds = time.perf_counter() - started
    return Timing(seconds, receipts=counts[3], items=counts[1])


def run_sweep(db: Database, school_id: int) -> Timing:
    started = time.perf_counter()
    with UnitOfWork(db, school_id) as uow:
        receipts = sweeps.deem_confirmed(uow, NOW)
        uow.commit()
    seconds = time.perf_counter() - started
    return Timing(seconds, receipts=receipts, items=None)


# -- did both sides do the same work? ----------------------------------------------------------

@dataclass
class Work:
    receipts: int
    items: int
    audit: int


def work_done(engine: Engine, school_id: int) -> Work:
    with engine.connect() as c:
        def one(sql: str, **types) -> int:
            return c.execute(typed(sql, **types), {"s": school_id, "now": NOW}).scalar_one()
        return Work(
            receipts=one("SELECT count(*) FROM receipts r JOIN windows w ON w.id = r.window_id "
                         "WHERE r.school_id = :s AND r.state = 'deemed_confirmed' AND r.version = 2 "
                         "AND r.closed_at = w.ends_at"),
            items=one("SELECT count(*) FROM items WHERE school_id = :s AND state = 'deemed_confirmed' "
                      "AND version = 2 AND updated_at = :now", now=UTC),
            audit=one("SELECT count(*) FROM audit_log WHERE school_id = :s AND event = 'deem_confirmed'"))


# The rows of one school, with database ids replaced by what identifies them in both schools
# (the student number and the document hash), so the two schools can be compared with EXCEPT.
COMPARABLE = {
    "audit rows": (
        "SELECT a.subject_kind, st.student_no, i.document_sha256, a.event, a.from_state, a.to_state, "
        "a.actor_kind, a.actor_id, a.actor_name, a.on_behalf_kind, a.on_behalf_id, a.on_behalf_name, "
        "a.at, a.reason, a.file_hash FROM audit_log a "
        "LEFT JOIN items i ON a.subject_kind <> 'receipt' AND i.school_id = a.school_id AND i.id = a.subject_id "
        "LEFT JOIN receipts r ON a.subject_kind = 'receipt' AND r.school_id = a.school_id AND r.id = a.subject_id "
        "LEFT JOIN students st ON st.school_id = a.school_id AND st.id = a.student_id "
        "AND st.id = coalesce(i.student_id, r.student_id) WHERE a.school_id = :{p}"),
    "items": ("SELECT st.student_no, i.document_sha256, i.media_sha256, i.kind, i.state, i.version, "
              "i.updated_at FROM items i JOIN students st ON st.school_id = i.school_id "
              "AND st.id = i.student_id WHERE i.school_id = :{p}"),
    "receipts": ("SELECT st.student_no, r.state, r.version, r.closed_at FROM receipts r "
                 "JOIN students st ON st.school_id = r.school_id AND st.id = r.student_id "
                 "WHERE r.school_id = :{p}"),
}


def differences(engine: Engine, a: int, b: int) -> dict[str, int]:
    """Rows of one school with no identical counterpart in the other, per table (both ways)."""
    found = {}
    with engine.connect() as c:
        for name, select in COMPARABLE.items():
            one_way = f"SELECT count(*) FROM ({select.format(p='a')} EXCEPT {select.format(p='b')}) AS d"
            other_way = f"SELECT count(*) FROM ({select.format(p='b')} EXCEPT {select.format(p='a')}) AS d"
            found[name] = sum(c.execute(text(q), {"a": a, "b": b}).scalar_one() for q in (one_way, other_way))
    return found


# -- databases -----------------------------------------------------------------------------------

class SQLiteTarget:
    name = "sqlite"

    def __init__(self, keep: bool):
        self.keep = keep
        self.directory = Path(tempfile.mkdtemp(prefix="portfolio-bench-"))
        self.rounds = 0

    def fresh(self) -> Engine:
        self.rounds += 1
        self.path = self.directory / f"bench-{self.rounds}.sqlite3"
        return make_engine(f"sqlite:///{self.path}")

    def done(self, engine: Engine) -> None:
        engine.dispose()
        if not self.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        if self.keep:
            print(f"kept: {self.directory}")
        else:
            shutil.rmtree(self.directory, ignore_errors=True)

    def server_version(self) -> str:
        return "not used in this run"


class PostgresTarget:
    name = "postgresql"

    def __init__(self, url: str, keep: bool):
        self.keep, self.url = keep, url
        self.admin_url = make_url(normalise_url(url)).set(database="postgres")
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT",
                                   connect_args={"connect_timeout": 5})

    def fresh(self) -> Engine:
        return make_engine(scratch_db.create("postgresql", self.url, BENCH_DATABASE, Path()))

    def done(self, engine: Engine) -> None:
        engine.dispose()

    def close(self) -> None:
        if self.keep:
            print(f"kept: database {BENCH_DATABASE} on {self.admin_url.host}:{self.admin_url.port}")
        else:
            scratch_db.drop("postgresql", self.url, BENCH_DATABASE)
        self.admin.dispose()

    def server_version(self) -> str:
        with self.admin.connect() as c:
            return c.exec_driver_sql("SELECT version()").scalar_one()


# -- main ----------------------------------------------------------------------------------------

def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds > 0 else "- rows/s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--receipts", type=int, default=100_000, help="receipts (= students) per school")
    parser.add_argument("--items-per-receipt", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds, each on freshly built data, alternating which side runs first")
    parser.add_argument("--first", choices=("baseline", "sweep"), default="baseline",
                        help="the side that runs first in round 1 (and every odd round)")
    parser.add_argument("--pg-url", default=os.environ.get("PORTFOLIO_BENCH_PG_URL", DEFAULT_PG_URL),
                        help=f"PostgreSQL server; only its host, port and credentials are used: the "
                             f"benchmark drops and re-creates its own database {BENCH_DATABASE!r} there")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args(argv)
    if args.receipts < 1 or args.items_per_receipt < 1 or args.rounds < 1:
        parser.error("--receipts, --items-per-receipt and --rounds must be at least 1")

    target = SQLiteTarget(args.keep) if args.engine == "sqlite" else PostgresTarget(args.pg_url, args.keep)
    print(f"python {platform.python_version()} ({platform.python_implementation()}), "
          f"SQLAlchemy {sqlalchemy.__version__}, {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"SQLite {sqlite3.sqlite_version}")
    print(f"PostgreSQL server: {target.server_version()}")
    print(f"engine={args.engine} receipts={args.receipts} items-per-receipt={args.items_per_receipt} "
          f"rounds={args.rounds}")

    results: list[tuple[Timing, Timing]] = []
    failed = False
    try:
        for round_no in range(1, args.rounds + 1):
            engine = target.fresh()
            try:
                started = time.perf_counter()
                schools = setup(engine, args.receipts, args.items_per_receipt)
                print(f"round {round_no}: setup {time.perf_counter() - started:.1f} s (not timed)")
                db = Database(engine)
                order = ("baseline", "sweep") if args.first == "baseline" else ("sweep", "baseline")
                if round_no % 2 == 0:
                    order = order[::-1]
                timings: dict[str, Timing] = {}
                for side in order:
                    if timings:
                        settle(engine)  # untimed: statistics and checkpoint before the second side
                    if side == "baseline":
                        timings[side] = run_baseline(engine, schools["baseline"])
                    else:
                        timings[side] = run_sweep(db, schools["sweep"])
                work = {side: work_done(engine, schools[side]) for side in ("baseline", "sweep")}
                diff = differences(engine, schools["sweep"], schools["baseline"])
            finally:
                target.done(engine)
            b, s = timings["baseline"], timings["sweep"]
            print(f"round {round_no} ({order[0]} first): baseline {b.seconds:.3f} s, "
                  f"sweep {s.seconds:.3f} s, ratio {b.seconds / s.seconds:.2f}")
            print(f"  counts  baseline: receipts={work['baseline'].receipts} items={work['baseline'].items} "
                  f"audit={work['baseline'].audit} (reported receipts={b.receipts} items={b.items})  "
                  f"sweep: receipts={work['sweep'].receipts} items={work['sweep'].items} "
                  f"audit={work['sweep'].audit} (reported receipts={s.receipts})")
            expected = Work(args.receipts, args.receipts * args.items_per_receipt,
                            args.receipts * (1 + args.items_per_receipt))
            same = (work["baseline"] == work["sweep"] == expected and b.receipts == s.receipts == expected.receipts
                    and b.items == expected.items and not any(diff.values()))
            print(f"  same work: {'yes' if same else 'NO'} (expected receipts={expected.receipts} "
                  f"items={expected.items} audit={expected.audit}; rows differing between the two "
                  f"schools: {', '.join(f'{k}={v}' for k, v in diff.items())})")
            failed |= not same
            results.append((b, s))
    finally:
        target.close()

    baseline = statistics.median(b.seconds for b, _ in results)
    sweep = statistics.median(s.seconds for _, s in results)
    rows = args.receipts * (1 + args.items_per_receipt)
    label = f"median of {len(results)} rounds" if len(results) > 1 else "1 round"
    print(f"{args.engine:<10} receipts={args.receipts} items={args.receipts * args.items_per_receipt}  "
          f"baseline {baseline:.2f} s ({rate(rows, baseline)})  sweep {sweep:.2f} s ({rate(rows, sweep)})  "
          f"ratio {baseline / sweep:.2f}  ({label})")
    if failed:
        print("FAILED: the sweep and the baseline did not do the same work", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
