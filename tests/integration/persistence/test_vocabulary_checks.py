"""The migrated database allows exactly the codes of the vocabularies: an enum that gains a code
needs a migration, and this test says so."""
import pytest
from sqlalchemy import inspect

from tests.unit.persistence.test_vocabulary import _QUOTED, CONSTRAINED


@pytest.mark.parametrize("key, enum", CONSTRAINED.items(), ids=str)
def test_the_migrated_check_allows_the_vocabularys_codes(db, key, enum):
    table, column = key  # each such CHECK is named after its column: ck_<table>_<column>
    checks = {c["name"]: c["sqltext"] for c in inspect(db.engine).get_check_constraints(table)}
    assert set(_QUOTED.findall(checks[f"ck_{table}_{column}"])) == set(enum.codes())
