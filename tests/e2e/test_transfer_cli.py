"""`portfolio transfer export` at school A, `portfolio transfer import` at school B (a second
SQLite database), through the `portfolio` command."""
from __future__ import annotations

import shutil

from persistence.db import Database, make_engine
from persistence.files import LocalFileStore
from persistence.tables import Item, Student
from tests.e2e.test_cli import portfolio
from tests.world import World


def test_transfer_round_trip_through_the_command(db, files, tmp_path, sqlite_template):
    a = World(db, files)
    a.to_receipts((0,))
    a.upload_performance(0, title="科展")
    url_a = db.engine.url.render_as_string(hide_password=False)
    path_b = tmp_path / "b.sqlite3"
    shutil.copy(sqlite_template, path_b)
    db_b = Database(make_engine(f"sqlite:///{path_b}"))
    b = World(db_b, LocalFileStore(tmp_path / "files-b"), code="013302", students=1)
    package = tmp_path / "package.zip"
    out = portfolio(tmp_path, "--db", url_a, "--data-dir", str(files.root), "transfer", "export",
                    "--school", "013301", "--final", "3010000", str(package))
    assert out.returncode == 0, out.stderr
    assert "項目 2 件" in out.stdout and "轉出" in out.stdout
    with a.uow() as uow:
        assert uow.get(Student, a.student_ids[0]).status == "transferred_out"
    into = portfolio(tmp_path, "--db", f"sqlite:///{path_b}", "--data-dir", str(tmp_path / "files-b"),
                     "transfer", "import", "--school", "013302", str(package), "--student-no", "3029999",
                     "--class", "201", "--grade", "2")
    assert into.returncode == 0, into.stderr
    assert "013301" in into.stdout and "項目 2 件" in into.stdout
    with b.uow() as uow:
        states = sorted(uow.session.scalars(uow.select(Item.state)))
    assert states == ["submitted_central", "uploaded"]
    package.write_bytes(package.read_bytes()[:-40])  # a damaged package: refused, exit 1
    again = portfolio(tmp_path, "--db", f"sqlite:///{path_b}", "--data-dir", str(tmp_path / "files-b"),
                      "transfer", "import", "--school", "013302", str(package), "--student-no", "3029998",
                      "--class", "201", "--grade", "2")
    assert again.returncode == 1 and "錯誤：" in again.stderr and "Traceback" not in again.stderr
    db_b.dispose()
