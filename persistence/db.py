"""Engines and sessions. SQLite is the embedded default; PostgreSQL is the production engine."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_INSTANCE = Path("instance")


def default_url() -> str:
    return os.environ.get("PORTFOLIO_DATABASE_URL") or f"sqlite:///{DEFAULT_INSTANCE / 'portfolio.sqlite3'}"


def normalise_url(url: str) -> str:
    """postgresql:// and postgres:// mean psycopg 3 here."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        # A commit is on disk when it returns: nothing acknowledged may be lost.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Take the write lock up front: read-count-write sequences (caps) cannot interleave.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


# The database's failures, for callers that import no SQLAlchemy (the web's error pages):
# whatever the driver raised, and a pool whose connections all stayed busy for pool_timeout.
DATABASE_FAILURES: tuple[type[Exception], ...] = (DBAPIError, PoolTimeout)
# A value the database cannot store (a NUL byte, an out-of-range number): the input's fault.
UnstorableValue = DataError


def is_outage(error: Exception) -> bool:
    """The database could not be reached, the connection broke or no pooled connection came
    free: not the request's fault, and nothing of it was applied unless `commit_in_doubt`."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated or isinstance(error, InterfaceError):
        return True
    text = str(error.orig).lower()
    return isinstance(error, OperationalError) and any(
        sign in text for sign in ("connection", "could not connect", "server closed", "terminating", "shutting down"))


def commit_in_doubt(error: Exception | None) -> bool:
    """Whether the connection broke during COMMIT, so the work may have been applied. A failed
    statement or connection attempt carries no doubt: its transaction never committed."""
    if not isinstance(error, DBAPIError) or error.statement is not None:
        return False
    return not str(error.orig).lower().startswith(("connection failed", "could not connect"))


@dataclass
class Database:
    engine: Engine
    _commit_hooks: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self.sessions, "after_commit", self._committed)

    def _committed(self, _session: Session) -> None:
        for hook in self._commit_hooks:
            hook()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Call `hook` after every commit of this database's sessions; a hook registered again
        (one Database serving several apps) is still called once."""
        if hook not in self._commit_hooks:
            self._commit_hooks.append(hook)

    @classmethod
    def from_url(cls, url: str | None = None) -> "Database":
        return cls(make_engine(url or default_url()))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def dispose(self) -> None:
        self.engine.dispose()
