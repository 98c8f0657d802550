"""The custom contract finds what it promises to find (else `lint-imports` would pass vacuously)."""
from __future__ import annotations

import sys
import textwrap

import pytest

from tests.architecture.contracts import findings


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A throw-away root package `shop` with modules written by the test."""
    root = tmp_path / "shop"
    root.mkdir()
    (root / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name: str, source: str) -> str:
        path = root / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        return f"shop.{name}"

    yield write
    for name in [m for m in sys.modules if m == "shop" or m.startswith("shop.")]:
        del sys.modules[name]


def check(modules, **packages):
    return [(f.module, f.what) for f in findings(modules, {"shop"}, **packages)]


def test_a_private_name_from_another_module_is_reported_and_a_public_one_is_not(project):
    stock = project("stock", "def _count(): return 1\ndef count(): return _count()\n")
    till = project("till", "from shop.stock import _count, count\n")
    found = check([stock, till], private_names_in={"shop"}, top_level_only_in=set())
    assert found == [("shop.till", "imports private name shop.stock._count")]


def test_relative_imports_are_resolved_and_a_module_may_use_its_own_private_names(project):
    stock = project("stock", "from .stock import _count\ndef _count(): return 1\n")
    till = project("till", "from . import stock\nfrom .stock import _count\n")
    found = check([stock, till], private_names_in={"shop"}, top_level_only_in=set())
    assert found == [("shop.till", "imports private name shop.stock._count")]


def test_an_import_hidden_in_a_function_is_reported_only_where_listed(project):
    stock = project("stock", "def late():\n    from shop import till\n    import shop.till\n    import json\n")
    till = project("till", "x = 1\n")
    assert check([stock, till], private_names_in=set(), top_level_only_in={"shop"}) == [
        ("shop.stock", "imports shop inside a function"), ("shop.stock", "imports shop.till inside a function")]
    assert check([stock, till], private_names_in=set(), top_level_only_in=set()) == []
