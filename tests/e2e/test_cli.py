"""The `portfolio` command as an operator uses it, in a fresh working directory (SQLite) and
against PostgreSQL via --db."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


from tests.world import national_id

PORTFOLIO = [sys.executable, "-c", "from web.cli import main; main()"]


def portfolio(cwd: Path, *args: str, stdin: str | None = None, env: dict | None = None):
    return subprocess.run([*PORTFOLIO, *args], cwd=cwd, capture_output=True, text=True, input=stdin,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **(env or {})},
                          timeout=300)


def _state_rows(stdout: str) -> list[list[str]]:
    table = stdout.split("示範帳號")[0]
    return [line.split() for line in table.splitlines() if line.startswith("  ")]


def test_demo_builds_every_state_and_running_it_twice_duplicates_nothing(tmp_path, cli_db):
    first = portfolio(tmp_path, "--db", cli_db, "--data-dir", str(tmp_path / "files"), "demo")
    assert first.returncode == 0, first.stderr
    rows = _state_rows(first.stdout)
    assert rows and all(int(row[-1]) > 0 for row in rows), first.stdout  # every state has items
    assert "密碼：" in first.stdout  # new accounts: a random password, shown once
    second = portfolio(tmp_path, "--db", cli_db, "--data-dir", str(tmp_path / "files"), "demo")
    assert second.returncode == 0, second.stderr
    assert _state_rows(second.stdout) == rows
    assert "密碼未變更" in second.stdout and "密碼：" not in second.stdout


def test_default_database_lives_under_instance(tmp_path):
    result = portfolio(tmp_path, "db", "upgrade", env={"PORTFOLIO_DATABASE_URL": ""})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "instance" / "portfolio.sqlite3").exists()


def test_policy_check_and_show(tmp_path):
    assert portfolio(tmp_path, "policy", "check", "xinzhuang").returncode == 0
    shown = portfolio(tmp_path, "policy", "show", "nanning")
    assert shown.returncode == 0 and "5" in shown.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(__file__).resolve().parents[2].joinpath("policies", "xinzhuang.toml").read_text(
        encoding="utf-8").replace("selections_per_year = 6", "selections_per_year = 7"), encoding="utf-8")
    refused = portfolio(tmp_path, "policy", "check", str(bad))
    assert refused.returncode == 1
    assert "course_outcome.selections_per_year = 7" in refused.stderr


def test_school_setup_from_csv_reports_bad_rows_and_changes_nothing(tmp_path, cli_db):
    base = ["--db", cli_db, "--data-dir", str(tmp_path / "files")]
    assert portfolio(tmp_path, *base, "school", "add", "013301", "測試高中", "--policy", "xinzhuang").returncode == 0
    teachers = tmp_path / "teachers.csv"
    teachers.write_bytes("\ufeff教職員編號,姓名,角色,導師班級\r\nT01,王老師,任課教師;導師,101\r\n".encode())
    assert portfolio(tmp_path, *base, "import", "teachers", str(teachers), "--school", "013301").returncode == 0
    students = tmp_path / "students.csv"
    students.write_bytes(("\ufeff學號,身分證號,出生日期,姓名,班級,年級\r\n"
                          f"110001,{national_id(1)},2009-01-02,甲生,101,1\r\n"
                          f"110002,A123456780,2009-13-40,乙生,101,4\r\n").encode())
    refused = portfolio(tmp_path, *base, "import", "students", str(students), "--school", "013301")
    assert refused.returncode == 1
    assert "第 3 行" in refused.stderr and "出生日期" in refused.stderr and "年級" in refused.stderr
    assert "A123456780" not in refused.stderr  # the ID number is never echoed in full
    good = tmp_path / "good.csv"
    good.write_bytes(students.read_bytes().splitlines(keepends=True)[0] + students.read_bytes().splitlines(keepends=True)[1])
    assert portfolio(tmp_path, *base, "import", "students", str(good), "--school", "013301").returncode == 0
    courses = tmp_path / "courses.csv"
    courses.write_bytes(("學年度,學期,課程代碼,課程名稱,授課教師編號,修課學生\r\n"
                         "114,1,112013301H00100A1ML0101,國語文,T01,110001\r\n"
                         "114,1,112013302H00100A1ML0101,數學,T01,110001\r\n").encode())
    wrong_school = portfolio(tmp_path, *base, "import", "courses", str(courses), "--school", "013301")
    assert wrong_school.returncode == 1 and "學校代碼" in wrong_school.stderr
    set_window = portfolio(tmp_path, *base, "calendar", "set", "--school", "013301",
                           "course_outcome_upload", "114", "1", "2025-09-30", "2026-02-03")
    assert set_window.returncode == 0, set_window.stderr
    assert "115/02/06 23:59" in set_window.stdout  # certification: 3 working days after
    shown = portfolio(tmp_path, *base, "calendar", "show", "--school", "013301")
    assert "課程學習成果上傳" in shown.stdout and "115/02/03 23:59" in shown.stdout
