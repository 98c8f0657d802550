"""INSERT … ON CONFLICT on both engines: the database's unique keys, not a prior
SELECT, are what make "once" hold when two processes insert at the same moment."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def dialect_insert(session):
    """The engine's own INSERT construct, the one with on_conflict_do_…."""
    return _INSERTS[session.get_bind().dialect.name]


def insert_ignoring_duplicates(session, model, rows: list[dict]) -> None:
    if rows:
        insert = dialect_insert(session)
        session.execute(insert(model).on_conflict_do_nothing(), rows)
