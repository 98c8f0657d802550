"""Fixtures. Every test that touches the database runs on SQLite and on PostgreSQL.

PostgreSQL: PORTFOLIO_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/portfolio_test;
the database is created if the server is there). Without a server the PostgreSQL half skips
with the reason — except with CI=true, where it must run and fails instead.

Under pytest-xdist (the README's command runs the suite on several workers) each worker has a
database of its own, the named one with the worker's id appended (portfolio_test_gw0, _gw1, …):
PG_URL below is that worker's URL, and the worker drops its database when the run ends. Without
xdist (`-p no:xdist`, `-n 0`) PG_URL is PORTFOLIO_TEST_PG_URL itself, kept after the run.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from persistence.db import Database, make_engine
from persistence.files import LocalFileStore
from persistence.migrate import upgrade
from persistence.tables import Base
from tests.mailserver import MailServer
from workflows.people import accounts

BASE_PG_URL = os.environ.get("PORTFOLIO_TEST_PG_URL",
                             "postgresql+psycopg://postgres@127.0.0.1:5432/portfolio_test")
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1"… in an xdist worker, else None
IN_CI = os.environ.get("CI", "").lower() == "true"


def worker_database_url(url: str, worker: str | None) -> str:
    """`url` with the xdist worker's id appended to its database name (the URL itself outside xdist)."""
    if not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


# The PostgreSQL test database of this process: everything that needs it imports PG_URL from here.
PG_URL = worker_database_url(BASE_PG_URL, XDIST_WORKER)
_pg_database_used = False  # this worker reached (and maybe created) its database: drop it at the end


def pytest_addoption(parser):
    parser.addoption("--heavy", action="store_true", default=False,
                     help="run the long reliability scenarios too (tests/reliability, RELIABILITY.md)")


# Under pytest-xdist the workers take the tests in collection order (after the xdist_group groups,
# which go first): the folders of long tests (processes, servers, fuzzing) come first, so that no
# long test starts near the end while the other workers wait, and the many short unit tests fill
# the gaps at the end. Without xdist the order stays the usual one.
_XDIST_FOLDER_ORDER = ("reliability", "e2e", "integration", "unit")


@pytest.hookimpl(trylast=True)  # after pytest-xdist's own hook (see _keep_xdist_groups)
def pytest_collection_modifyitems(config, items):
    if not XDIST_WORKER:
        return
    _keep_xdist_groups(items)
    here = Path(__file__).resolve().parent

    def rank(item) -> int:
        try:
            folder = Path(item.path).resolve().relative_to(here).parts[0]
        except (ValueError, IndexError):
            return len(_XDIST_FOLDER_ORDER)
        return _XDIST_FOLDER_ORDER.index(folder) if folder in _XDIST_FOLDER_ORDER else len(_XDIST_FOLDER_ORDER)
    items.sort(key=rank)  # stable: the order within a folder is kept


def _keep_xdist_groups(items) -> None:
    """`--dist loadgroup` under pytest 9.2: pytest-xdist (3.8) names a test's group by writing
    "<node id>@<group>" to `item._nodeid`, but pytest 9.2 keeps the node id in `item._id`, so the
    groups are silently ignored (pytest-xdist issue #1386). Carry xdist's id over; once xdist sets
    the id itself this finds nothing to do."""
    try:
        from _pytest.nodeid import coerce_node_id
    except ImportError:  # pytest before 9.2: xdist's own way works
        return
    for item in items:
        grouped = getattr(item, "__dict__", {}).get("_nodeid")
        if grouped and grouped != item.nodeid:
            item._id = coerce_node_id(grouped)


def _ensure_pg_database(url: str) -> str | None:
    """Create the test database if missing; the reason it is unavailable otherwise."""
    parsed = make_url(url)
    try:
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                        {"n": parsed.database}).scalar()
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    except Exception as error:  # no server, no rights: say why
        return f"PostgreSQL not reachable at {parsed.host}:{parsed.port}: {type(error).__name__}: {error}"
    return None


def _drop_pg_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown: nothing uses the database any more
def pytest_sessionfinish(session):
    """An xdist worker drops the database it worked in (the named database is left alone)."""
    if XDIST_WORKER and _pg_database_used:
        try:
            _drop_pg_database(PG_URL)
        except Exception as error:  # the run's result stands; say what is left behind
            print(f"\ncould not drop the worker's database {make_url(PG_URL).database}: {error}")


@pytest.fixture(autouse=True, scope="session")
def _cheap_hashes():
    # argon2 with small parameters: the same code path, a millisecond instead of ~0.2 s of CPU per
    # account made or password checked (production keeps argon2-cffi's defaults).
    accounts.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine():
    global _pg_database_used
    reason = _ensure_pg_database(PG_URL)
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    _pg_database_used = True
    engine = make_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    upgrade(engine)
    yield engine
    engine.dispose()


# The sequences of the tables' own id columns (serial or identity), with their start values.
_OWNED_SEQUENCES = text("""
    SELECT seq.oid::regclass::text, info.start_value
    FROM pg_depend dep
    JOIN pg_class seq ON seq.oid = dep.objid AND seq.relkind = 'S'
    JOIN pg_class tab ON tab.oid = dep.refobjid
    JOIN pg_sequences info ON info.schemaname = seq.relnamespace::regnamespace::text
                          AND info.sequencename = seq.relname
    WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
      AND dep.deptype IN ('a', 'i') AND tab.relnamespace = current_schema()::regnamespace
      AND tab.relname = ANY(:tables)""")


def _truncate_all(engine) -> None:
    """Every table empty and every id sequence back at its start, before each PostgreSQL test:
    what `TRUNCATE … RESTART IDENTITY CASCADE` does, ten times faster on tables this small (a
    TRUNCATE makes new files for every table and index: ~0.1 s a test, minutes over the suite).
    DELETE goes from the referencing tables to the referenced ones; audit_log, whose trigger
    refuses DELETE, and which no table references, is truncated."""
    tables = Base.metadata.sorted_tables
    with engine.begin() as connection:
        for table in reversed(tables):
            if table.name == "audit_log":
                connection.execute(text('TRUNCATE "audit_log"'))
            else:
                connection.execute(table.delete())
        sequences = connection.execute(_OWNED_SEQUENCES, {"tables": [t.name for t in tables]}).all()
        if sequences:
            connection.execute(text("SELECT " + ", ".join(
                f"setval(:s{n}, :v{n}, false)" for n in range(len(sequences)))),
                {**{f"s{n}": name for n, (name, _) in enumerate(sequences)},
                 **{f"v{n}": start for n, (_, start) in enumerate(sequences)}})


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory):
    """The engine of every SQLite test of this process, on one file that each test starts afresh
    from the template (see db)."""
    path = tmp_path_factory.mktemp("sqlite") / "portfolio.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _fresh_sqlite_file(engine, template: Path) -> None:
    """The engine's file replaced by a copy of the template: a new file (os.replace), so a
    connection a test left open keeps the old one, and no write-ahead log of the old file is left
    beside the new one."""
    engine.dispose()
    path = Path(engine.url.database)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    fresh = path.with_name(path.name + ".new")
    shutil.copy(template, fresh)
    os.replace(fresh, path)


# One engine per engine kind and test process, not one per test: SQLAlchemy keeps its compiled
# statements per engine, so a new engine for each test compiled every statement of every test
# again (about a third of building a World).
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request) -> Database:
    if request.param == "sqlite":
        engine = request.getfixturevalue("sqlite_engine")
        _fresh_sqlite_file(engine, request.getfixturevalue("sqlite_template"))
    else:
        engine = request.getfixturevalue("pg_engine")
        _truncate_all(engine)
    database = Database(engine)
    yield database
    database.dispose()  # the connections end with the test; the engine and its compiled statements stay


@pytest.fixture
def files(tmp_path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "files")


@pytest.fixture
def server():
    """A server not yet listening (the mail server is down until the test starts it)."""
    mail_server = MailServer()
    yield mail_server
    mail_server.stop()


@pytest.fixture
def smtp(server) -> MailServer:
    """A running server."""
    return server.start()
