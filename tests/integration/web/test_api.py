"""The JSON API as a program uses it: tokens, listing, multipart upload, events through the
workflows (submit → certify → select), receipts, and every kind of refused input answered with
JSON in Chinese — never a 500, never a change stored."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import event

from persistence.tables import AuditEntry, Item, Receipt
from tests import samples
from tests.integration.web.conftest import PASSWORD, api_token, sign_in
from tests.world import AFTER_CERTIFICATION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD, YEAR
from web.upload_limits import upload_limit
from workflows.items import certification
from workflows.central import receipts


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error", "message", "details"}
    return body


def _upload_form(**fields):
    data = {"kind": "course_outcome", "title": "讀書心得", **fields}
    return {k: v for k, v in data.items() if v is not None}


def _events(body: dict) -> set[str]:
    return {e["event"] for e in body["available_events"]}


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["title"] for item in response.get_json()["items"]]


@pytest.fixture
def at(app):
    def set_time(moment):
        app.config["NOW"] = moment
    set_time(IN_UPLOAD)
    return set_time


# -- tokens -----------------------------------------------------------------------------------

def test_a_right_password_gets_a_token_and_a_wrong_one_a_json_401(client, people):
    good = client.post("/api/v1/auth/token", json={"username": "stu0.013301", "password": PASSWORD})
    assert good.status_code == 200 and good.get_json()["token"]
    for credentials in ({"username": "stu0.013301", "password": "not the password"},
                        {"username": "nobody.013301", "password": PASSWORD}):
        body = _error(client.post("/api/v1/auth/token", json=credentials), 401)
        assert body["error"] == "unauthorized" and "帳號或密碼不正確" in body["message"]
    missing = _error(client.post("/api/v1/auth/token", json={"username": "stu0.013301"}), 422)
    assert "password" in missing["details"]["fields"] and "必填" in missing["message"]


def test_without_a_valid_token_every_call_is_a_json_401(client, people, world):
    sign_in(client, "stu0")  # a site session cookie must not work for the API
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic c3R1MDp4"}):
        response = client.get("/api/v1/artefacts", headers=headers)
        body = _error(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "權杖" in body["message"]
    assert client.get("/api/v1/artefacts", headers=api_token(client, "stu0")).status_code == 200


# -- listing ----------------------------------------------------------------------------------

def test_a_student_lists_only_their_own_items(client, people, world):
    world.upload(0, title="甲的讀書心得")
    world.upload_performance(0, title="甲的科展")
    world.upload(1, title="乙的讀書心得")
    me = api_token(client, "stu0")
    assert sorted(_titles(client.get("/api/v1/artefacts", headers=me))) == ["甲的科展", "甲的讀書心得"]
    assert _titles(client.get("/api/v1/artefacts?kind=performance", headers=me)) == ["甲的科展"]
    # Naming another student narrows to nothing; it never widens.
    assert _titles(client.get(f"/api/v1/artefacts?student_id={world.student_ids[1]}", headers=me)) == []


def test_staff_filter_and_page_in_the_database(client, people, world):
    made = {world.upload(n, title=f"國文{n}") for n in range(3)}
    math = world.upload(0, course_id=world.course2_id, title="數學0")
    world.run(certification.submit, world.student(0), math, now=IN_UPLOAD)
    office = api_token(client, "staff")
    first = client.get("/api/v1/artefacts?per_page=2&page=1", headers=office).get_json()
    second = client.get("/api/v1/artefacts?per_page=2&page=2", headers=office).get_json()
    assert (first["total"], first["pages"], len(first["items"]), len(second["items"])) == (4, 2, 2, 2)
    assert {i["id"] for i in first["items"] + second["items"]} == made | {math}
    by_course = client.get(f"/api/v1/artefacts?course_id={world.course2_id}", headers=office).get_json()
    assert [i["id"] for i in by_course["items"]] == [math]
    assert _titles(client.get("/api/v1/artefacts?state=submitted", headers=office)) == ["數學0"]
    assert _titles(client.get(f"/api/v1/artefacts?academic_year={YEAR + 1}", headers=office)) == []
    # 李老師 teaches 數學 only and is nobody's homeroom teacher: he sees the 數學 outcome.
    assert _titles(client.get("/api/v1/artefacts", headers=api_token(client, "teacher2"))) == ["數學0"]
    # 王老師 is the homeroom teacher of 101: his class's items, whatever the course.
    assert len(_titles(client.get("/api/v1/artefacts", headers=api_token(client, "teacher")))) == 4


def test_deleted_items_are_listed_only_when_asked_for(client, people, world, at):
    world.upload(0, title="留著")
    gone = world.upload(0, title="不要了")
    me = api_token(client, "stu0")
    response = client.post(f"/api/v1/artefacts/{gone}/events/delete", headers=me)
    assert response.status_code == 200 and response.get_json()["state"] == "deleted"
    assert _titles(client.get("/api/v1/artefacts", headers=me)) == ["留著"]
    assert _titles(client.get("/api/v1/artefacts?state=deleted", headers=me)) == ["不要了"]


# -- the main path: upload, submit, certify, select --------------------------------------------

def test_upload_submit_certify_select_through_the_api(client, people, world, at):
    student, teacher = api_token(client, "stu0"), api_token(client, "teacher")
    created = client.post("/api/v1/artefacts", headers=student, content_type="multipart/form-data", data=_upload_form(
        course_id=str(world.course_id), description="讀完《紅樓夢》",
        document=(io.BytesIO(samples.pdf("心得")), "心得.pdf")))
    assert created.status_code == 201, created.get_json()
    item = created.get_json()
    assert created.headers["Location"].endswith(f"/api/v1/artefacts/{item['id']}")
    assert (item["state"], item["state_label"], item["course_name"]) == ("draft", "草稿", "國語文")
    assert (item["document"]["kind"], item["document"]["name"], item["media"]) == ("pdf", "心得.pdf", None)
    assert _events(item) == {"submit", "delete"}
    assert [h["event"] for h in item["history"]] == ["upload"]

    submitted = client.post(f"/api/v1/artefacts/{item['id']}/events/submit", headers=student,
                            json={"expected_version": item["version"]}).get_json()
    assert (submitted["state"], _events(submitted)) == ("submitted", {"withdraw"})

    seen_by_teacher = client.get(f"/api/v1/artefacts/{item['id']}", headers=teacher).get_json()
    assert _events(seen_by_teacher) == {"certify", "reject"}
    certified = client.post(f"/api/v1/artefacts/{item['id']}/events/certify", headers=teacher,
                            json={"expected_version": seen_by_teacher["version"]}).get_json()
    # An event answers the state after it, the version to send next and what the caller may do next.
    assert set(certified) == {"id", "kind", "kind_label", "state", "state_label", "version", "updated_at",
                              "available_events"}
    assert (certified["id"], certified["state"], certified["state_label"]) == (item["id"], "certified", "認證通過")
    assert certified["version"] == seen_by_teacher["version"] + 1
    assert _events(certified) == {"revoke_certification"}  # selecting is the student's
    # The whole item and its history are the item's own resource.
    detail = client.get(f"/api/v1/artefacts/{item['id']}", headers=teacher).get_json()
    assert (detail["version"], detail["certified_at"][:16]) == (certified["version"], "2025-11-01T02:00")
    assert [(h["event"], h["to_state"], h["actor_name"]) for h in detail["history"]] == [
        ("upload", "draft", "學生0"), ("submit", "submitted", "學生0"), ("certify", "certified", "王老師")]

    at(IN_SELECTION)
    selected = client.post(f"/api/v1/artefacts/{item['id']}/events/select", headers=student)
    assert selected.status_code == 200, selected.get_json()
    assert selected.get_json()["state"] == "selected" and _events(selected.get_json()) == {"unselect"}
    with world.uow() as uow:
        stored = uow.get(Item, item["id"])
        assert (stored.state, stored.selected_at) == ("selected", IN_SELECTION)


def test_a_certification_takes_one_connection_and_a_handful_of_statements(client, db, people, world, at):
    """What a certification costs the database (it was 2 connections and 19 statements): the
    account with the teacher's roles, the item locked once, its course, the window, the audit
    row, the update — and every rule still checked (the last call shows one)."""
    items = [world.upload(n) for n in (0, 1)]
    for n, item in enumerate(items):
        world.run(certification.submit, world.student(n), item, now=IN_UPLOAD)
    teacher = api_token(client, "teacher")
    statements, checkouts = [], []

    def on_statement(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE
            statements.append(" ".join(statement.split())[:100])

    def on_checkout(*_args):
        checkouts.append(1)

    client.post(f"/api/v1/artefacts/{items[0]}/events/certify", headers=teacher)  # warm
    event.listen(db.engine, "before_cursor_execute", on_statement)
    event.listen(db.engine, "checkout", on_checkout)
    try:
        response = client.post(f"/api/v1/artefacts/{items[1]}/events/certify", headers=teacher)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_statement)
        event.remove(db.engine, "checkout", on_checkout)
    assert response.status_code == 200 and response.get_json()["state"] == "certified"
    assert len(checkouts) == 1
    assert len(statements) <= 6, statements
    with world.uow() as uow:
        audited = uow.session.scalars(uow.select(AuditEntry.event).where(
            AuditEntry.subject_id == items[1], AuditEntry.subject_kind == "course_outcome")).all()
        assert audited[-1] == "certify" and uow.get(Item, items[1]).certified_by_id == world.teacher_id
    at(AFTER_CERTIFICATION)
    late = _error(client.post(f"/api/v1/artefacts/{items[1]}/events/revoke_certification", headers=teacher), 409)
    assert late["details"]["rule"] == "window_closed"


def test_a_teacher_undoes_their_own_certification_while_the_window_is_open(client, people, world, at):
    item = world.upload(0)
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    teacher = api_token(client, "teacher")
    certified = client.post(f"/api/v1/artefacts/{item}/events/certify", headers=teacher).get_json()
    stale = _error(client.post(f"/api/v1/artefacts/{item}/events/revoke_certification", headers=teacher,
                               json={"expected_version": certified["version"] - 1}), 409)
    assert stale["error"] == "conflict"
    revoked = client.post(f"/api/v1/artefacts/{item}/events/revoke_certification", headers=teacher,
                          json={"expected_version": certified["version"]})
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["state"] == "submitted"
    assert _events(revoked.get_json()) == {"certify", "reject"}
    assert client.get(f"/api/v1/artefacts/{item}", headers=teacher).get_json()["certified_at"] is None
    client.post(f"/api/v1/artefacts/{item}/events/certify", headers=teacher)
    at(AFTER_CERTIFICATION)
    late = _error(client.post(f"/api/v1/artefacts/{item}/events/revoke_certification", headers=teacher), 409)
    assert late["details"]["rule"] == "window_closed"
    with world.uow() as uow:
        assert uow.get(Item, item).state == "certified"


def test_the_office_resolves_a_disputed_item_with_a_note(client, people, world, at):
    ids = world.to_receipts((0,))
    at(IN_RECEIPT)
    world.run(receipts.dispute, world.student(0), ids[0], reason="少一件", now=IN_RECEIPT)
    with world.uow() as uow:
        item = uow.session.scalars(uow.select(Item).where(Item.receipt_id == ids[0])).one().id
    office, student = api_token(client, "staff"), api_token(client, "stu0")
    assert _events(client.get(f"/api/v1/artefacts/{item}", headers=student).get_json()) == set()
    assert _events(client.get(f"/api/v1/artefacts/{item}", headers=office).get_json()) == {"resolve"}
    assert _error(client.post(f"/api/v1/artefacts/{item}/events/resolve", headers=office), 422)[
        "details"]["field"] == "reason"
    assert _error(client.post(f"/api/v1/artefacts/{item}/events/resolve", headers=student,
                              json={"reason": "我自己處理"}), 403)["error"] == "forbidden"
    resolved = client.post(f"/api/v1/artefacts/{item}/events/resolve", headers=office,
                           json={"reason": "已向中央補正"}).get_json()
    assert (resolved["state"], _events(resolved)) == ("resolved", set())
    history = client.get(f"/api/v1/artefacts/{item}", headers=office).get_json()["history"]
    assert (history[-1]["actor_name"], history[-1]["reason"]) == ("陳組長", "已向中央補正")


def test_a_performance_by_multipart_and_the_fields_of_its_kind(client, people, world, at):
    student = api_token(client, "stu0")
    missing = _error(client.post("/api/v1/artefacts", headers=student, content_type="multipart/form-data",
                                 data=_upload_form(kind="performance", title="全國科展")), 422)
    assert {"academic_year", "category"} <= set(missing["details"]["fields"])
    created = client.post("/api/v1/artefacts", headers=student, content_type="multipart/form-data", data=_upload_form(
        kind="performance", title="全國科展", academic_year=str(YEAR), category="competition",
        external_link="https://example.edu.tw/award"))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["state"], body["category_label"], body["external_link"], body["document"]) == (
        "uploaded", "競賽表現", "https://example.edu.tw/award", None)
    assert _events(body) == {"select", "delete"}


def test_a_guardian_uploads_for_the_child_and_the_history_says_so(client, people, world, at):
    created = client.post("/api/v1/artefacts", headers=api_token(client, "parent"),
                          content_type="multipart/form-data", data=_upload_form(
                              course_id=str(world.course_id), document=(io.BytesIO(samples.pdf()), "a.pdf")))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["student_id"] == world.student_ids[0]
    assert (body["history"][0]["actor_name"], body["history"][0]["on_behalf_name"]) == ("學生0家長", "學生0")


def test_where_guardians_may_only_view_they_are_offered_nothing_and_refused_acts(client, people, world, at):
    with world.uow() as uow:
        school = uow.school
        assert "may_act = true" in school.policy_toml
        school.policy_toml = school.policy_toml.replace("may_act = true", "may_act = false")
        uow.commit()
    item = world.upload(0, title="孩子的作品")
    parent = api_token(client, "parent")
    seen = client.get(f"/api/v1/artefacts/{item}", headers=parent).get_json()
    assert (seen["title"], _events(seen)) == ("孩子的作品", set())
    refused = _error(client.post(f"/api/v1/artefacts/{item}/events/submit", headers=parent), 403)
    assert "只能檢視" in refused["message"]
    assert _events(client.get(f"/api/v1/artefacts/{item}", headers=api_token(client, "stu0")).get_json()) == {
        "submit", "delete"}


# -- refusals ---------------------------------------------------------------------------------

def test_reject_without_a_reason_is_a_422_naming_reason(client, people, world, at):
    item = world.upload(0)
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    teacher = api_token(client, "teacher")
    for body, rule in ((None, "required"), ({}, "required"), ({"reason": None}, "null"),
                       ({"reason": "   "}, "blank")):
        refused = _error(client.post(f"/api/v1/artefacts/{item}/events/reject", headers=teacher, json=body), 422)
        assert (refused["details"]["field"], refused["details"]["rule"]) == ("reason", rule), refused
        assert "原因" in refused["message"] or "reason" in refused["message"]
    with world.uow() as uow:
        assert uow.get(Item, item).state == "submitted"
    rejected = client.post(f"/api/v1/artefacts/{item}/events/reject", headers=teacher,
                           json={"reason": "請補上參考資料"}).get_json()
    assert rejected["state"] == "rejected"
    detail = client.get(f"/api/v1/artefacts/{item}", headers=teacher).get_json()
    assert (detail["rejection_reason"], detail["history"][-1]["reason"]) == ("請補上參考資料", "請補上參考資料")


def test_an_event_the_state_does_not_allow_is_a_409_naming_state_and_allowed_events(client, people, world, at):
    item = world.upload(0)  # a draft
    refused = _error(client.post(f"/api/v1/artefacts/{item}/events/certify", headers=api_token(client, "teacher")), 409)
    assert refused["error"] == "invalid_transition"
    assert refused["details"]["state"] == "draft" and "submit" in refused["details"]["allowed_events"]
    assert "certify" not in refused["details"]["allowed_events"] and "草稿" in refused["message"]
    withdraw = _error(client.post(f"/api/v1/artefacts/{item}/events/withdraw", headers=api_token(client, "stu0")), 409)
    assert withdraw["details"]["state"] == "draft"


def test_a_stale_expected_version_is_a_409_and_changes_nothing(client, people, world, at):
    item = world.upload(0)
    student = api_token(client, "stu0")
    seen = client.get(f"/api/v1/artefacts/{item}", headers=student).get_json()["version"]
    assert client.post(f"/api/v1/artefacts/{item}/events/submit", headers=student,
                       json={"expected_version": seen}).status_code == 200
    stale = _error(client.post(f"/api/v1/artefacts/{item}/events/withdraw", headers=student,
                               json={"expected_version": seen}), 409)
    assert stale["error"] == "conflict" and stale["details"]["state"] == "submitted"
    assert stale["details"]["current_version"] == seen + 1
    with world.uow() as uow:
        assert uow.get(Item, item).state == "submitted"


def test_unknown_events_name_the_known_ones(client, people, world, at):
    outcome, performance = world.upload(0), world.upload_performance(0)
    student = api_token(client, "stu0")
    unknown = _error(client.post(f"/api/v1/artefacts/{outcome}/events/approve", headers=student), 404)
    assert "certify" in unknown["details"]["known_events"] and "submit" in unknown["message"]
    # An event of the other kind's machine: like any event the item's state does not allow, 409.
    wrong_kind = _error(client.post(f"/api/v1/artefacts/{performance}/events/submit", headers=student), 409)
    assert wrong_kind["details"]["field"] == "event" and "submit" not in wrong_kind["details"]["known_events"]
    assert "select" in wrong_kind["details"]["known_events"]
    assert (wrong_kind["details"]["state"], wrong_kind["details"]["allowed_events"]) == ("uploaded", ["select", "delete"])


def test_a_body_over_the_limit_is_a_json_413_and_stores_nothing(client, app, people, world, at):
    limit = app.config["MAX_CONTENT_LENGTH"]
    with world.uow() as uow:
        upload = upload_limit(uow.policy).total  # an upload's: its school's slots and the form
    student = api_token(client, "stu0")
    response = client.post("/api/v1/artefacts", headers=student, content_type="multipart/form-data",
                           data=_upload_form(course_id=str(world.course_id),
                                             document=(io.BytesIO(samples.big(upload + 1)), "big.pdf")))
    body = _error(response, 413)
    assert body["error"] == "too_large" and body["details"]["limit"] == upload and "MB" in body["message"]
    item = world.upload(0)
    huge_json = json.dumps({"reason": "x" * (limit + 1)})
    _error(client.post(f"/api/v1/artefacts/{item}/events/submit", headers=student, data=huge_json,
                       content_type="application/json"), 413)
    # Under the request limit but over the policy's 4 MB for a document: 422 naming field and rule.
    too_big = _error(client.post("/api/v1/artefacts", headers=student, content_type="multipart/form-data",
                                 data=_upload_form(course_id=str(world.course_id),
                                                   document=(io.BytesIO(samples.big(5 * 1024 * 1024)), "b.pdf"))), 422)
    assert (too_big["details"]["field"], too_big["details"]["rule"]) == ("document", "file_too_large")
    with world.uow() as uow:
        assert [i.id for i in uow.session.scalars(uow.select(Item))] == [item]
        assert uow.get(Item, item).state == "draft"


# -- receipts ---------------------------------------------------------------------------------

def test_receipts_listed_confirmed_and_disputed(client, people, world, at):
    ids = world.to_receipts((0, 1))
    at(IN_RECEIPT)
    first, second = api_token(client, "stu0"), api_token(client, "stu1")
    mine = client.get("/api/v1/receipts", headers=first).get_json()
    assert [r["id"] for r in mine["items"]] == [ids[0]]
    receipt = mine["items"][0]
    assert (receipt["state"], receipt["kind"], [i["state"] for i in receipt["items"]]) == (
        "issued", "course_outcome", ["submitted_central"])
    assert _events(receipt) == {"confirm", "dispute"} and receipt["confirm_by"].startswith("2026-10-18T16:00")

    office = api_token(client, "staff")
    issued = client.get(f"/api/v1/receipts?state=issued&window_id={world.receipt_window_id}", headers=office)
    assert sorted(r["id"] for r in issued.get_json()["items"]) == sorted(ids.values())
    assert all(r["available_events"] == [] for r in issued.get_json()["items"])  # offices do not confirm
    assert _error(client.get("/api/v1/receipts", headers=api_token(client, "teacher")), 403)["error"] == "forbidden"

    confirmed = client.post(f"/api/v1/receipts/{ids[0]}/events/confirm", headers=first)
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["state"] == "confirmed"
    assert [i["state"] for i in confirmed.get_json()["items"]] == ["receipt_confirmed"]
    again = _error(client.post(f"/api/v1/receipts/{ids[0]}/events/dispute", headers=first,
                               json={"reason": "不對"}), 409)
    assert again["details"]["state"] == "confirmed" and again["details"]["allowed_events"] == []

    no_reason = _error(client.post(f"/api/v1/receipts/{ids[1]}/events/dispute", headers=second, json={}), 422)
    assert no_reason["details"]["field"] == "reason"
    disputed = client.post(f"/api/v1/receipts/{ids[1]}/events/dispute", headers=second,
                           json={"reason": "少了一件成果"}).get_json()
    assert (disputed["state"], disputed["reason"]) == ("disputed", "少了一件成果")
    remaining = client.get("/api/v1/receipts?state=issued", headers=office).get_json()
    assert remaining["total"] == 0
    with world.uow() as uow:
        assert {uow.get(Receipt, r).state for r in ids.values()} == {"confirmed", "disputed"}


def test_a_stale_receipt_version_is_a_409_and_changes_nothing(client, people, world, at):
    ids = world.to_receipts((0,))
    at(IN_RECEIPT)
    student = api_token(client, "stu0")
    seen = client.get("/api/v1/receipts", headers=student).get_json()["items"][0]["version"]
    confirmed = client.post(f"/api/v1/receipts/{ids[0]}/events/confirm", headers=student,
                            json={"expected_version": seen})
    assert confirmed.status_code == 200, confirmed.get_json()
    stale = _error(client.post(f"/api/v1/receipts/{ids[0]}/events/dispute", headers=student,
                               json={"reason": "不對", "expected_version": seen}), 409)
    assert stale["error"] == "conflict" and stale["details"]["state"] == "confirmed"
    assert stale["details"]["current_version"] == confirmed.get_json()["version"]
    with world.uow() as uow:
        assert uow.get(Receipt, ids[0]).state == "confirmed"


def test_a_receipt_cannot_be_confirmed_after_its_window(client, people, world, at):
    ids = world.to_receipts((0,))
    at(IN_RECEIPT.replace(month=11))
    late = _error(client.post(f"/api/v1/receipts/{ids[0]}/events/confirm", headers=api_token(client, "stu0")), 409)
    assert late["details"]["rule"] == "window_closed"


# -- never a 500 ------------------------------------------------------------------------------

def test_malformed_input_is_a_json_4xx_and_changes_nothing(client, people, world, at):
    item = world.upload(0)
    student = api_token(client, "stu0")
    token = "/api/v1/auth/token"
    event = f"/api/v1/artefacts/{item}/events/submit"
    course = str(world.course_id)

    def raw(text):
        return {"data": text, "content_type": "application/json"}

    def form(**fields):
        return {"content_type": "multipart/form-data", "data": _upload_form(**fields)}

    def pdf():
        return io.BytesIO(samples.pdf()), "a.pdf"

    # (method, path, request, status, the field a 422 names)
    cases = [
        ("post", token, raw("{not json"), 400, None),
        ("post", token, raw("[1, 2]"), 400, None),
        ("post", token, {"data": "username=a", "content_type": "text/plain"}, 400, None),
        ("post", token, raw(b"\xff\xfe{"), 400, None),
        ("post", token, {"json": {"username": "stu0\u0000", "password": PASSWORD}}, 422, "username"),
        ("post", token, raw(r'{"username": "stu0", "password": "\udfff"}'), 422, "password"),
        ("post", token, {"json": {"username": 5, "password": PASSWORD}}, 422, "username"),
        ("get", "/api/v1/artefacts?page=abc", {}, 422, "page"),
        ("get", "/api/v1/artefacts?page=0", {}, 422, "page"),
        ("get", "/api/v1/artefacts?per_page=201", {}, 422, "per_page"),
        ("get", "/api/v1/artefacts?page=99999999999999999999999", {}, 422, "page"),
        ("get", "/api/v1/artefacts?student_id=-1", {}, 422, "student_id"),
        ("get", "/api/v1/artefacts?student_id=1e3", {}, 422, "student_id"),
        ("get", "/api/v1/artefacts?student_id=99999999999999999999", {}, 422, "student_id"),
        ("get", "/api/v1/artefacts?kind=essay", {}, 422, "kind"),
        ("get", "/api/v1/artefacts?state=bogus", {}, 422, "state"),
        ("get", "/api/v1/artefacts?sort=title", {}, 422, "sort"),
        ("get", "/api/v1/receipts?window_id=x", {}, 422, "window_id"),
        ("get", "/api/v1/artefacts/abc", {}, 404, None),
        ("get", "/api/v1/artefacts/0", {}, 404, None),
        ("get", "/api/v1/artefacts/-5", {}, 404, None),
        ("get", "/api/v1/artefacts/99999999999999999999", {}, 404, None),
        ("get", "/api/v1/artefacts/2147483647", {}, 404, None),
        ("get", "/api/v1/artefacts/1.5", {}, 404, None),
        ("delete", f"/api/v1/artefacts/{item}", {}, 405, None),
        ("post", f"/api/v1/artefacts/{item}/events/%00", {}, 404, None),
        ("post", "/api/v1/receipts/abc/events/confirm", {}, 404, None),
        ("post", event, raw("nope"), 400, None),
        ("post", event, raw("[" * 100_000), 400, None),
        ("post", event, {"json": {"expected_version": "1"}}, 422, "expected_version"),
        ("post", event, {"json": {"expected_version": 1.5}}, 422, "expected_version"),
        ("post", event, {"json": {"expected_version": True}}, 422, "expected_version"),
        ("post", event, {"json": {"expected_version": 10 ** 40}}, 422, "expected_version"),
        ("post", event, raw('{"expected_version": 1e999}'), 422, "expected_version"),
        ("post", event, raw('{"expected_version": NaN}'), 422, "expected_version"),
        ("post", event, {"json": {"reason": {"a": 1}}}, 422, "reason"),
        ("post", event, {"json": {"reason": "a\u0000b"}}, 422, "reason"),
        ("post", event, {"json": {"surprise": 1}}, 422, "surprise"),
        ("post", "/api/v1/artefacts", {"json": {"kind": "course_outcome", "title": "x"}}, 422, "body"),
        ("post", "/api/v1/artefacts", form(course_id="abc", document=pdf()), 422, "course_id"),
        ("post", "/api/v1/artefacts", form(course_id="99999999999999999999", document=pdf()), 422, "course_id"),
        ("post", "/api/v1/artefacts", form(course_id=course, title="a\x00b", document=pdf()), 422, "title"),
        ("post", "/api/v1/artefacts", form(course_id=course, title="x" * 81, document=pdf()), 422, "title"),
        ("post", "/api/v1/artefacts", form(course_id=course, student_id="1x", document=pdf()), 422, "student_id"),
        ("post", "/api/v1/artefacts", form(course_id=course, kind="essay", document=pdf()), 422, "kind"),
        ("post", "/api/v1/artefacts", form(course_id=course, document=pdf(),
                                           virus=(io.BytesIO(samples.exe()), "a.exe")), 422, "virus"),
        ("post", "/api/v1/artefacts", form(course_id=course, document=(io.BytesIO(samples.exe()), "a.pdf")),
         422, "document"),
    ]
    for method, path, request, status, field in cases:
        response = getattr(client, method)(path, headers=student, **request)
        shown = (method, path, request.get("json", request.get("data")))
        assert response.status_code == status, (shown, response.get_data(as_text=True)[:300])
        body = response.get_json()
        assert body["error"] and body["message"], (shown, body)
        if field is not None:
            assert body["details"]["field"] == field, (shown, body)
    with world.uow() as uow:
        assert [(i.id, i.state, i.version) for i in uow.session.scalars(uow.select(Item))] == [(item, "draft", 1)]
