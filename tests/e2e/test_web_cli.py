"""The web from the command line: `portfolio demo --password` then `portfolio serve`, and
`portfolio user add`, as an operator runs them (real processes, SQLite and PostgreSQL)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import select

from persistence.tables import Account, AuditEntry
from tests.e2e.test_cli import PORTFOLIO, portfolio
from tests.world import national_id
from workflows.people import accounts

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Browser:
    """Just enough of a browser: cookies, forms with their CSRF token, no redirects followed."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def sign_in(self, username: str, password: str) -> tuple[int, str]:
        _, page = self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token}).encode()
        try:
            with self.opener.open(self.base + "/login", data=data, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def test_the_readme_main_command_serves_the_demo_school(tmp_path, cli_db):
    base = ["--db", cli_db, "--data-dir", str(tmp_path / "files")]
    weak = portfolio(tmp_path, *base, "demo", "--password", "short")
    assert weak.returncode == 1 and "密碼至少要 10 個字元" in weak.stderr
    built = portfolio(tmp_path, *base, "demo", "--password", "demo-pass-2026")
    assert built.returncode == 0, built.stderr
    for username in ("student", "parent", "teacher", "homeroom", "registry", "admin"):
        assert re.search(rf"^  {username}\s", built.stdout, re.M), built.stdout
    port = _free_port()
    server = subprocess.Popen([*PORTFOLIO, "--data-dir", str(tmp_path / "files"), "serve", "--db", cli_db,
                               "--port", str(port)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = browser.get("/login")
                break
            except OSError:
                assert time.monotonic() < deadline, "portfolio serve did not answer"
                time.sleep(0.2)
        assert status == 200
        status, page = browser.sign_in("homeroom", "demo-pass-2026")
        assert status == 200 and "認證佇列" in page and "王怡君" in page
        status, page = browser.get("/staff/status")
        assert status == 200 and "301" in page  # her homeroom class
        assert browser.sign_in("registry", "wrong password")[0] == 401
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C, as the README's user stops it
        try:
            server.wait(timeout=30)
        finally:
            if server.poll() is None:  # not stopped by Ctrl-C: fail, but leave no server behind
                server.kill()
                server.wait()


def _ctrl_c_as_in_a_terminal() -> None:
    # A suite started in the background by a shell without job control (`(pytest &)`) ignores
    # SIGINT, and its children inherit that: the server would never see the Ctrl-C this test sends.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_demo_password_resets_the_accounts_through_the_audited_path(tmp_path, cli_db, db):
    base = ["--db", cli_db, "--data-dir", str(tmp_path / "files")]
    assert portfolio(tmp_path, *base, "demo", "--password", "demo-pass-2026").returncode == 0

    def password_rows():
        with db.engine.connect() as connection:
            return connection.execute(select(Account.username, AuditEntry.actor_kind, AuditEntry.reason)
                                      .join(Account, (Account.id == AuditEntry.subject_id)
                                            & (AuditEntry.subject_kind == "account"))
                                      .where(AuditEntry.event == "password_set")).all()
    assert password_rows() == []
    changed = portfolio(tmp_path, *base, "demo", "--password", "another-pass-2026")
    assert changed.returncode == 0, changed.stderr
    rows = password_rows()
    assert sorted(username for username, _, _ in rows) == sorted(
        ("student", "parent", "teacher", "homeroom", "registry", "admin"))
    assert {actor for _, actor, _ in rows} == {"platform"}
    assert not any("another-pass-2026" in (reason or "") for _, _, reason in rows)
    with db.engine.connect() as connection:
        stored = connection.scalar(select(Account.password_hash).where(Account.username == "teacher"))
    assert accounts.verify_password(stored, "another-pass-2026")
    # The same password again changes nothing, so it audits nothing.
    assert portfolio(tmp_path, *base, "demo", "--password", "another-pass-2026").returncode == 0
    assert len(password_rows()) == 6


def test_user_add_makes_accounts_that_sign_in(tmp_path, cli_db, db):
    base = ["--db", cli_db, "--data-dir", str(tmp_path / "files")]
    assert portfolio(tmp_path, *base, "school", "add", "013301", "測試高中", "--policy", "xinzhuang").returncode == 0
    teachers = tmp_path / "teachers.csv"
    teachers.write_bytes("\ufeff教職員編號,姓名,角色,導師班級\r\nT01,王老師,任課教師;導師,101\r\n".encode())
    students = tmp_path / "students.csv"
    students.write_bytes(("\ufeff學號,身分證號,出生日期,姓名,班級,年級\r\n"
                          f"110001,{national_id(1)},2009-01-02,甲生,101,1\r\n").encode())
    for what, path in (("teachers", teachers), ("students", students)):
        assert portfolio(tmp_path, *base, "import", what, str(path), "--school", "013301").returncode == 0

    def add(*args, password="a good long password"):
        return portfolio(tmp_path, *base, "user", "add", *args, "--school", "013301", stdin=password + "\n")
    assert add("wang", "--role", "registry", "--staff-no", "T01").returncode == 0
    assert add("jia", "--role", "student", "--student-no", "110001").returncode == 0
    assert add("jia.mom", "--role", "guardian", "--student-no", "110001", "--name", "甲生媽媽").returncode == 0
    taken = add("jia", "--role", "student", "--student-no", "110001")
    assert taken.returncode == 1 and "已有人使用" in taken.stderr
    twice = add("jia.again", "--role", "student", "--student-no", "110001")
    assert twice.returncode == 1 and "已經有帳號「jia」" in twice.stderr
    short = add("jia.dad", "--role", "guardian", "--student-no", "110001", "--name", "甲生爸爸", password="short")
    assert short.returncode == 1 and "密碼至少要" in short.stderr
    nobody = add("bingbing", "--role", "student", "--student-no", "999999")
    assert nobody.returncode == 1 and "找不到學號 999999" in nobody.stderr
    unknown = add("dingding", "--role", "janitor", "--staff-no", "T01")
    assert unknown.returncode == 2

    from web.app import create_app
    app = create_app({"DATABASE": db, "SECRET_KEY": "t", "SESSION_COOKIE_SECURE": False,
                      "DATA_DIR": str(tmp_path / "files")})
    client = app.test_client()
    for username, lands in (("wang", "/teacher/queue"), ("jia", "/students/"), ("jia.mom", "/guardian/")):
        client.get("/logout")
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        signed = client.post("/login", data={"username": username, "password": "a good long password",
                                             "csrf_token": token})
        assert signed.status_code == 302, username
        assert lands in client.get("/").headers["Location"], username
        client.post("/logout", data={"csrf_token": re.search(
            r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)})
    # `--role registry` granted the office: 王老師 now sees the whole school's status.
    from persistence.tables import StaffRole
    from sqlalchemy import select
    with db.session() as session:
        roles = set(session.scalars(select(StaffRole.role)))
    assert "registry" in roles
