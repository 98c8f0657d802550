"""`portfolio user passwd` as an operator runs it (a real process, SQLite and PostgreSQL): the
password from stdin, the same rules as everywhere, the account's old sessions ended, the audit
naming the operator and holding no password."""
from __future__ import annotations

import re

from sqlalchemy import select

from persistence.tables import AuditEntry
from tests.e2e.test_cli import portfolio
from web.app import create_app
from workflows.people.accounts import PASSWORD_MIN

FIRST = "the first long password"
SECOND = "the second long password"


def _sign_in(client, username: str, password: str) -> int:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}).status_code


def test_user_passwd_sets_a_password_with_the_rules_and_audits_the_operator(tmp_path, cli_db, db):
    base = ["--db", cli_db, "--data-dir", str(tmp_path / "files")]
    for code in ("013301", "013302"):
        assert portfolio(tmp_path, *base, "school", "add", code, f"測試高中{code}", "--policy",
                         "xinzhuang").returncode == 0
    teachers = tmp_path / "teachers.csv"
    teachers.write_bytes("\ufeff教職員編號,姓名,角色,導師班級\r\nT01,王老師,任課教師,\r\n".encode())
    assert portfolio(tmp_path, *base, "import", "teachers", str(teachers), "--school", "013301").returncode == 0
    added = portfolio(tmp_path, *base, "user", "add", "wang", "--role", "staff", "--staff-no", "T01",
                      "--school", "013301", stdin=FIRST + "\n")
    assert added.returncode == 0, added.stderr

    app = create_app({"DATABASE": db, "SECRET_KEY": "t", "SESSION_COOKIE_SECURE": False,
                      "DATA_DIR": str(tmp_path / "files")})
    before = app.test_client()
    assert _sign_in(before, "wang", FIRST) == 302
    assert before.get("/teacher/queue").status_code == 200

    def passwd(*args, password):
        return portfolio(tmp_path, *base, "user", "passwd", *args, stdin=password + "\n")

    short = passwd("wang", password="x" * (PASSWORD_MIN - 1))
    assert short.returncode == 1 and f"至少要 {PASSWORD_MIN} 個字元" in short.stderr
    same = passwd("wang", password=FIRST)
    assert same.returncode == 1 and "不能和目前的密碼相同" in same.stderr
    unknown = passwd("nobody", password=SECOND)
    assert unknown.returncode == 1 and "找不到帳號「nobody」" in unknown.stderr
    elsewhere = passwd("wang", "--school", "013302", password=SECOND)  # not that school's account
    assert elsewhere.returncode == 1 and "找不到帳號「wang」" in elsewhere.stderr
    no_school = passwd("wang", "--school", "999999", password=SECOND)
    assert no_school.returncode == 1 and "找不到學校代碼" in no_school.stderr
    assert before.get("/teacher/queue").status_code == 200  # nothing changed so far

    done = passwd("wang", "--school", "013301", password=SECOND)
    assert done.returncode == 0, done.stderr
    assert "已設定帳號 wang（王老師）的密碼" in done.stdout and SECOND not in done.stdout
    assert before.get("/teacher/queue").status_code == 302  # the old session ended
    after = app.test_client()
    assert _sign_in(after, "wang", FIRST) == 401
    assert _sign_in(after, "wang", SECOND) == 302
    # Without --school: the username is unique across the platform.
    assert passwd("wang", password=FIRST).returncode == 0
    assert _sign_in(app.test_client(), "wang", FIRST) == 302

    with db.session() as session:
        audit = list(session.scalars(select(AuditEntry).where(AuditEntry.event == "password_set")
                                     .order_by(AuditEntry.id)))
    assert [(a.actor_kind, a.actor_name, a.subject_kind) for a in audit] == [("platform", "命令列管理者", "account")] * 2
    assert not any(FIRST in (a.reason or "") or SECOND in (a.reason or "") for a in audit)
