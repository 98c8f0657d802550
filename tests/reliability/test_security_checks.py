"""Security checks of the site and the API, on SQLite and PostgreSQL: session fixation, CSRF on
every form route, security headers, cookie flags, argon2 password hashes, the sign-in throttle
and ids guessed across schools (IDOR). The role × endpoint matrices themselves live in
tests/integration/web/test_access_matrix.py and test_page_access_matrix.py; here the ids are
guessed: the other school's objects and ids that do not exist.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from persistence.tables import Account, AuditEntry, Item, Receipt
from tests.artifacts import update_json
from tests.integration.web.conftest import (PASSWORD, app, client, people, sign_in,  # noqa: F401
                                            world)
from tests.integration.web.conftest import api_token, csrf_token
from tests.integration.web.test_access_matrix import OWNER_NAME, Scene
from web.app import create_app

ARTIFACTS = Path("test-artifacts/reliability")


def _save(name: str, figures: dict) -> None:
    update_json(ARTIFACTS / "security_checks.json", lambda saved: saved.update({name: figures}),
                ensure_ascii=False, indent=2)
    print(f"{name}: {figures}")


def _counts(world) -> tuple:
    with world.uow() as uow:
        return (uow.session.scalar(select(func.count()).select_from(Item)),
                uow.session.scalar(select(func.count()).select_from(AuditEntry)))


def test_session_fixation(client, world, people):
    client.get("/login")
    planted = client.get_cookie("portfolio_session").value
    assert sign_in(client, "stu0").status_code == 302
    signed_in = client.get_cookie("portfolio_session").value
    assert signed_in != planted
    # The cookie from before sign-in is not a signed-in session.
    client.set_cookie("portfolio_session", planted)
    assert client.get("/").status_code == 302 and "/login" in client.get("/").headers["Location"]
    client.set_cookie("portfolio_session", signed_in)
    assert "/students/" in client.get("/").headers["Location"]


def test_every_form_route_refuses_a_post_without_csrf_token(app, client, world, people):
    assert sign_in(client, "staff").status_code == 302
    before = _counts(world)
    routes = sorted({rule.rule for rule in app.url_map.iter_rules()
                     if "POST" in rule.methods and not rule.rule.startswith("/api/")})
    refused = {}
    for rule in routes:
        import re
        path = re.sub(r"<any\(([a-z_]+)[^>]*>", r"\1", rule)  # the first choice of an any()
        path = re.sub(r"<(?:int(?:\([^)]*\))?:)?[a-z_]*id>", "1", path)
        path = re.sub(r"<[^>]+>", "x", path)
        response = client.post(path, data={"title": "x", "reason": "x", "version": "1"})
        refused[rule] = response.status_code
        assert response.status_code == 400, (rule, response.status_code)
        assert "CSRF" in response.get_data(as_text=True), rule
    assert _counts(world) == before
    _save("csrf", {"post_form_routes": len(routes), "refused_without_token": sum(s == 400 for s in refused.values())})


@pytest.mark.parametrize("path, api", [("/login", False), ("/api/v1/openapi.json", True),
                                       ("/api/v1/artefacts", True)])
def test_security_headers(client, path, api):
    response = client.get(path)
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'self'" in csp and "default-src 'self'" in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "same-origin"


def test_session_cookie_flags(db, files, world, people):
    production_like = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "k"})
    client = production_like.test_client()
    response = client.get("/login", base_url="https://localhost")  # the CSRF token starts a session
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("portfolio_session="))
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags, cookie


def csrf_token_https(client) -> str:
    import re
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_passwords_are_argon2id(world, people):
    with world.uow() as uow:
        hashes = list(uow.session.scalars(select(Account.password_hash)))
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert not any(PASSWORD in h for h in hashes)


def test_sign_in_rate_limit(db, files, world, people):
    """The sign-in throttle (web/sign_in_throttle.py): failures only, per username and address
    across doors, per address across usernames; successes from one address never count."""
    limited = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "k",
                          "SESSION_COOKIE_SECURE": False, "RATELIMIT_ENABLED": True})
    client = limited.test_client()
    statuses = [client.post("/api/v1/auth/token", json={"username": "stu0.013301", "password": "wrong"},
                            environ_base={"REMOTE_ADDR": "10.0.1.1"}).status_code for n in range(5)]
    assert statuses == [401] * 5
    # The 6th attempt on the same username from that address, through the page and with the
    # right password: 429, the password not even checked.
    page = client.get("/login").get_data(as_text=True)
    import re
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": "stu0.013301", "password": PASSWORD, "csrf_token": token},
                           environ_base={"REMOTE_ADDR": "10.0.1.1"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "登入失敗次數過多" in response.get_data(as_text=True)
    # Per address: many usernames from one address are stopped after 100 failures.
    answers = [client.post("/api/v1/auth/token", json={"username": f"nobody{n}", "password": "x"},
                           environ_base={"REMOTE_ADDR": "10.9.9.9"}) for n in range(101)]
    assert [a.status_code for a in answers[:100]] == [401] * 100 and answers[100].status_code == 429
    assert answers[100].get_json()["details"]["rule"] == "sign_in_failures_per_address"
    # Someone else, from elsewhere, still signs in; and from one address, successes never run out.
    oks = [client.post("/api/v1/auth/token", json={"username": "stu1.013301", "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "10.5.5.5"}).status_code for _ in range(20)]
    assert oks == [200] * 20
    _save("rate_limit", {"limit": "failed sign-ins only: per username and address the 5th failure locks "
                                  "1 s, then 2 s, 4 s … (at most 5 min); per username from the 50th; "
                                  "100 per address in 10 min; a signed-in browser's device cookie exempts", "6th_failure_of_a_username": 429,
                         "101st_failure_of_an_address": 429, "successes_from_one_address": 20})


def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_address(db, files, world, people):
    """PORTFOLIO_TRUSTED_PROXIES / TRUSTED_PROXIES: every client comes through the proxy's one
    address, so without X-Forwarded-For they would share one budget."""
    limited = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "k",
                          "SESSION_COOKIE_SECURE": False, "RATELIMIT_ENABLED": True, "TRUSTED_PROXIES": 1,
                          "SIGN_IN_ADDRESS_FAILURES": 10})
    client = limited.test_client()

    def attempt(username, forwarded):
        return client.post("/api/v1/auth/token", json={"username": username, "password": "x"},
                           environ_base={"REMOTE_ADDR": "10.0.0.1"},
                           headers={"X-Forwarded-For": forwarded}).status_code

    assert [attempt(f"nobody{n}", "203.0.113.7") for n in range(11)] == [401] * 10 + [429]
    assert attempt("someone.else", "198.51.100.9") == 401  # another client behind the same proxy


def test_ids_guessed_across_schools_answer_404_without_data(db, files, app, client):
    scene = Scene(db, files, app)
    scene.issue_receipt()
    with scene.far.uow() as uow:
        far_items = list(uow.session.scalars(select(Item.id).where(Item.school_id == scene.far.school_id)))
    with scene.home.uow() as uow:
        home_receipts = list(uow.session.scalars(select(Receipt.id)))
        home_items = list(uow.session.scalars(select(Item.id).where(Item.school_id == scene.home.school_id)))
    rng = random.Random(7)
    guessed = sorted({rng.randrange(1000, 2**31 - 1) for _ in range(20)})
    tried = 0
    for who, school, foreign_items, foreign_receipts in (
            ("stu0", "013302", home_items, home_receipts),   # school 013302's people guess 013301's ids
            ("staff", "013302", home_items, home_receipts),
            ("stu1", "013301", home_items[:0] + [scene.draft, scene.submitted], [scene.receipt]),
            ("teacher", "013301", far_items, [])):
        headers = api_token(client, who, code=school)
        for item_id in [*foreign_items, *guessed]:
            for method, path in (("GET", f"/api/v1/artefacts/{item_id}"),
                                 ("POST", f"/api/v1/artefacts/{item_id}/events/submit"),
                                 ("POST", f"/api/v1/artefacts/{item_id}/events/certify")):
                response = client.open(path, method=method, headers=headers)
                tried += 1
                assert response.status_code in (403, 404), (who, school, path, response.status_code)
                assert OWNER_NAME not in response.get_data(as_text=True)
        for receipt_id in [*foreign_receipts, *guessed]:
            response = client.post(f"/api/v1/receipts/{receipt_id}/events/confirm", headers=headers)
            tried += 1
            assert response.status_code in (403, 404), (who, school, receipt_id, response.status_code)
    _save("idor", {"guessed_requests": tried, "answered_403_or_404": tried})


def test_no_page_or_api_answer_shows_a_whole_id_number_to_teachers_students_or_guardians(
        app, client, world, people):
    """身分證號 is personal data: on every page and API answer a teacher, a homeroom teacher, a
    student or a guardian can open, no student's whole ID number appears (where one is shown, it
    is masked, A12****789: tests/integration/web/test_semester_receipt_pages.py); the submission
    offices (ID_NUMBER_ROLES) are the ones who need it whole."""
    from persistence.tables import Student
    from tests.world import IN_UPLOAD
    from workflows.items import certification

    app.config["NOW"] = IN_UPLOAD
    item = world.upload(0, course_id=world.course_id, title="身分證遮罩檢查")
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    with world.uow() as uow:
        ids = [s.national_id for s in uow.session.scalars(uow.select(Student))]
    values = {"student_id": world.student_ids[0], "item_id": item}
    paths = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or not set(rule.arguments) <= set(values):
            continue
        if any(part in rule.rule for part in ("download", ".zip", "/file", "preview", ".ics", "template")):
            continue  # files and archives: the student's own data, not pages
        paths.add(rule.build({k: values[k] for k in rule.arguments})[1])
    opened = 0
    for who in ("teacher", "teacher2", "parent", "stu0"):
        sign_in(client, who)
        headers = api_token(client, who)
        for path in sorted(paths):
            answer = client.get(path, headers=headers if path.startswith("/api/") else None)
            if answer.status_code != 200:
                continue
            opened += 1
            body = answer.get_data(as_text=True)
            leaked = [nid for nid in ids if nid in body]
            assert not leaked, (who, path)
    assert opened >= 20  # the check looked at real pages, not only refusals
    _save("id_masking", {"paths": len(paths), "answers_checked": opened, "full_id_numbers_shown": 0})
