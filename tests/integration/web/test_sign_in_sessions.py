"""Server-side sign-in sessions (workflows/people/sign_in_sessions.py) through the site and the API, on
SQLite and PostgreSQL: sign-out and DELETE /api/v1/auth/token end a session at once (a copied
cookie or token opens nothing afterwards); a password change, an admin's reset and an admin's
停用 end all of an account's sessions and tokens at once (the changing browser goes on); idle and
absolute lifetimes from the configuration; neither the cookie nor the token carries anything of
the password hash; only the SHA-256 of the opaque value is stored."""
from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from persistence.tables import Account, AuditEntry, SignInSession
from tests.integration.web.conftest import PASSWORD, add_accounts, api_token, csrf_token, post_form, sign_in
from tests.world import World
from web.app import create_app
from workflows.deadlines import run as deadlines
from workflows.people import sign_in_sessions
from workflows.core.clock import utc_now

COOKIE = "portfolio_session"
NEW = "my own new passphrase"


def _copy(app, client):
    """Another browser holding a copy of `client`'s cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def _signed_in(client, world) -> bool:
    answer = client.get(f"/students/{world.student_ids[0]}/items")
    if answer.status_code == 302:
        assert answer.headers["Location"].startswith("/login"), answer.headers["Location"]
        return False
    assert answer.status_code == 200, answer.status_code
    return True


def _sessions(world: World, account_id: int) -> int:
    with world.db.session() as session:
        return session.scalar(select(func.count()).select_from(SignInSession)
                              .where(SignInSession.account_id == account_id))


def _cookie_payload(client) -> bytes:
    """What Flask's signed cookie says (base64 JSON, zlib'd when a leading '.' says so): readable
    by whoever holds the cookie."""
    value = client.get_cookie(COOKIE).value
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return zlib.decompress(raw) if compressed else raw


def _decoded_parts(token: str) -> bytes:
    parts = []
    for part in token.split("."):
        try:
            parts.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except ValueError:
            pass
    return b"|".join(parts) + token.encode()


# -- sign-out ---------------------------------------------------------------------------------

def test_after_sign_out_a_copied_cookie_is_signed_out(app, client, people, world):
    sign_in(client, "stu0")
    thief = _copy(app, client)
    assert _signed_in(thief, world)  # the copy works while the session lives
    assert post_form(client, "/logout").headers["Location"] == "/login"
    assert not _signed_in(thief, world)
    assert not _signed_in(client, world)
    assert _sessions(world, people["stu0"]) == 0


def test_sign_out_ends_only_that_browsers_session(app, client, people, world):
    sign_in(client, "stu0")
    other = app.test_client()
    sign_in(other, "stu0")
    token = api_token(client, "stu0")
    post_form(client, "/logout")
    assert _signed_in(other, world)
    assert client.get("/api/v1/artefacts", headers=token).status_code == 200


def test_signing_in_over_a_browsers_session_ends_that_session(app, client, people, world):
    # The lab's shared computer: stu0 leaves without 登出, stu1 signs in on the same browser.
    sign_in(client, "stu0")
    left_behind = _copy(app, client)
    sign_in(client, "stu1")
    assert not _signed_in(left_behind, world)
    assert _sessions(world, people["stu0"]) == 0 and _sessions(world, people["stu1"]) == 1


# -- the API token ----------------------------------------------------------------------------

def test_delete_ends_the_token_at_once_and_only_that_one(app, client, people, world):
    token, other = api_token(client, "stu0"), api_token(client, "stu0")
    sign_in(client, "stu0")
    assert client.get("/api/v1/artefacts", headers=token).status_code == 200
    ended = client.delete("/api/v1/auth/token", headers=token)
    assert ended.status_code == 204 and ended.get_data() == b""
    refused = client.get("/api/v1/artefacts", headers=token)
    assert refused.status_code == 401 and refused.get_json()["error"] == "unauthorized"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.delete("/api/v1/auth/token", headers=token).status_code == 401
    assert client.get("/api/v1/artefacts", headers=other).status_code == 200
    assert _signed_in(client, world)  # the site's session is another session


def test_delete_needs_a_token_and_the_cookie_is_not_one(client, people, world):
    sign_in(client, "stu0")
    assert client.delete("/api/v1/auth/token").status_code == 401
    assert client.delete("/api/v1/auth/token", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert _signed_in(client, world)


def test_a_web_session_value_is_not_an_api_token(app, client, people, world):
    """The two kinds are looked up apart: the cookie's value, taken out of it, opens no API call."""
    sign_in(client, "stu0")
    with app.test_request_context():
        value = app.session_interface.get_signing_serializer(app).loads(client.get_cookie(COOKIE).value)["sid"]
    assert client.get("/api/v1/artefacts", headers={"Authorization": f"Bearer {value}"}).status_code == 401


# -- what the cookie, the token and the table hold ---------------------------------------------

def test_neither_the_cookie_nor_the_token_carries_the_password_hash(app, client, people, world):
    sign_in(client, "teacher")
    token = api_token(client, "teacher")["Authorization"][len("Bearer "):]
    with world.db.session() as session:
        stored = session.scalar(select(Account.password_hash).where(Account.id == people["teacher"]))
    tails = {stored[-n:] for n in (8, 16)}
    payload = _cookie_payload(client)
    cookie = client.get_cookie(COOKIE).value
    for tail in tails:
        assert tail.encode() not in payload and tail not in cookie
        assert tail.encode() not in _decoded_parts(token)
    with app.test_request_context():
        keys = set(app.session_interface.get_signing_serializer(app).loads(cookie))
    assert keys <= {"sid", "csrf_token", "_permanent", "_flashes", "pw_checked", "pw_temporary"}, keys
    # Only the SHA-256 of each value is stored; the values themselves nowhere.
    with world.db.session() as session:
        rows = session.execute(select(SignInSession.token_hash, SignInSession.kind)
                               .where(SignInSession.account_id == people["teacher"])).all()
    assert (hashlib.sha256(token.encode()).hexdigest(), "api") in rows
    assert {kind for _, kind in rows} == {"web", "api"}
    assert all(token not in value for value, _ in rows)


# -- password change, reset and 停用 end every session and token of the account ----------------

def test_a_password_change_ends_the_others_and_keeps_this_browser(app, client, people, world):
    sign_in(client, "stu0")
    before_change = _copy(app, client)  # a copy of this browser's cookie from before the change
    elsewhere = app.test_client()
    sign_in(elsewhere, "stu0")
    token = api_token(client, "stu0")
    teacher = api_token(client, "teacher")
    answer = post_form(client, "/account/password", {"current_password": PASSWORD, "new_password": NEW,
                                                     "confirm_password": NEW}, page="/account/password")
    assert answer.status_code == 302
    assert _signed_in(client, world)
    assert not _signed_in(elsewhere, world) and not _signed_in(before_change, world)
    assert client.get("/api/v1/artefacts", headers=token).status_code == 401
    assert client.get("/api/v1/artefacts", headers=teacher).status_code == 200  # someone else's
    assert _sessions(world, people["stu0"]) == 1  # this browser's new one


def _admin_post(client, path: str, **kwargs):
    return post_form(client, path, page="/staff/accounts", **kwargs)


def test_an_admin_reset_ends_every_session_and_token_at_once(app, client, people, world):
    victim = app.test_client()
    sign_in(victim, "teacher")
    token = api_token(victim, "teacher")
    sign_in(client, "staff")
    assert _admin_post(client, f"/staff/accounts/{people['teacher']}/reset-password").status_code == 200
    assert victim.get("/teacher/queue").status_code == 302
    assert victim.get("/api/v1/artefacts", headers=token).status_code == 401
    assert _sessions(world, people["teacher"]) == 0


def test_deactivating_an_account_ends_every_session_and_token_and_refuses_sign_in(app, client, people, world):
    victim = app.test_client()
    sign_in(victim, "stu0")
    token = api_token(victim, "stu0")
    sign_in(client, "staff")
    listing = client.get("/staff/accounts?q=stu0").get_data(as_text=True)
    assert f'action="/staff/accounts/{people["stu0"]}/deactivate"' in listing
    done = _admin_post(client, f"/staff/accounts/{people['stu0']}/deactivate", data={"q": "stu0"})
    assert done.status_code == 302 and done.headers["Location"] == "/staff/accounts?q=stu0"
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "已停用帳號 stu0.013301" in page and f'action="/staff/accounts/{people["stu0"]}/activate"' in page
    assert not _signed_in(victim, world)
    assert victim.get("/api/v1/artefacts", headers=token).status_code == 401
    assert _sessions(world, people["stu0"]) == 0
    refused = sign_in(app.test_client(), "stu0")
    assert refused.status_code == 401 and "已停用" in refused.get_data(as_text=True)
    # 啟用 lets the same password in again; the ended sessions stay ended.
    assert _admin_post(client, f"/staff/accounts/{people['stu0']}/activate").status_code == 302
    assert not _signed_in(victim, world)
    assert sign_in(app.test_client(), "stu0").status_code == 302
    with world.uow() as uow:
        audit = [(e.event, e.from_state, e.to_state, e.actor_name) for e in uow.session.scalars(
            uow.select(AuditEntry).where(AuditEntry.subject_kind == "account",
                                         AuditEntry.subject_id == people["stu0"]).order_by(AuditEntry.id))
                 if e.event != "create_account"]
    assert audit == [("deactivate_account", "active", "inactive", "陳組長"),
                     ("activate_account", "inactive", "active", "陳組長")]


@pytest.mark.parametrize("who", ["teacher", "stu0", "parent"])
def test_only_the_schools_admin_deactivates(client, people, world, who):
    target = people["teacher2"]
    sign_in(client, who)
    assert post_form(client, f"/staff/accounts/{target}/deactivate").status_code == 403
    with world.db.session() as session:
        assert session.scalar(select(Account.active).where(Account.id == target))


def test_the_admin_cannot_deactivate_their_own_or_another_schools_account(client, people, world, db, files):
    far = World(db, files, code="013302")
    far_people = add_accounts(far)
    far_client = client.application.test_client()
    sign_in(far_client, "stu0", code="013302")
    sign_in(client, "staff")
    assert _admin_post(client, f"/staff/accounts/{far_people['stu0']}/deactivate").status_code == 404
    assert _signed_in_far(far_client, far)
    listing = client.get("/staff/accounts?q=staff").get_data(as_text=True)
    assert f'/staff/accounts/{people["staff"]}/deactivate' not in listing  # no button on one's own row
    own = _admin_post(client, f"/staff/accounts/{people['staff']}/deactivate", follow_redirects=True)
    assert "不能停用或啟用自己的帳號" in own.get_data(as_text=True)
    assert client.get("/staff/accounts").status_code == 200  # still signed in, still active


def _signed_in_far(client, far: World) -> bool:
    return client.get(f"/students/{far.student_ids[0]}/items").status_code == 200


def test_one_schools_session_reaches_nothing_of_another_school(client, people, world, db, files):
    far = World(db, files, code="013302")
    add_accounts(far)
    sign_in(client, "staff", code="013302")
    assert client.get(f"/students/{world.student_ids[0]}/items").status_code == 404
    token = api_token(client, "staff", code="013302")
    listed = client.get("/api/v1/artefacts", headers=token, query_string={"student_id": world.student_ids[0]})
    # A filter by another school's student finds what a filter by no student at all finds.
    nobody = client.get("/api/v1/artefacts", headers=token, query_string={"student_id": 2**31 - 1})
    assert (listed.status_code, listed.get_json()["items"]) == (nobody.status_code, nobody.get_json()["items"]) \
        == (200, [])


def test_a_certify_only_account_past_its_date_loses_every_session_and_token(app, client, people, world):
    from datetime import date, datetime, timezone

    from sqlalchemy import update

    from persistence.tables import Staff

    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id)
                            .values(active=False, certify_only_until=date(2025, 11, 5)))
        uow.commit()
    app.config["NOW"] = datetime(2025, 11, 5, 8, 0, tzinfo=timezone.utc)  # the last day, Taipei
    sign_in(client, "teacher2")
    other = app.test_client()
    sign_in(other, "teacher2")
    token = api_token(client, "teacher2")
    app.config["NOW"] = datetime(2025, 11, 5, 16, 30, tzinfo=timezone.utc)  # the day after, Taipei
    assert client.get("/teacher/queue").status_code == 403
    assert other.get("/teacher/queue").status_code == 302  # the other browser's session ended with it
    assert client.get("/api/v1/artefacts", headers=token).status_code == 401
    assert _sessions(world, people["teacher2"]) == 0


# -- lifetimes ------------------------------------------------------------------------------

@pytest.fixture
def short_app(db, files):
    """Web sessions: idle 30 minutes, at most 3 hours; tokens: idle 20 minutes, at most 1 hour."""
    return create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "test-secret",
                       "SESSION_COOKIE_SECURE": False, "SESSION_IDLE_MINUTES": 30, "SESSION_MAX_MINUTES": 180,
                       "TOKEN_IDLE_MINUTES": 20, "TOKEN_MAX_MINUTES": 60})


def test_an_idle_web_session_ends(short_app, people, world):
    with freeze_time(utc_now()) as clock:
        client = short_app.test_client()
        sign_in(client, "stu0")
        clock.tick(timedelta(minutes=29))
        assert _signed_in(client, world)  # used: the idle time starts again
        clock.tick(timedelta(minutes=29))
        assert _signed_in(client, world)
        clock.tick(timedelta(minutes=30, seconds=1))
        assert not _signed_in(client, world)
    assert _sessions(world, people["stu0"]) == 0  # removed when found run out


def test_a_web_session_ends_at_its_absolute_lifetime_however_busy(short_app, people, world):
    with freeze_time(utc_now()) as clock:
        client = short_app.test_client()
        sign_in(client, "stu0")
        for _ in range(8):  # 160 minutes, a request every 20
            clock.tick(timedelta(minutes=20))
            assert _signed_in(client, world)
        clock.tick(timedelta(minutes=20))  # 180
        assert not _signed_in(client, world)


def test_api_tokens_have_their_own_idle_and_absolute_lifetimes(short_app, people, world):
    with freeze_time(utc_now()) as clock:
        client = short_app.test_client()
        idle, busy = api_token(client, "stu0"), api_token(client, "stu0")
        for _ in range(2):
            clock.tick(timedelta(minutes=15))
            assert client.get("/api/v1/artefacts", headers=busy).status_code == 200
        assert client.get("/api/v1/artefacts", headers=idle).status_code == 401  # 30 minutes unused
        clock.tick(timedelta(minutes=15))
        assert client.get("/api/v1/artefacts", headers=busy).status_code == 200  # 45 minutes
        clock.tick(timedelta(minutes=15))
        assert client.get("/api/v1/artefacts", headers=busy).status_code == 401  # 60: the absolute end


def test_most_requests_write_nothing_to_the_session_row(app, client, people, world):
    sign_in(client, "stu0")
    with world.db.session() as session:
        first = session.scalar(select(SignInSession.last_seen_at).where(SignInSession.account_id == people["stu0"]))
    with freeze_time(utc_now() + timedelta(seconds=30)):
        assert _signed_in(client, world)
    with world.db.session() as session:
        assert session.scalar(select(SignInSession.last_seen_at)
                              .where(SignInSession.account_id == people["stu0"])) == first
    later = utc_now() + sign_in_sessions.TOUCH_EVERY + timedelta(seconds=5)
    with freeze_time(later):
        assert _signed_in(client, world)
    with world.db.session() as session:
        seen = session.scalar(select(SignInSession.last_seen_at).where(SignInSession.account_id == people["stu0"]))
    assert seen > first


def test_the_lifetimes_come_from_the_environment_and_bad_ones_are_refused(db, files, monkeypatch):
    monkeypatch.setenv("PORTFOLIO_SESSION_IDLE_MINUTES", "45")
    monkeypatch.setenv("PORTFOLIO_TOKEN_MAX_MINUTES", "90")
    app = create_app({"DATABASE": db, "FILES": files, "SECRET_KEY": "k"})
    assert (app.config["SESSION_IDLE_MINUTES"], app.config["TOKEN_MAX_MINUTES"]) == (45, 90)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=8)  # the web's absolute default
    monkeypatch.setenv("PORTFOLIO_SESSION_IDLE_MINUTES", "soon")
    with pytest.raises(ValueError, match="PORTFOLIO_SESSION_IDLE_MINUTES"):
        create_app({"DATABASE": db, "FILES": files, "SECRET_KEY": "k"})
    monkeypatch.setenv("PORTFOLIO_SESSION_IDLE_MINUTES", "1")
    with pytest.raises(ValueError, match="idle lifetime"):
        create_app({"DATABASE": db, "FILES": files, "SECRET_KEY": "k"})


def _account(world: World, account_id: int) -> Account:
    with world.db.session() as session:
        account = session.get(Account, account_id)
        session.expunge(account)
    return account


def test_the_sweep_removes_sessions_past_their_absolute_lifetime(people, world):
    lifetimes = sign_in_sessions.Lifetimes(absolute=timedelta(hours=1))
    start = utc_now()
    sign_in_sessions.start_session(world.db, _account(world, people["stu1"]), "web", lifetimes,
                                   start - timedelta(hours=2))
    live = sign_in_sessions.start_session(world.db, _account(world, people["stu0"]), "api", lifetimes, start)
    assert _sessions(world, people["stu1"]) == 1
    assert deadlines.run_due(world.db, None, start).sessions_purged == 1
    assert _sessions(world, people["stu1"]) == 0
    assert sign_in_sessions.signed_in_account(world.db, live, "api", lifetimes, start) is not None


def test_a_new_session_clears_the_accounts_own_run_out_ones(people, world):
    lifetimes = sign_in_sessions.Lifetimes(absolute=timedelta(hours=1))
    account = _account(world, people["stu0"])
    sign_in_sessions.start_session(world.db, account, "web", lifetimes, utc_now() - timedelta(hours=2))
    sign_in_sessions.start_session(world.db, account, "web", lifetimes, utc_now())
    assert _sessions(world, people["stu0"]) == 1
