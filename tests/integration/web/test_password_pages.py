"""The password pages on SQLite and PostgreSQL: 變更密碼 for every signed-in person (rules,
refusals that change nothing and never echo a password, the other sessions and API tokens ended,
this browser kept, the rate limit) and the admin's 帳號管理 / 重設密碼 (the temporary password
shown once, the old sessions ended, the change forced at the next sign-in, who may and who may
not: 403 for everyone but the school's admin, 404 for another school's account)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from persistence.tables import Account, AuditEntry
from tests.integration.web.conftest import PASSWORD, add_accounts, api_token, csrf_token, post_form, sign_in
from tests.world import World
from web.app import create_app
from workflows.people import accounts, passwords
from workflows.core.actors import platform_admin

NEW = "my own new passphrase"
CHANGE = "/account/password"


def _hash(world: World, account_id: int) -> str:
    with world.uow() as uow:
        return uow.get(Account, account_id).password_hash


def _password_audit(world: World, account_id: int) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(AuditEntry).where(
            AuditEntry.subject_kind == "account", AuditEntry.subject_id == account_id,
            AuditEntry.event.in_(passwords.PASSWORD_EVENTS)).order_by(AuditEntry.id)))


def _change(client, current=PASSWORD, new=NEW, confirm=None):
    return post_form(client, CHANGE, {"current_password": current, "new_password": new,
                                      "confirm_password": new if confirm is None else confirm}, page=CHANGE)


def _other_browser(app, who: str, password: str = PASSWORD):
    other = app.test_client()
    assert sign_in(other, who, password=password).status_code == 302
    return other


# -- 變更密碼 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["stu0", "parent", "teacher", "staff"])
def test_every_signed_in_person_finds_the_page_in_the_header(client, people, who):
    sign_in(client, who)
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert f'href="{CHANGE}"' in home and "變更密碼" in home
    page = client.get(CHANGE)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="csrf_token"' in body
    assert body.count('type="password"') == 3 and f"至少要 {accounts.PASSWORD_MIN} 個字元" in body


def test_the_page_needs_sign_in(client, people):
    answer = client.get(CHANGE)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")


def test_the_form_needs_its_csrf_token(client, people, world):
    sign_in(client, "stu0")
    before = _hash(world, people["stu0"])
    answer = client.post(CHANGE, data={"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW})
    assert answer.status_code == 400 and "CSRF" in answer.get_data(as_text=True)
    assert _hash(world, people["stu0"]) == before


@pytest.mark.parametrize("typed, field, words", [
    ({"current": "not my password 123"}, "current_password", "目前的密碼：目前的密碼不正確"),
    ({"new": "short9"}, "new_password", f"新密碼：新密碼太短：至少要 {accounts.PASSWORD_MIN} 個字元"),
    ({"confirm": NEW + "?"}, "confirm_password", "再輸入一次新密碼：兩次輸入的新密碼不一樣"),
    ({"new": PASSWORD}, "new_password", "新密碼：新密碼不能和目前的密碼相同"),
], ids=["wrong current", "too short", "mismatch", "same as current"])
def test_a_refused_change_names_the_field_changes_nothing_and_echoes_no_password(
        client, people, world, typed, field, words):
    sign_in(client, "stu0")
    before = _hash(world, people["stu0"])
    answer = _change(client, **typed)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 400, body[:300]
    assert words in body and f'id="{field}-error"' in body
    for secret in {PASSWORD, NEW, *typed.values()}:
        assert secret not in body
    assert 'value="' not in re.sub(r'name="csrf_token" value="[^"]*"', "", body.split('id="password-form"')[1])
    assert _hash(world, people["stu0"]) == before and _password_audit(world, people["stu0"]) == []
    assert client.get(CHANGE).status_code == 200  # still signed in
    assert sign_in(client.application.test_client(), "stu0").status_code == 302  # the old one still works


def test_a_change_ends_the_other_sessions_and_tokens_and_keeps_this_one(app, client, people, world):
    sign_in(client, "stu0")
    elsewhere = _other_browser(app, "stu0")
    token = api_token(client, "stu0")
    assert client.get("/api/v1/artefacts", headers=token).status_code == 200
    answer = _change(client)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    landing = client.get("/", follow_redirects=True)
    assert landing.status_code == 200 and "已變更密碼" in landing.get_data(as_text=True)
    assert client.get(f"/students/{world.student_ids[0]}/items").status_code == 200  # this browser stays
    gone = elsewhere.get(f"/students/{world.student_ids[0]}/items")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/login")
    assert client.get("/api/v1/artefacts", headers=token).status_code == 401
    fresh = app.test_client()
    assert sign_in(fresh, "stu0").status_code == 401
    assert sign_in(fresh, "stu0", password=NEW).status_code == 302
    [entry] = _password_audit(world, people["stu0"])
    assert (entry.event, entry.actor_kind, entry.actor_id) == ("password_changed", "student", world.student_ids[0])
    stored = " ".join(str(getattr(entry, c.key)) for c in AuditEntry.__table__.columns)
    assert NEW not in stored and PASSWORD not in stored and _hash(world, people["stu0"]) not in stored


def test_the_change_form_is_throttled_per_account(db, files, people):
    """The sign-in throttle on the current-password check (web/sign_in_throttle.py; its own tests
    are in test_sign_in_throttle.py): 5 wrong guesses, then a lock."""
    limited = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "k",
                          "SESSION_COOKIE_SECURE": False, "RATELIMIT_ENABLED": True})
    client = limited.test_client()
    assert sign_in(client, "teacher").status_code == 302
    token = csrf_token(client, CHANGE)
    statuses = [client.post(CHANGE, data={"current_password": f"guess number {n}", "new_password": NEW,
                                          "confirm_password": NEW, "csrf_token": token},
                            environ_base={"REMOTE_ADDR": "10.0.3.1"}).status_code for n in range(5)]
    assert statuses == [400] * 5
    # The 6th guess from that address, even the right password: 429, nothing changed.
    blocked = client.post(CHANGE, data={"current_password": PASSWORD, "new_password": NEW,
                                        "confirm_password": NEW, "csrf_token": token},
                          environ_base={"REMOTE_ADDR": "10.0.3.1"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert "目前的密碼輸入錯誤次數過多" in blocked.get_data(as_text=True)
    assert client.get(CHANGE).status_code == 200  # the GET is not limited
    # Another account from the same address still changes its password.
    other = limited.test_client()
    assert sign_in(other, "teacher2").status_code == 302
    done = post_form(other, CHANGE, {"current_password": PASSWORD, "new_password": NEW,
                                     "confirm_password": NEW}, page=CHANGE, environ_base={"REMOTE_ADDR": "10.0.3.1"})
    assert done.status_code == 302


# -- 帳號管理 / 重設密碼 ----------------------------------------------------------------------------

def _reset_path(account_id: int) -> str:
    return f"/staff/accounts/{account_id}/reset-password"


def _temporary(body: str) -> str:
    return re.search(r'id="temporary-password"[^>]*><code>([^<]+)</code>', body).group(1)


def test_the_admin_lists_and_searches_the_schools_accounts(client, people, world):
    with world.uow() as uow:
        for n in range(passwords.PAGE_SIZE):
            accounts.create_account(uow, platform_admin(), username=f"guardian{n:02d}.013301", password=PASSWORD,
                                    kind="guardian", name=f"家長{n:02d}", guardian_of=[world.student_ids[1]])
        uow.commit()
    sign_in(client, "staff")
    first = client.get("/staff/accounts")
    body = first.get_data(as_text=True)
    assert first.status_code == 200 and 'href="/staff/accounts"' in body  # in the staff header
    assert f"共 {passwords.PAGE_SIZE + 7} 個，第 1 / 2 頁" in body and 'rel="next"' in body
    second = client.get("/staff/accounts?page=2").get_data(as_text=True)
    assert "第 2 / 2 頁" in second and "teacher2.013301" in second  # usernames in order
    found = client.get("/staff/accounts?q=學生0").get_data(as_text=True)
    assert "stu0.013301" in found and "parent.013301" in found and "stu1.013301" not in found
    assert _reset_path(people["stu0"]) in found
    assert "沒有符合" in client.get("/staff/accounts?q=nobody-at-all").get_data(as_text=True)
    refused = client.get("/staff/accounts?page=abc")  # not a number (web/params.py): refused by name
    assert refused.status_code == 400 and "頁碼須為 1 到" in refused.get_data(as_text=True)


def test_a_reset_shows_a_temporary_password_once_and_ends_the_old_sessions(app, client, people, world):
    victim = app.test_client()
    sign_in(victim, "stu0")
    token = api_token(victim, "stu0")
    sign_in(client, "staff")
    confirm = client.get(_reset_path(people["stu0"]))
    confirm_body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "stu0.013301" in confirm_body and 'name="csrf_token"' in confirm_body
    done = post_form(client, _reset_path(people["stu0"]), page=_reset_path(people["stu0"]))
    body = done.get_data(as_text=True)
    assert done.status_code == 200 and "no-store" in done.headers["Cache-Control"]
    temporary = _temporary(body)
    assert len(temporary) >= accounts.PASSWORD_MIN
    # Shown once: the list and the confirmation page never show it again.
    assert temporary not in client.get(_reset_path(people["stu0"])).get_data(as_text=True)
    listing = client.get("/staff/accounts?q=stu0").get_data(as_text=True)
    assert temporary not in listing and "暫時密碼，待本人變更" in listing
    # The old session and token are dead; the old password too.
    assert victim.get("/").headers["Location"].startswith("/login")
    assert victim.get("/api/v1/artefacts", headers=token).status_code == 401
    assert sign_in(app.test_client(), "stu0").status_code == 401
    # The audit names the admin and the account, never the password.
    [entry] = _password_audit(world, people["stu0"])
    assert (entry.event, entry.actor_kind, entry.actor_id, entry.actor_name) == (
        "password_reset", "staff", world.staff_id, "陳組長")
    assert "stu0.013301" in entry.reason and temporary not in entry.reason
    # The temporary password signs in, and sends its holder to change it before anything else.
    holder = app.test_client()
    assert sign_in(holder, "stu0", password=temporary).status_code == 302
    # It opens no API token either: the API has no 變更密碼 to send its holder to.
    refused = holder.post("/api/v1/auth/token", json={"username": "stu0.013301", "password": temporary})
    assert refused.status_code == 403 and refused.get_json()["error"] == "password_change_required"
    assert "變更密碼" in refused.get_json()["message"]
    for path in ("/", f"/students/{world.student_ids[0]}/items", f"/students/{world.student_ids[0]}/receipts"):
        answer = holder.get(path)
        assert answer.status_code == 302 and answer.headers["Location"] == CHANGE, path
    page = holder.get(CHANGE).get_data(as_text=True)
    assert "暫時密碼" in page
    assert holder.get("/calendar/013301").status_code == 200  # public pages stay open
    assert _change(holder, current=temporary).status_code == 302
    assert holder.get(f"/students/{world.student_ids[0]}/items").status_code == 200
    chosen = holder.post("/api/v1/auth/token", json={"username": "stu0.013301", "password": NEW})
    assert chosen.status_code == 200 and "token" in chosen.get_json()
    assert "暫時密碼，待本人變更" not in client.get("/staff/accounts?q=stu0").get_data(as_text=True)


def test_the_reset_form_needs_its_csrf_token(client, people, world):
    sign_in(client, "staff")
    before = _hash(world, people["stu0"])
    answer = client.post(_reset_path(people["stu0"]))
    assert answer.status_code == 400 and "CSRF" in answer.get_data(as_text=True)
    assert _hash(world, people["stu0"]) == before


@pytest.mark.parametrize("who", ["teacher", "teacher2", "stu0", "stu1", "parent"])
def test_only_the_schools_admin_may_reset(client, people, world, who):
    target = people["stu0"] if who != "stu0" else people["teacher"]
    before = _hash(world, target)
    sign_in(client, who)
    assert client.get("/staff/accounts").status_code == 403
    assert client.get(_reset_path(target)).status_code == 403
    refused = post_form(client, _reset_path(target))
    assert refused.status_code == 403 and "<code>" not in refused.get_data(as_text=True)
    assert client.get(_reset_path(999999)).status_code == 403  # no id probing either
    assert _hash(world, target) == before and _password_audit(world, target) == []


def test_another_schools_account_is_404_for_the_admin(client, people, world, db, files):
    far = World(db, files, code="013302")
    far_people = add_accounts(far)
    before = _hash(far, far_people["stu0"])
    sign_in(client, "staff")
    assert client.get(_reset_path(far_people["stu0"])).status_code == 404
    assert post_form(client, _reset_path(far_people["stu0"])).status_code == 404
    assert "stu0.013302" not in client.get("/staff/accounts?q=013302").get_data(as_text=True)
    assert _hash(far, far_people["stu0"]) == before
    with far.uow() as uow:
        assert uow.session.scalar(select(AuditEntry.id).where(AuditEntry.event == "password_reset")) is None


def test_the_admin_is_sent_to_change_their_own_password(client, people, world):
    sign_in(client, "staff")
    before = _hash(world, people["staff"])
    refused = post_form(client, _reset_path(people["staff"]))
    assert refused.status_code == 400 and "請用「變更密碼」" in refused.get_data(as_text=True)
    assert _hash(world, people["staff"]) == before
    assert client.get("/staff/accounts").status_code == 200  # still signed in
