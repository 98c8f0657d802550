"""Integers from requests on the pages (issue 15): '²' (isdigit() but not int()), '١' (a digit to
int() and to regex \\d), numbers no database column holds, and 10,000 digits are answered with a
clear 400 naming the field on a form or query and 404 in a path, never a 500, and change nothing.
Also: a batch's 部別 other than day/continuing, and the roster downloads with the default export
folder."""
from __future__ import annotations

import hashlib
import io
import json
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from persistence.tables import AuditEntry, GradeCorrection, SubmissionBatch
from tests.integration.web.conftest import api_token, post_form, sign_in
from tests.integration.web.test_batch_pages import LATER, PAGE, create_on_page, selected_outcomes
from tests.integration.web.test_grade_correction_pages import AFTER_LOCK, draft_via_page, graded  # noqa: F401
from tests.world import IN_UPLOAD, YEAR
from web.app import create_app

HUGE = "99999999999999999999999"
LONG = "1" * 10_000  # int() refuses more than 4,300 digits
BAD = ("\u00b2", "\u0661", HUGE, LONG)


def text(response) -> str:
    return response.get_data(as_text=True)


def audit_rows(world) -> int:
    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.fixture
def staff_client(app, client, world, people):
    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "staff")
    return client


@pytest.mark.parametrize("value", BAD, ids=("superscript", "arabic-indic", "huge", "10000 digits"))
def test_query_and_form_integers_are_refused_by_name(staff_client, world, value):
    client = staff_client
    before = audit_rows(world)
    refusals = {
        "bulk result item": client.get("/teacher/bulk/result", query_string={"item": value}),
        "bulk undo item": post_form(client, "/teacher/bulk/undo", {"item": value}),
        "queue page": client.get("/teacher/queue", query_string={"page": value}),
        "proxy list": post_form(client, "/staff/proxies/list", {"principal": f"staff:{world.staff_id}",
                                                                 "proxy_1": value}),
        "unavailability staff_id": post_form(client, "/staff/proxies/unavailability", {"staff_id": value}),
        "certify-only staff_id": post_form(client, "/staff/proxies/certify-only", {"staff_id": value}),
        "self-check year": client.get("/staff/working-group/self-check", query_string={"academic_year": value}),
        "self-check item": post_form(client, "/staff/working-group/self-check/items",
                                     {"academic_year": value, "task": "檢核"}),
        "trainings year": client.get("/staff/working-group/trainings", query_string={"academic_year": value}),
        "batches year": client.get(PAGE, query_string={"academic_year": value}),
        "batch create year": post_form(client, PAGE, {"kind": "year_outcomes", "academic_year": value}),
        "precheck year": client.get(f"{PAGE}/precheck", query_string={"academic_year": value}),
        "consultation semester": client.get("/staff/records/consultation", query_string={"semester": value}),
        "exploration year": client.get("/staff/records/exploration", query_string={"academic_year": value}),
        "cadre semester": client.get("/staff/records/cadre", query_string={"semester": value}),
        "status year": client.get("/staff/status", query_string={"year": value}),
        "accounts page": client.get("/staff/accounts", query_string={"page": value}),
        "calendar year": client.get("/calendar/013301", query_string={"academic_year": value}),
    }
    for what, answer in refusals.items():
        assert answer.status_code == 400, (what, answer.status_code, text(answer)[:300])
        # The rule and its limits, or the field's own words (a select's 請選擇…); the checkboxes,
        # which nobody types, ask for a reload.
        assert any(words in text(answer) for words in ("之間的整數", "項目資料不正確", "請填寫學年度", "學年度須為", "學期須為")), \
            (what, text(answer)[:600])
    assert audit_rows(world) == before


def test_a_grade_correction_version_that_is_no_number_is_refused(app, client, graded):  # noqa: F811
    world = graded
    app.config["NOW"] = AFTER_LOCK
    sign_in(client, "teacher")
    assert draft_via_page(client, world).status_code == 302
    with world.uow() as uow:
        request_id = uow.session.scalar(select(GradeCorrection.id))
    before = audit_rows(world)
    for value in BAD:
        for act in ("sign", "send-back", "withdraw"):
            answer = post_form(client, f"/staff/grade-corrections/{request_id}/{act}", {"version": value})
            assert answer.status_code == 400 and "頁面上的申請版本須為" in text(answer), (act, text(answer)[:600])
    assert audit_rows(world) == before


@pytest.mark.parametrize("value", BAD, ids=("superscript", "arabic-indic", "huge", "10000 digits"))
def test_student_upload_course_and_year_are_refused_by_name(app, client, world, people, value):
    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "stu0")
    student = world.student_ids[0]
    before = audit_rows(world)
    outcome = post_form(client, f"/students/{student}/outcomes", {"course_id": value, "title": "作品"})
    performance = post_form(client, f"/students/{student}/performances",
                            {"academic_year": value, "category": "competition", "title": "競賽"})
    assert outcome.status_code == 400 and ("課程須為 1 到" in text(outcome) or "請選擇課程" in text(outcome))
    assert performance.status_code == 400
    assert "學年度須為 1 到 999" in text(performance) or "請選擇學年度" in text(performance)
    assert audit_rows(world) == before


@pytest.mark.parametrize("segment", ("\u0661", "%D9%A1", HUGE, "2147483648", LONG))
def test_path_ids_outside_ascii_digits_or_the_database_range_match_no_route(app, client, world, people, segment):
    app.config["NOW"] = IN_UPLOAD
    item = world.upload(0, title="甲的作品")  # item 1 of the school: '١' must not reach it
    assert item == 1
    sign_in(client, "stu0")
    assert client.get(f"/items/{item}/files/document").status_code == 200
    for path in (f"/items/{segment}/files/document", f"/students/{segment}/items", f"/teacher/items/{segment}",
                 f"/staff/batches/{segment}", f"/students/1/items/{segment}/edit"):
        assert client.get(path).status_code == 404, path


def test_a_batch_of_another_division_is_refused_naming_the_allowed_ones(app, client, world, people):
    app.config["NOW"] = LATER
    selected_outcomes(world, (0,))
    sign_in(client, "staff")
    before = audit_rows(world)
    answer = post_form(client, PAGE, {"kind": "year_outcomes", "academic_year": str(YEAR), "division": "night"})
    assert answer.status_code == 400, text(answer)[:600]
    assert "部別只有日間部（day）、進修部（continuing），收到「night」" in text(answer)
    assert audit_rows(world) == before
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(SubmissionBatch)) == 0


def test_roster_downloads_work_with_the_default_export_folder(db, files, world, people, tmp_path, monkeypatch):
    """The documented default (instance/exports under the working directory), as under
    `portfolio serve` or gunicorn without PORTFOLIO_EXPORT_DIR: the pages write the export and
    serve it back."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PORTFOLIO_EXPORT_DIR", raising=False)
    app = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "test-secret",
                      "SESSION_COOKIE_SECURE": False, "NOW": LATER})
    client = app.test_client()
    selected_outcomes(world)
    sign_in(client, "staff")
    batch_id = create_on_page(client)
    assert post_form(client, f"{PAGE}/{batch_id}/export", page=PAGE).status_code == 302
    folder = tmp_path / "instance" / "exports" / world.code / f"batch-{batch_id}"
    assert folder.is_dir(), sorted(p.name for p in (tmp_path / "instance").rglob("*"))

    workbook = client.get(f"{PAGE}/{batch_id}/download/workbook")
    assert workbook.status_code == 200, text(workbook)[:600]
    assert load_workbook(io.BytesIO(workbook.data))["封面"]["B1"].value == world.code
    with world.uow() as uow:
        assert hashlib.sha256(workbook.data).hexdigest() == uow.get(SubmissionBatch, batch_id).export_sha256
    manifest = client.get(f"{PAGE}/{batch_id}/download/manifest")
    assert manifest.status_code == 200, text(manifest)[:600]
    assert json.loads(manifest.data) == json.loads((folder / "manifest.json").read_text())
    monkeypatch.chdir("/")  # a later change of directory moves nothing
    assert client.get(f"{PAGE}/{batch_id}/download/workbook").data == workbook.data


@pytest.mark.parametrize("value", BAD, ids=("superscript", "arabic-indic", "huge", "10000 digits"))
def test_the_api_refuses_the_same_integers_with_422(client, world, people, value):
    headers = api_token(client, "staff")
    for query in ({"student_id": value}, {"academic_year": value}, {"course_id": value}, {"page": value}):
        answer = client.get("/api/v1/artefacts", query_string=query, headers=headers)
        assert answer.status_code == 422, (query, answer.get_json())
        assert list(answer.get_json()["details"].get("fields", answer.get_json()["details"])) != [], answer.get_json()
    assert client.get(f"/api/v1/artefacts/{quote(value)}", headers=headers).status_code == 404
