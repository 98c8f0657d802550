"""Sign-in, sign-out, sessions, CSRF and security headers."""
from __future__ import annotations

import re

from sqlalchemy import update

from persistence.tables import Staff
from tests.integration.web.conftest import PASSWORD, csrf_token, post_form, sign_in
from web.app import create_app
from workflows.people import passwords
from workflows.core.actors import platform_admin


def test_sign_in_lands_each_person_on_their_page(client, people, world):
    assert sign_in(client, "stu0").headers["Location"] == "/"
    assert client.get("/").headers["Location"] == f"/students/{world.student_ids[0]}/items"
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert sign_in(client, "parent").headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/guardian/"
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    sign_in(client, "teacher")
    assert client.get("/").headers["Location"] == "/teacher/queue"


def test_wrong_password_and_unknown_user_get_the_same_answer(client, people):
    wrong = sign_in(client, "stu0", password="not the password")
    unknown = sign_in(client, "nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert "帳號或密碼不正確" in wrong.get_data(as_text=True)
    assert "帳號或密碼不正確" in unknown.get_data(as_text=True)
    assert client.get("/teacher/queue").status_code == 302  # still signed out


def test_pages_need_sign_in_and_come_back_after_it(client, people, world):
    first = client.get(f"/students/{world.student_ids[0]}/receipts")
    assert first.status_code == 302 and first.headers["Location"].startswith("/login?next=")
    token = csrf_token(client)
    back = client.post(f"/login?next=/students/{world.student_ids[0]}/receipts",
                       data={"username": "stu0.013301", "password": PASSWORD, "csrf_token": token})
    assert back.headers["Location"] == f"/students/{world.student_ids[0]}/receipts"


def test_sign_in_never_redirects_off_site(client, people):
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = client.post(f"/login?next={target}", data={
            "username": "stu0.013301", "password": PASSWORD, "csrf_token": csrf_token(client)})
        assert response.headers["Location"] == "/", target


def test_forms_without_the_csrf_token_are_refused(client, people):
    response = client.post("/login", data={"username": "stu0.013301", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    sign_in(client, "stu0")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 302 and "/students/" in client.get("/").headers["Location"]


def test_sign_out_ends_the_session(client, people):
    sign_in(client, "teacher")
    assert post_form(client, "/logout").headers["Location"] == "/login"
    assert client.get("/teacher/queue").status_code == 302


def test_a_new_password_ends_other_sessions(client, people, world):
    sign_in(client, "teacher")
    assert client.get("/teacher/queue").status_code == 200
    with world.uow() as uow:  # `portfolio user passwd`'s path
        passwords.set_password(uow, platform_admin(), "teacher.013301", "a brand new password")
        uow.commit()
    assert client.get("/teacher/queue").status_code == 302


def test_a_departed_teacher_cannot_sign_in(client, people, world):
    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id).values(active=False))
        uow.commit()
    response = sign_in(client, "teacher2")
    assert response.status_code == 401 and "已停用" in response.get_data(as_text=True)


def test_session_cookie_and_headers_are_safe_by_default(db, files, people):
    app = create_app({"DATABASE": db, "FILES": files, "SECRET_KEY": "k"})
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": "stu0.013301", "password": PASSWORD,
                                           "csrf_token": token}, base_url="https://localhost",
                           headers={"Referer": "https://localhost/login"})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_passwords_are_stored_as_argon2_hashes(people, world):
    with world.uow() as uow:
        from persistence.tables import Account
        stored = uow.get(Account, people["stu0"]).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_a_nul_byte_in_a_form_is_refused_not_a_server_error(client, people):
    response = client.post("/login", data={"username": "stu0\x00.013301", "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code in (400, 401)
    assert client.get("/teacher/queue").status_code == 302
