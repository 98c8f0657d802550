"""Fixtures. Every test that touches the database runs on SQLite and on PostgreSQL.

PostgreSQL: PORTFOLIO_TEST_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/portfolio_test;
the database is created if the server is there). Without a server the PostgreSQL half skips
with the reason — except with CI=true, where it must run and fails instead.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from persistence.db import Database, make_engine
from persistence.files import LocalFileStore
from persistence.migrate import upgrade
from persistence.tables import Base
from tests.mailserver import MailServer

PG_URL = os.environ.get("PORTFOLIO_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/portfolio_test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_addoption(parser):
    parser.addoption("--heavy", action="store_true", default=False,
                     help="run the long reliability scenarios too (tests/reliability, RELIABILITY.md)")


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine():
    reason = _ensure_pg_database(PG_URL)
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    engine = make_engine(PG_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"))
    upgrade(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request, tmp_path) -> Database:
    if request.param == "sqlite":
        path = tmp_path / "portfolio.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        database = Database(make_engine(f"sqlite:///{path}"))
    else:
        engine = request.getfixturevalue("pg_engine")
        _truncate_all(engine)
        database = Database(make_engine(PG_URL))
    yield database
    database.dispose()


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
