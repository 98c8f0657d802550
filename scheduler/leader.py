"""One active scheduler at a time (a shared job store with two active schedulers runs jobs twice
or misses them).

PostgreSQL: a session-level advisory lock held on a dedicated connection; it is released when
that connection ends, including when the process dies, so a waiting instance takes over.
SQLite: an exclusive `flock` on a file next to the database; the kernel releases it with the
process. `held()` is the heartbeat: a lost lock stops the scheduler.
"""
from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from persistence import locks
from persistence.db import Database

log = logging.getLogger(__name__)
LOCK_NAME = "portfolio-scheduler"


class PostgresLeadership:
    def __init__(self, db: Database):
        self.db = db
        self.connection = None

    def try_acquire(self) -> bool:
        """False while another instance leads, and while the database cannot be reached."""
        try:
            if self.connection is None:
                self.connection = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            return bool(self.connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                                {"key": locks.key_of(LOCK_NAME)}).scalar())
        except Exception as error:  # noqa: BLE001 - an outage: keep waiting, reconnect next time
            log.warning("scheduler lock: database unavailable: %s", error)
            self.release()
            return False

    def held(self) -> bool:
        try:
            return bool(self.connection.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid = 0 AND objid::bigint = :key"),
                {"key": locks.key_of(LOCK_NAME)}).scalar())
        except Exception as error:  # noqa: BLE001 - any failure means the lock may be gone
            log.error("scheduler lock connection lost: %s", error)
            return False

    def release(self) -> None:
        """Unlock, then end the lock's session: returned to the pool, the session would live on.

        The explicit unlock matters because the server ends a disconnected session a moment after
        the socket closes; until then the lock stays held and a successor would be refused."""
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT pg_advisory_unlock_all()"))
            except Exception:  # noqa: BLE001 - a dead connection holds no lock to unlock
                log.debug("unlocking the scheduler lock failed", exc_info=True)
            try:
                self.connection.invalidate()
                self.connection.close()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                log.debug("closing the scheduler lock connection failed", exc_info=True)
            finally:
                self.connection = None


class FileLeadership:
    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        if self.fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return True

    def held(self) -> bool:
        return self.fd is not None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def leadership_for(db: Database):
    if db.dialect == "postgresql":
        return PostgresLeadership(db)
    database = make_url(db.engine.url).database
    if not database or database == ":memory:":
        raise ValueError("the scheduler needs a database file or a PostgreSQL server")
    return FileLeadership(Path(f"{database}.scheduler.lock"))
