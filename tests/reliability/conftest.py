"""The reliability and security campaign (issue 7, RELIABILITY.md). Every scenario runs with
`python -m pytest tests/reliability`; the long versions (more iterations, more kills, more fuzz
cases) run with `--heavy` and are skipped otherwise, so CI keeps to its time."""
from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items):
    if config.getoption("--heavy"):
        return
    skip = pytest.mark.skip(reason="a long run: add --heavy (RELIABILITY.md)")
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def heavy(request) -> bool:
    """True under --heavy: scenarios scale their iterations with it."""
    return bool(request.config.getoption("--heavy"))
