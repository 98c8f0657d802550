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
from itsdangerous import URLSafeTimedSerializer

from web.sign_in_throttle import ADDRESS_RULE, DEVICE_COOKIE, PAIR_RULE, USER_RULE
from workflows.deadlines import run as deadlines
from workflows.core.clock import utc_now
from workflows.people import accounts
from workflows.core.actors import platform_admin

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


def test_a_guesser_at_one_address_backs_off(db, files, world, people):
    app = _app(db, files)
    client = app.test_client()
    seen = []

    def guess(username, password):
        answer = _token(client, username, password, address="198.51.100.9")
        seen.append((answer.status_code, answer.headers.get("Retry-After")))
        return answer

    for name in ("stu1.013301", "nobody.013301"):  # a real username and an unknown one: the same answers
        seen.clear()
        app.config["NOW"] = T0
        assert [guess(name, f"guess {n}").status_code for n in range(4)] == [401] * 4
        # The 5th failure locks for 1 s, each further one for twice as long.
        waits = []
        for step in range(5):
            assert guess(name, f"guess after {sum(waits)}").status_code == 401
            refused = guess(name, PASSWORD)  # even the right password is refused: not checked
            assert refused.status_code == 429
            body = refused.get_json()
            assert body["details"]["rule"] == PAIR_RULE and body["details"]["limit"] == 5
            assert "登入失敗次數過多" in body["message"] and "第 5 次失敗起" in body["message"]
            assert "最長 5 分鐘" in body["message"]
            wait = int(refused.headers["Retry-After"])
            waits.append(wait)
            app.config["NOW"] += timedelta(seconds=wait)
        assert waits == [1, 2, 4, 8, 16]
        if name == "stu1.013301":
            known = list(seen)
        else:
            assert seen == known  # the unknown name is throttled exactly alike: nothing told
    # On it goes, each guess as soon as the lock ends: 32, 64 … s, then 5 minutes at most.
    for expected in (32, 64, 128, 256, 300, 300):
        assert _token(client, "stu1.013301", "x", address="198.51.100.9").status_code == 401
        refused = _token(client, "stu1.013301", "x", address="198.51.100.9")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == expected
        app.config["NOW"] += timedelta(seconds=expected)
    # The lock ends; the right password signs in, and the pair's failures are forgotten.
    assert _token(client, "stu1.013301", PASSWORD, address="198.51.100.9").status_code == 200
    assert _token(client, "stu1.013301", "x", address="198.51.100.9").status_code == 401
    # Someone else signs in meanwhile from there: the lock is the username's, not the address's.
    assert _token(client, "stu2.013301", PASSWORD, address="198.51.100.9").status_code == 200


def test_a_guesser_elsewhere_cannot_lock_the_owner_out(db, files, world, people):
    """An attacker keeps failing on a classmate's predictable name from another address, as soon
    as each lock ends: she still signs in from her own address."""
    app = _app(db, files)
    attacker = app.test_client()
    for _ in range(16):  # well past the cap: locked 5 minutes after each wrong guess
        while (answer := _token(attacker, "stu0.013301", "guess", address="198.51.100.66")).status_code == 429:
            app.config["NOW"] += timedelta(seconds=int(answer.headers["Retry-After"]))
        assert answer.status_code == 401
    refused = _token(attacker, "stu0.013301", PASSWORD, address="198.51.100.66")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "300"
    assert _token(app.test_client(), "stu0.013301", PASSWORD, address=LAB).status_code == 200
    assert _page_sign_in(app.test_client(), "stu0.013301", PASSWORD, address=LAB).status_code == 302


def test_a_guesser_spread_over_many_addresses_is_stopped_at_the_username_threshold(db, files, world, people):
    app = _app(db, files)
    own = app.test_client()
    assert _page_sign_in(own, "stu0.013301", PASSWORD, address="192.0.2.250").status_code == 302
    client = app.test_client()
    tries = [_token(client, "stu0.013301", f"guess {n}", address=f"198.51.{n // 200}.{n % 200 + 1}").status_code
             for n in range(50)]
    assert tries == [401] * 50
    refused = _token(client, "stu0.013301", PASSWORD, address="192.0.2.200")  # a fresh address: still refused
    assert refused.status_code == 429 and refused.get_json()["details"] == {
        "rule": USER_RULE, "limit": 50, "retry_after": 1}
    assert "從各處合計第 50 次失敗起" in refused.get_json()["message"]
    waits = []
    for n in range(4):
        app.config["NOW"] += timedelta(seconds=int(refused.headers["Retry-After"]))
        assert _token(client, "stu0.013301", "again", address=f"192.0.2.{n + 1}").status_code == 401
        refused = _token(client, "stu0.013301", "again", address=f"192.0.2.{n + 100}")
        waits.append(int(refused.headers["Retry-After"]))
    assert waits == [2, 4, 8, 16]
    # Her own browser, which signed in before, is not held by the attack on her name.
    assert _page_sign_in(own, "stu0.013301", PASSWORD, address="192.0.2.250").status_code == 302
    assert _page_sign_in(app.test_client(), "stu0.013301", PASSWORD, address="192.0.2.250").status_code == 429


def test_the_owners_browser_signs_in_through_a_lab_locked_by_a_classmate(db, files, world, people):
    """The same lab, the same address: a classmate trips stu0's pair lock and the address's lock.
    stu0's browser, which signed in on the page before, still signs her in; a guess through that
    browser's cookie backs off on its own count."""
    app = _app(db, files, SIGN_IN_ADDRESS_FAILURES=20)
    own = app.test_client()
    assert _page_sign_in(own, "stu0.013301", PASSWORD).status_code == 302
    cookie = own.get_cookie(DEVICE_COOKIE, path="/login")
    assert cookie is not None and cookie.http_only and cookie.max_age == 180 * 86400
    assert cookie.same_site == "Lax" and "stu0" not in cookie.value
    assert own.post("/logout", data={"csrf_token": csrf_token(own, "/account/password")}).status_code == 302
    classmate = app.test_client()
    assert [_token(classmate, "stu0.013301", "x").status_code for _ in range(6)] == [401] * 5 + [429]
    assert [_token(classmate, f"s{n}.013301", "x").status_code for n in range(16)] == [401] * 15 + [429]
    assert _token(classmate, "stu2.013301", PASSWORD).get_json()["details"]["rule"] == ADDRESS_RULE
    assert _page_sign_in(app.test_client(), "stu0.013301", PASSWORD).status_code == 429  # a fresh browser
    assert _page_sign_in(own, "stu0.013301", PASSWORD).status_code == 302
    # Guessing through the stolen cookie: 4 free, then the same ladder on the device's own count.
    assert [_page_sign_in(own, "stu0.013301", f"g{n}").status_code for n in range(6)] == [401] * 5 + [429]
    refused = _page_sign_in(own, "stu0.013301", PASSWORD)
    assert refused.status_code == 429 and "在這部裝置上第 5 次失敗起" in refused.get_data(as_text=True)


def test_a_shared_computer_keeps_each_accounts_device_and_no_other_cookie_helps(db, files, world, people):
    app = _app(db, files)
    lab_pc = app.test_client()
    for name in ("stu0.013301", "stu1.013301"):  # two students on one lab computer, one after the other
        assert _page_sign_in(lab_pc, name, PASSWORD).status_code == 302
    attacker = app.test_client()
    for name in ("stu0.013301", "stu1.013301", "stu2.013301"):
        assert [_token(attacker, name, "x").status_code for _ in range(6)] == [401] * 5 + [429]
    assert _page_sign_in(lab_pc, "stu0.013301", PASSWORD).status_code == 302
    assert _page_sign_in(lab_pc, "stu1.013301", PASSWORD).status_code == 302
    # stu2 never signed in on this computer: its cookie names stu0 and stu1 only.
    assert _page_sign_in(lab_pc, "stu2.013301", PASSWORD).status_code == 429
    # A cookie naming stu2, signed with another key, is no exemption either.
    forged = URLSafeTimedSerializer("not the key", salt="portfolio.sign-in-device").dumps(
        {"d": "mine", "a": [lab_pc_mark("stu2.013301")]})
    other = app.test_client()
    other.set_cookie(DEVICE_COOKIE, forged, path="/login")
    assert _page_sign_in(other, "stu2.013301", PASSWORD).status_code == 429
    # Nor does a device cookie on the API's token endpoint, which takes none.
    assert lab_pc.post(TOKEN, json={"username": "stu0.013301", "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": LAB}).status_code == 429


def lab_pc_mark(username):
    from web.sign_in_throttle import _account_mark

    return _account_mark(username)


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
                            environ_base={"REMOTE_ADDR": LAB})
        assert wrong.status_code == 400
    # The 6th try, even the right current password: 429, nothing changed; and the API's sign-in too.
    blocked = client.post(change, data={"current_password": PASSWORD, "new_password": "a new passphrase",
                                        "confirm_password": "a new passphrase", "csrf_token": token},
                          environ_base={"REMOTE_ADDR": LAB})
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
    # "  STU0.013301  " counted against stu0.013301: the throttle lower-cases the name, though
    # sign-in matches names exactly (workflows/people/accounts.py); the more cautious count.
    assert [client.post(TOKEN, json={"username": "stu0.013301", "password": "y"}, headers=odd_address).status_code
            for _ in range(5)] == [401] * 4 + [429]


def test_the_sweep_purges_stale_counts(db, files, world, people):
    """The periodic sweep (not the sign-in path) removes counts with no failure for a day."""
    now = utc_now()
    with db.session() as session:
        old = now - timedelta(days=1, minutes=1)
        session.add_all([SignInThrottle(key="user:old", failures=9, first_failure_at=old, last_failure_at=old),
                         SignInThrottle(key="addr:192.0.2.1", failures=50, first_failure_at=old,
                                        last_failure_at=old),
                         SignInThrottle(key="pair:recent", failures=3, first_failure_at=old,
                                        last_failure_at=now - timedelta(hours=23))])
        session.commit()
    app = _app(db, files, NOW=now)
    assert _token(app.test_client(), "someone", "x", address="192.0.2.9").status_code == 401
    with db.session() as session:
        assert "user:old" in set(session.scalars(select(SignInThrottle.key)))  # a failure purges nothing
    assert deadlines.run_due(db, None, now).throttle_purged == 2
    with db.session() as session:
        keys = set(session.scalars(select(SignInThrottle.key)))
    assert "user:old" not in keys and "addr:192.0.2.1" not in keys
    assert {"pair:recent", "addr:192.0.2.9"} <= keys
