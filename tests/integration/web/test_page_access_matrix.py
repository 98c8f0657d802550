"""Who may reach another person's data through the pages: every role, in the same school and in
another school, against every page that names someone's student record or item.

Same rule as the API's matrix (test_access_matrix.py): whoever may not see the thing gets 404,
as for an id that does not exist; whoever may see it but not use this page or do this gets 403;
the student- and teacher-only pages answer 403 to the wrong kind of account. Nothing of the
owner's shows unless the cell allows it, and only an allowed act changes anything stored.

The account pages: everyone reaches their own 變更密碼 page; the 帳號管理 list, the owner's
重設密碼 page and the reset itself are the school's admin's only (anyone else 403, whatever the
id), and another school's admin gets 404 for the owner's account and none of it in a search.
"""
from __future__ import annotations

import re

import pytest

from persistence.tables import Account
from tests.integration.web.conftest import PASSWORD
from tests.integration.web.test_access_matrix import ROLES, Scene, _stored

PAGES = ("student items", "student receipts", "item file", "teacher item", "timeline",
         "POST submit", "POST certify", "change password", "account list", "reset page", "POST reset")

# (status, shows the owner's data) per page, in the order of PAGES. DONE: an act answered with a
# page (200, the owner's data on it) that changed something stored — the reset's one-time page.
OK, SEEN, DONE = 200, "seen", "done"
SAME_SCHOOL = {
    "owner":            (SEEN, SEEN, OK,  403, 403, 302, 403, OK, 403,  403,  403),
    "other student":    (404,  404,  404, 403, 403, 404, 403, OK, 403,  403,  403),
    "guardian":         (SEEN, SEEN, OK,  403, 403, 302, 403, OK, 403,  403,  403),
    "subject teacher":  (404,  404,  OK,  SEEN, 403, 404, 302, OK, 403,  403,  403),
    "other teacher":    (404,  404,  404, 404, 403, 404, 404, OK, 403,  403,  403),
    "homeroom teacher": (SEEN, SEEN, OK,  404, SEEN, 403, 404, OK, 403,  403,  403),
    "staff office":     (SEEN, SEEN, OK,  404, SEEN, 403, 404, OK, SEEN, SEEN, DONE),
}
OTHER_SCHOOL = {
    "owner":            (404, 404, 404, 403, 403, 404, 403, OK, 403, 403, 403),
    "other student":    (404, 404, 404, 403, 403, 404, 403, OK, 403, 403, 403),
    "guardian":         (404, 404, 404, 403, 403, 404, 403, OK, 403, 403, 403),
    "subject teacher":  (404, 404, 404, 404, 403, 404, 404, OK, 403, 403, 403),
    "other teacher":    (404, 404, 404, 404, 403, 404, 404, OK, 403, 403, 403),
    "homeroom teacher": (404, 404, 404, 404, 404, 404, 404, OK, 403, 403, 403),
    "staff office":     (404, 404, 404, 404, 404, 404, 404, OK, OK,  404, 404),
}
ROWS = [pytest.param(school, role, table[role], id=f"{school}-{role}")
        for school, table in (("013301", SAME_SCHOOL), ("013302", OTHER_SCHOOL)) for role in table]
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def scene(db, files, app) -> Scene:
    scene = Scene(db, files, app)
    with scene.home.uow() as uow:
        scene.owner_account = uow.session.scalar(uow.select(Account.id).where(Account.username == "stu0.013301"))
    return scene


def _stored_with_password(scene: Scene) -> dict:
    """_stored, and the owner's password hash (the reset's column changes that only)."""
    with scene.home.uow() as uow:
        password = uow.get(Account, scene.owner_account).password_hash
    return {**_stored(scene), ("account", scene.owner_account): password}


def _sign_in(client, username: str) -> None:
    token = _TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, username


def _csrf(client) -> str:
    return _TOKEN.search(client.get("/login").get_data(as_text=True)).group(1)


def _request(client, scene: Scene, page: str):
    owner, draft, submitted = scene.owner_id, scene.draft, scene.submitted
    if page == "student items":
        return client.get(f"/students/{owner}/items")
    if page == "student receipts":
        return client.get(f"/students/{owner}/receipts")
    if page == "item file":
        return client.get(f"/items/{submitted}/files/document")
    if page == "teacher item":
        return client.get(f"/teacher/items/{submitted}")
    if page == "timeline":
        return client.get(f"/staff/students/{owner}/timeline")
    if page == "POST submit":
        return client.post(f"/students/{owner}/items/{draft}/submit",
                           data={"csrf_token": _csrf(client), "version": "1"})
    if page == "POST certify":
        return client.post(f"/teacher/items/{submitted}/certify",
                           data={"csrf_token": _csrf(client), "version": "2"})
    if page == "change password":
        return client.get("/account/password")
    if page == "account list":  # by username: both schools have a stu0, only one is the owner
        return client.get("/staff/accounts?q=stu0")
    if page == "reset page":
        return client.get(f"/staff/accounts/{scene.owner_account}/reset-password")
    if page == "POST reset":
        return client.post(f"/staff/accounts/{scene.owner_account}/reset-password",
                           data={"csrf_token": _csrf(client)})
    raise AssertionError(page)


@pytest.mark.parametrize("school, role, row", ROWS)
def test_page_access_matrix(client, scene, school, role, row):
    _sign_in(client, f"{ROLES[role]}.{school}")
    # Whoever may see some of the owner's data may meet it on a refusal page too (a refused act
    # re-renders the page they were on); everyone else must never meet any of it.
    may_see = SEEN in row or (role == "owner" and school == "013301")
    for page, expected in zip(PAGES, row, strict=True):
        before = _stored_with_password(scene)
        response = _request(client, scene, page)
        body = response.get_data(as_text=True)
        status = 200 if expected in (SEEN, OK, DONE) else expected
        assert response.status_code == status, (page, body[:300])
        secrets = scene.secrets("item")
        if expected in (SEEN, DONE):
            assert any(secret in body for secret in secrets), (page, body[:300])
        elif not may_see:
            leaked = [secret for secret in secrets if secret in body]
            assert not leaked, f"{page}: {leaked} shown to {role} of {school}"
        changed = _stored_with_password(scene) != before
        assert changed == (status == 302 or expected == DONE), (page, role, school)
