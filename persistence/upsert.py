"""INSERT … ON CONFLICT DO NOTHING on both engines: the database's unique keys, not a prior
SELECT, are what make "once" hold when two processes insert at the same moment."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_ignoring_duplicates(session, model, rows: list[dict]) -> None:
    if rows:
        insert = _INSERTS[session.get_bind().dialect.name]
        session.execute(insert(model).on_conflict_do_nothing(), rows)
