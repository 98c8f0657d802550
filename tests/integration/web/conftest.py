"""The web app on the test database (SQLite and PostgreSQL), a World with an account for each
kind of person, and helpers to sign in and post forms with their CSRF token."""
from __future__ import annotations

import re

import pytest

from tests.world import World
from web.app import create_app
from workflows.people import accounts
from workflows.core.actors import platform_admin

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def world(db, files) -> World:
    return World(db, files)


def add_accounts(world: World) -> dict[str, int]:
    """Accounts: stu0..stu2 (students 0..2), teacher (王老師: subject + homeroom of 101),
    teacher2 (李老師), staff (陳組長: registry, admin…), parent (guardian of student 0)."""
    admin = platform_admin()
    made = {}
    with world.uow() as uow:
        for n, sid in enumerate(world.student_ids):
            made[f"stu{n}"] = accounts.create_account(uow, admin, username=f"stu{n}.{world.code}",
                                                      password=PASSWORD, kind="student", student_id=sid).id
        for name, staff_id in (("teacher", world.teacher_id), ("teacher2", world.other_teacher_id),
                               ("staff", world.staff_id)):
            made[name] = accounts.create_account(uow, admin, username=f"{name}.{world.code}",
                                                 password=PASSWORD, kind="staff", staff_id=staff_id).id
        made["parent"] = accounts.create_account(uow, admin, username=f"parent.{world.code}",
                                                 password=PASSWORD, kind="guardian", name="學生0家長",
                                                 guardian_of=[world.student_ids[0]]).id
        uow.commit()
    return made


@pytest.fixture
def people(world) -> dict[str, int]:
    return add_accounts(world)


@pytest.fixture
def app(db, files):
    app = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "test-secret",
                      "SESSION_COOKIE_SECURE": False})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = _TOKEN.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client, who: str, code: str = "013301", password: str = PASSWORD):
    token = csrf_token(client)
    return client.post("/login", data={"username": f"{who}.{code}", "password": password,
                                       "csrf_token": token})


def post_form(client, path: str, data: dict | None = None, *, page: str | None = None, **kwargs):
    """POST a form as a browser would: with the CSRF token of the signed-in session."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client, page or "/login"))
    return client.post(path, data=data, **kwargs)


def api_token(client, who: str, code: str = "013301") -> dict:
    response = client.post("/api/v1/auth/token", json={"username": f"{who}.{code}", "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}
