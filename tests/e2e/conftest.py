import pytest


@pytest.fixture
def cli_db(db):
    """A database URL for the CLI: the test's SQLite file or the PostgreSQL test database."""
    return db.engine.url.render_as_string(hide_password=False)
