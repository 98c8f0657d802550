"""Named locks held for one transaction.

PostgreSQL: advisory transaction locks, keyed by a stable hash of the name. SQLite needs none:
every transaction here starts with BEGIN IMMEDIATE (persistence/db.py), which already takes the
database's single write lock.
"""
from __future__ import annotations

import zlib

from sqlalchemy import text

# Uploads hold it shared while they store a file and commit the row that names it; removing
# files whose rows were purged holds it exclusively, so a file cannot vanish between an upload
# finding it already stored and the upload's commit.
FILE_STORE = "file-store"


def key_of(name: str) -> int:
    return zlib.crc32(name.encode())


def hold(session, name: str, *, shared: bool = False) -> None:
    """Wait for the lock `name` until the session's transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        session.execute(text(f"SELECT {function}(:key)"), {"key": key_of(name)})
