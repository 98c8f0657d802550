"""The database a benchmark works in: a file in its temporary directory (SQLite), or its own
PostgreSQL database, dropped and created on the server of --pg-url and dropped at the end. A
benchmark never touches any other database."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from persistence.db import normalise_url

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _admin(pg_url: str):
    return create_engine(make_url(normalise_url(pg_url)).set(database="postgres"), isolation_level="AUTOCOMMIT")


def create(engine_name: str, pg_url: str, database: str, workdir: Path) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    admin = _admin(pg_url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return make_url(normalise_url(pg_url)).set(database=database).render_as_string(hide_password=False)


def drop(engine_name: str, pg_url: str, database: str) -> None:
    if engine_name == "sqlite":
        return
    admin = _admin(pg_url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    admin.dispose()
