"""What the web's error answers learn from persistence/db.py, so that web/ imports no SQLAlchemy:
which database failures are outages, which leave a commit in doubt, and a hook after commits."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from persistence.db import DATABASE_FAILURES, Database, UnstorableValue, commit_in_doubt, is_outage


def test_a_hook_registered_twice_runs_once_after_each_commit(tmp_path):
    db = Database.from_url(f"sqlite:///{tmp_path / 'hooks.sqlite3'}")
    calls = []

    def hook():
        calls.append("committed")
    db.after_commit(hook)
    db.after_commit(hook)  # a second app on the same Database
    with db.session() as session:
        session.execute(text("SELECT 1"))
        session.rollback()
        session.execute(text("SELECT 1"))
        session.commit()
    db.dispose()
    assert calls == ["committed"]


def test_outages_are_told_from_the_requests_own_faults():
    refused = OperationalError("SELECT 1", {}, Exception("could not connect to server: Connection refused"))
    commit_lost = OperationalError(None, None, Exception("server closed the connection unexpectedly"))
    statement_lost = OperationalError("UPDATE item", {}, Exception("server closed the connection unexpectedly"))
    assert is_outage(refused) and not commit_in_doubt(refused)
    assert is_outage(commit_lost) and commit_in_doubt(commit_lost)
    assert is_outage(statement_lost) and not commit_in_doubt(statement_lost)
    assert is_outage(PoolTimeout()) and not commit_in_doubt(PoolTimeout())
    assert not commit_in_doubt(None)

    nul_byte = DataError("INSERT", {}, Exception("invalid byte sequence for encoding UTF8: 0x00"))
    duplicate = IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert isinstance(nul_byte, UnstorableValue) and not is_outage(nul_byte)
    assert not is_outage(duplicate) and not is_outage(ValueError("no database here"))
    assert all(isinstance(error, DATABASE_FAILURES) for error in (refused, nul_byte, PoolTimeout()))
