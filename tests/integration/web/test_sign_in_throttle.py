"""The sign-in throttle (web/sign_in_throttle.py) on SQLite and PostgreSQL: only failed attempts
count, per username (a growing back-off) and per address (a threshold a school behind one NAT
address never reaches by honest use); a computer lab of 40 signs in at once; spraying and
guessing are still stopped; the page, the API token and 變更密碼 share one budget; hostile bodies
get 400, never 500."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from persistence.tables import SignInThrottle, Student
from tests.integration.web.conftest import PASSWORD, add_accounts, csrf_token, post_form, sign_in
from tests.world import World, national_id
from web.app import create_app
from web.sign_in_throttle import ADDRESS_RULE, USER_RULE
from workflows import accounts
from workflows.actors import platform_admin

LAB = "203.0.113.10"  # the school's one public address behind its NAT
TOKEN = "/api/v1/auth/token"
T0 = datetime(2026, 10, 5, 0, 30, tzinfo=timezone.utc)


def _app(db, files, **config):
    return create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "k",
                       "SESSION_COOKIE_SECURE": False, "RATELIMIT_ENABLED": True, "NOW": T0, **config})


def _token(client, username, password, address=LAB):
    return client.post(TOKEN, json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _page_sign_in(client, username, password, address=LAB):
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_a_class_of_40_signs_in_together_from_one_address(db, files):
    """資訊課 in the computer lab: 40 students behind the school's one address, a quarter of them
    mistyping first, all within the same minute."""
    world = World(db, files, students=30)  # World's birthdays run out at 31: ten more by hand
    with world.uow() as uow:
        extra = [Student(school_id=world.school_id, student_no=f"301{n:04d}", birth_date=date(2009, 2, n - 29),
                         national_id=national_id(int("013301") * 10 + n), name=f"學生{n}", class_name="101", grade=1,
                         email=f"s{n}.013301@student.example.edu.tw") for n in range(30, 40)]
        uow.session.add_all(extra)
        uow.session.flush()
        world.student_ids += [student.id for student in extra]
        names = [accounts.create_account(uow, platform_admin(), username=f"s{n:02d}.013301", password=PASSWORD,
                                         kind="student", student_id=sid).username
                 for n, sid in enumerate(world.student_ids)]
        uow.commit()
    app = _app(db, files)
    typos = [_page_sign_in(app.test_client(), name, "correct horse batery").status_code for name in names[:10]]
    answers = [_page_sign_in(app.test_client(), name, PASSWORD).status_code for name in names]
    assert typos == [401] * 10
    assert answers == [302] * 40
    # The API's door too: the same 40 again, each a new token, none refused.
    assert [_token(app.test_client(), name, PASSWORD).status_code for name in names] == [200] * 40


def test_successes_never_count_and_reset_their_own_username(db, files, world, people):
    app = _app(db, files)
    client = app.test_client()
    assert [_token(client, "stu0.013301", PASSWORD).status_code for _ in range(30)] == [200] * 30
    # 4 failures, then the right password: the failures are forgotten, 5 more are free again.
    assert [_token(client, "stu0.013301", "wrong").status_code for _ in range(4)] == [401] * 4
    assert _token(client, "stu0.013301", PASSWORD).status_code == 200
    assert [_token(client, "stu0.013301", "wrong").status_code for _ in range(5)] == [401] * 5
    assert _token(client, "stu0.013301", "wrong").status_code == 429


def test_a_guesser_on_one_username_backs_off_whatever_the_address(db, files, world, people):
    app = _app(db, files)
    client = app.test_client()
    seen = []

    def guess(username, password, n):
        answer = _token(client, username, password, address=f"198.51.100.{n % 250}")
        seen.append((answer.status_code, answer.headers.get("Retry-After")))
        return answer

    for name in ("stu1.013301", "nobody.013301"):  # a real username and an unknown one: the same answers
        seen.clear()
        app.config["NOW"] = T0
        assert [guess(name, f"guess {n}", n).status_code for n in range(5)] == [401] * 5
        waits = []
        for step in range(5):
            refused = guess(name, PASSWORD, 100 + step)  # even the right password is refused: not checked
            assert refused.status_code == 429
            body = refused.get_json()
            assert body["details"]["rule"] == USER_RULE and body["details"]["limit"] == 5
            assert "登入失敗次數過多" in body["message"] and "最長 5 分鐘" in body["message"]
            wait = int(refused.headers["Retry-After"])
            waits.append(wait)
            app.config["NOW"] += timedelta(seconds=wait)
            assert guess(name, f"guess after {wait}", 200 + step).status_code == 401
        assert waits == [1, 2, 4, 8, 16]
        if name == "stu1.013301":
            known = list(seen)
        else:
            assert seen == known  # the unknown name is throttled exactly alike: nothing told
    # On it goes, each guess as soon as the lock ends: 32, 64 … s, then 5 minutes at most.
    for expected in (32, 64, 128, 256, 300, 300):
        refused = _token(client, "stu1.013301", "x")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == expected
        app.config["NOW"] += timedelta(seconds=expected)
        assert _token(client, "stu1.013301", "x").status_code == 401
    # The lock ends; the right password signs in, and the username's failures are forgotten.
    app.config["NOW"] += timedelta(seconds=300)
    assert _token(client, "stu1.013301", PASSWORD).status_code == 200
    assert _token(client, "stu1.013301", "x").status_code == 401
    # Someone else signs in meanwhile: the lock is the username's, not the address's.
    assert _token(client, "stu2.013301", PASSWORD, address="198.51.100.100").status_code == 200


def test_password_spraying_from_one_address_is_stopped(db, files, world, people):
    app = _app(db, files)
    client = app.test_client()
    sprayed = [_token(client, f"user{n}.013301", "Password123!", address="192.0.2.66").status_code
               for n in range(101)]
    assert sprayed == [401] * 100 + [429]
    refused = _token(client, "stu0.013301", PASSWORD, address="192.0.2.66")
    assert refused.status_code == 429 and refused.get_json()["details"] == {
        "rule": ADDRESS_RULE, "limit": 100, "retry_after": 600}
    assert refused.headers["Retry-After"] == "600" and "每 10 分鐘 100 次" in refused.get_json()["message"]
    assert _token(client, "stu0.013301", PASSWORD, address="192.0.2.67").status_code == 200  # elsewhere
    app.config["NOW"] = T0 + timedelta(minutes=10)  # the window ends
    assert _token(client, "user0.013301", "Password123!", address="192.0.2.66").status_code == 401


def test_a_school_network_may_be_given_a_larger_allowance(db, files, world, people):
    app = _app(db, files, SIGN_IN_ADDRESS_FAILURES=5, SIGN_IN_TRUSTED_NETWORKS="203.0.113.0/24=8, 2001:db8::/48=7")
    client = app.test_client()
    assert [_token(client, f"u{n}", "x", address="203.0.113.99").status_code for n in range(9)] == [401] * 8 + [429]
    assert [_token(client, f"v{n}", "x", address="198.51.100.1").status_code for n in range(6)] == [401] * 5 + [429]
    # IPv6 counts per /64: another address of the same /64 is the same client.
    assert [_token(client, f"w{n}", "x", address=f"2001:db8:0:1::{n + 1:x}").status_code
            for n in range(8)] == [401] * 7 + [429]
    assert _token(client, "w9", "x", address="2001:db8:0:2::1").status_code == 401


def test_one_budget_for_the_page_the_token_and_the_change_form(db, files, world, people):
    app = _app(db, files)
    client = app.test_client()
    assert [_token(client, "teacher.013301", "wrong").status_code for _ in range(3)] == [401] * 3
    assert _page_sign_in(client, "teacher.013301", "wrong too").status_code == 401
    assert _page_sign_in(client, "teacher.013301", PASSWORD).status_code == 302  # resets the username
    change = "/account/password"
    token = csrf_token(client, change)
    for n in range(5):
        wrong = client.post(change, data={"current_password": f"guess {n}", "new_password": "a new passphrase",
                                          "confirm_password": "a new passphrase", "csrf_token": token},
                            environ_base={"REMOTE_ADDR": f"10.0.2.{n}"})
        assert wrong.status_code == 400
    # The 6th try, even the right current password: 429, nothing changed; and the page's sign-in too.
    blocked = client.post(change, data={"current_password": PASSWORD, "new_password": "a new passphrase",
                                        "confirm_password": "a new passphrase", "csrf_token": token})
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "1"
    assert "目前的密碼輸入錯誤次數過多" in blocked.get_data(as_text=True)
    assert _token(app.test_client(), "teacher.013301", PASSWORD).status_code == 429
    # A mistake in the new password is not a guess: not counted.
    other = app.test_client()
    assert sign_in(other, "teacher2").status_code == 302
    for _ in range(8):
        short = post_form(other, change, {"current_password": PASSWORD, "new_password": "short",
                                          "confirm_password": "short"}, page=change)
        assert short.status_code == 400
    assert _token(app.test_client(), "teacher2.013301", PASSWORD).status_code == 200


def test_two_app_processes_share_one_count(db, files, world, people):
    """Two workers (two apps on one database) count together: 3 + 2 failures, the 6th is refused
    by either."""
    first, second = _app(db, files), _app(db, files)
    assert [_token(first.test_client(), "stu0.013301", "x").status_code for _ in range(3)] == [401] * 3
    assert [_token(second.test_client(), "stu0.013301", "x").status_code for _ in range(2)] == [401] * 2
    assert _token(first.test_client(), "stu0.013301", "x").status_code == 429
    assert _token(second.test_client(), "stu0.013301", "x").status_code == 429


@pytest.mark.parametrize("body", [b"[" * 100_000, b"{\"username\": " + b"[" * 100_000, b"[]", b"\"stu0\"",
                                  b"{\"username\": \"stu0", b"\xff\xfe"])
def test_hostile_token_bodies_get_400_never_500(db, files, body):
    client = _app(db, files).test_client()
    answer = client.post(TOKEN, data=body, content_type="application/json")
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["details"]["field"] == "body"


def test_odd_usernames_and_addresses_are_counted_without_trouble(db, files, world, people):
    app = _app(db, files, TRUSTED_PROXIES=1)
    client = app.test_client()
    odd_address = {"X-Forwarded-For": "not an address\x00" + "9" * 500}
    for username in ("  STU0.013301  ", "學生\u200b"):
        answer = client.post(TOKEN, json={"username": username, "password": "x"}, headers=odd_address)
        assert answer.status_code == 401, answer.get_data(as_text=True)[:300]
    # A name longer than any account's: the API's schema states the limit (422, not counted);
    # the page's form checks it like any name.
    huge = "x" * 1_000_000
    assert client.post(TOKEN, json={"username": huge, "password": "x"}, headers=odd_address).status_code == 422
    assert _page_sign_in(client, huge, "x").status_code == 401
    # NUL: the API's schema refuses it (422, not counted); the page's form checks it like any name.
    assert client.post(TOKEN, json={"username": "nul\x00name", "password": "x"}).status_code == 422
    page = _page_sign_in(client, "nul\x00name", "x")  # PostgreSQL refuses NUL in a query: 400 there
    assert page.status_code in (400, 401), page.get_data(as_text=True)[:300]
    assert client.post(TOKEN, json={"username": 12, "password": "x"}).status_code == 422
    # The typed name is kept only as a hash; the odd address as one too, within the column.
    with db.session() as session:
        keys = list(session.scalars(select(SignInThrottle.key)))
    assert all(len(key) <= 200 and "STU0" not in key and "x" * 100 not in key for key in keys)
    # "  STU0.013301  " counted against stu0.013301 (the name as sign-in matches it, any case).
    assert [_token(client, "stu0.013301", "y").status_code for _ in range(4)] == [401] * 4
    assert _token(client, "stu0.013301", "y").status_code == 429


def test_stale_counts_are_purged(db, files, world, people):
    with db.session() as session:
        old = T0 - timedelta(hours=2)
        session.add_all([SignInThrottle(key="user:old", failures=9, first_failure_at=old, last_failure_at=old),
                         SignInThrottle(key="addr:192.0.2.1", failures=50, first_failure_at=old,
                                        last_failure_at=T0 - timedelta(minutes=1))])
        session.commit()
    app = _app(db, files)
    assert _token(app.test_client(), "someone", "x", address="192.0.2.9").status_code == 401
    with db.session() as session:
        keys = set(session.scalars(select(SignInThrottle.key)))
    assert "user:old" not in keys and "addr:192.0.2.1" not in keys and "addr:192.0.2.9" in keys
