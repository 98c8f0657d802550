"""The OpenAPI document: a valid OpenAPI 3 document (openapi-spec-validator), describing every
route the API has, and true — every status a call really answers is documented for that
operation, and every body matches the documented schema."""
from __future__ import annotations

import errno
import io
import os
import re
from http import HTTPStatus

import pytest
from openapi_schema_validator import OAS30Validator, validate as validate_instance
from openapi_spec_validator import validate as validate_spec

from persistence.files import StorageError
from persistence.tables import Item
from tests import samples
from tests.integration.web.conftest import PASSWORD, api_token
from tests.world import AFTER_CERTIFICATION, IN_RECEIPT, IN_UPLOAD
from web.api.core import OPERATIONS, openapi_path
from web.app import create_app
from web.upload_limits import upload_limit
from workflows.items import certification
from workflows.people import passwords
from workflows.people.actors import staff_actor
from workflows.core.unit_of_work import UnitOfWork

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _api_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")]


def test_the_document_is_valid_openapi_3(spec):
    validate_spec(spec)
    assert spec["openapi"].startswith("3.")


def test_every_route_is_documented_and_every_documented_operation_exists(app, spec):
    routes = {(openapi_path(rule.rule.removeprefix("/api/v1")), method.lower())
              for rule in _api_rules(app) for method in rule.methods & METHODS}
    documented = {(path, method) for path, operations in spec["paths"].items() for method in operations}
    assert routes == documented
    assert {"/artefacts", "/artefacts/{item_id}", "/artefacts/{item_id}/events/{event}", "/receipts",
            "/receipts/{receipt_id}/events/{event}", "/auth/token"} <= {path for path, _ in routes}


def test_parameters_bodies_and_responses_are_described(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), where
            for parameter in operation.get("parameters", []):
                assert parameter["schema"].get("type"), (where, parameter)
                if parameter["name"].endswith("_id"):
                    assert parameter["schema"]["type"] == "integer" and parameter["schema"]["minimum"] == 1
            codes = [int(code) for code in operation["responses"]]
            assert all(code in HTTPStatus._value2member_map_ for code in codes), where
            assert sum(200 <= code < 300 for code in codes) == 1, where
            for code, response in operation["responses"].items():
                assert response["description"], (where, code)
                if code == "204":
                    assert "content" not in response, where  # No Content
                    continue
                schema = response["content"]["application/json"]["schema"]
                if int(code) >= 400:
                    assert schema == {"$ref": "#/components/schemas/Error"}, (where, code)
            if operation.get("security"):
                assert 401 in codes, where
            if "requestBody" in operation:
                assert {413, 422} <= set(codes), where
                assert set(operation["requestBody"]["content"]) <= {"application/json", "multipart/form-data"}
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                assert 400 in codes, where  # malformed JSON
    upload = spec["paths"]["/artefacts"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["document"] == {"type": "string", "format": "binary",
                                                "description": upload["properties"]["document"]["description"]}
    assert {"kind", "title"} <= set(upload["required"])
    events = spec["paths"]["/artefacts/{item_id}/events/{event}"]["post"]["parameters"]
    assert {"/artefacts/{item_id}/events/reject", "/artefacts/{item_id}/events/resolve",
            "/receipts/{receipt_id}/events/dispute"} <= set(spec["paths"])  # a body with a required reason
    assert {"submit", "certify", "withdraw", "select"} <= set(next(p for p in events if p["name"] == "event")
                                                           ["schema"]["enum"])


class Conformance:
    """Sends requests and checks each answer against the document: the status is documented
    for the operation the route belongs to, the body matches that status's schema."""

    def __init__(self, app, client, spec):
        self.app, self.client, self.spec = app, client, spec
        self.adapter = app.url_map.bind("localhost")
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, path: str, status: int, **kwargs):
        response = getattr(self.client, method)(path, **kwargs)
        assert response.status_code == status, (method, path, response.get_data(as_text=True)[:300])
        endpoint, _args = self.adapter.match(path.split("?")[0], method=method.upper())
        operation = next(op for op in OPERATIONS if f"api.{op.endpoint}" == endpoint)
        documented = self.spec["paths"][openapi_path(operation.rule)][method]["responses"]
        assert str(status) in documented, f"{method.upper()} {operation.rule} answered {status}, not documented"
        if status == 204:
            assert response.get_data() == b"" and "content" not in documented["204"]
        else:
            schema = documented[str(status)]["content"]["application/json"]["schema"]
            validate_instance(response.get_json(), {**schema, "components": self.spec["components"]},
                              cls=OAS30Validator)
        self.seen.add((operation.endpoint, method, status))
        return response.get_json()


def test_every_answer_is_documented_and_matches_its_schema(app, client, spec, people, world, db, files,
                                                          monkeypatch):
    check = Conformance(app, client, spec)
    app.config["NOW"] = IN_UPLOAD
    receipt_ids = world.to_receipts((1,))
    student, teacher, office = api_token(client, "stu0"), api_token(client, "teacher"), api_token(client, "staff")
    other = api_token(client, "stu1")

    token = "/api/v1/auth/token"
    check("post", token, 200, json={"username": "stu0.013301", "password": PASSWORD})
    check("post", token, 401, json={"username": "stu0.013301", "password": "wrong password"})
    check("post", token, 400, data="{", content_type="application/json")
    check("post", token, 422, json={"username": "stu0.013301"})
    check("post", token, 413, data="{" + " " * app.config["MAX_CONTENT_LENGTH"] + "}",
          content_type="application/json")
    check("get", "/api/v1/openapi.json", 200)
    ended = api_token(client, "stu0")
    check("delete", token, 204, headers=ended)
    check("delete", token, 401, headers=ended)  # the token it ended

    def upload(headers, status, **extra):
        return check("post", "/api/v1/artefacts", status, headers=headers, content_type="multipart/form-data",
                     data={"kind": "course_outcome", "course_id": str(world.course_id), "title": "心得",
                           "document": (io.BytesIO(samples.pdf()), "a.pdf"), **extra})

    item = upload(student, 201)["id"]
    upload(teacher, 403, student_id=str(world.student_ids[0]))  # the homeroom teacher sees, cannot act
    upload(other, 404, student_id=str(world.student_ids[0]))
    upload(student, 422, course_id="x")
    check("post", "/api/v1/artefacts", 413, headers=student, content_type="multipart/form-data",
          data={"kind": "course_outcome", "title": "x",
                "document": (io.BytesIO(samples.big(_upload_limit(world) + 1)), "a.pdf")})
    check("post", "/api/v1/artefacts", 401)
    for code, status in ((errno.ENOSPC, 507), (errno.EIO, 503)):  # the disk full, the disk failing
        def put(*_args, code=code, **_kwargs):
            raise StorageError.of(OSError(code, os.strerror(code)))
        with monkeypatch.context() as patched:
            patched.setattr(files, "put", put)
            assert upload(student, status)["details"]["reason"] == ("no_space" if status == 507 else "write_error")

    check("get", "/api/v1/artefacts", 200, headers=student)
    check("get", "/api/v1/artefacts?kind=performance&per_page=1", 200, headers=office)
    check("get", "/api/v1/artefacts?page=x", 422, headers=student)
    check("get", "/api/v1/artefacts", 401)
    check("get", f"/api/v1/artefacts/{item}", 200, headers=teacher)
    check("get", f"/api/v1/artefacts/{item}", 404, headers=other)
    check("get", f"/api/v1/artefacts/{item}", 401)

    events = f"/api/v1/artefacts/{item}/events"
    check("post", f"{events}/submit", 403, headers=teacher)
    check("post", f"{events}/submit", 404, headers=other)
    check("post", f"{events}/submit", 400, headers=student, data="x", content_type="application/json")
    check("post", f"{events}/submit", 422, headers=student, json={"expected_version": "one"})
    check("post", f"{events}/launch", 404, headers=student)
    check("post", f"{events}/submit", 200, headers=student)
    check("post", f"{events}/submit", 409, headers=student)
    check("post", f"{events}/reject", 422, headers=teacher, json={"reason": " "})
    check("post", f"{events}/certify", 409, headers=teacher, json={"expected_version": 1})
    check("post", f"{events}/certify", 200, headers=teacher)
    check("post", f"{events}/submit", 413, headers=student, content_type="application/json",
          data='{"reason": "' + "x" * app.config["MAX_CONTENT_LENGTH"] + '"}')
    check("post", f"{events}/submit", 401)

    app.config["NOW"] = IN_RECEIPT
    check("get", "/api/v1/receipts", 200, headers=other)
    check("get", f"/api/v1/receipts?student_id={world.student_ids[1]}&state=issued", 200, headers=office)
    check("get", "/api/v1/receipts", 403, headers=teacher)
    check("get", "/api/v1/receipts?state=lost", 422, headers=office)
    check("get", "/api/v1/receipts", 401)
    answer = f"/api/v1/receipts/{receipt_ids[1]}/events"
    check("post", f"{answer}/confirm", 404, headers=student)
    check("post", f"{answer}/confirm", 403, headers=office)
    check("post", f"{answer}/dispute", 422, headers=other)
    check("post", f"{answer}/sign", 404, headers=other)
    check("post", f"{answer}/confirm", 400, headers=other, data="[]", content_type="application/json")
    check("post", f"{answer}/confirm", 200, headers=other)
    check("post", f"{answer}/confirm", 409, headers=other)
    check("post", f"{answer}/confirm", 401)
    check("post", f"{answer}/dispute", 413, headers=other, content_type="application/json",
          data='{"reason": "' + "x" * app.config["MAX_CONTENT_LENGTH"] + '"}')

    queue = "/api/v1/queues/certification"
    app.config["NOW"] = IN_UPLOAD
    check("get", queue, 200, headers=teacher)
    check("get", f"{queue}?state=certified&sort=-waiting&per_page=5", 200, headers=teacher)
    check("get", queue, 403, headers=student)
    check("get", f"{queue}?course_id={world.course2_id}", 404, headers=teacher)
    check("get", f"{queue}?state=lost", 422, headers=teacher)
    check("get", queue, 401)
    summary = "/api/v1/status/summary"
    check("get", f"{summary}?academic_year=114", 200, headers=office)
    check("get", f"{summary}?academic_year=114&semester=1", 200, headers=teacher)
    check("get", f"{summary}?academic_year=114", 403, headers=student)
    check("get", summary, 422, headers=office)
    check("get", summary, 401)

    # A temporary password set by the admin opens no token (only the site's 變更密碼).
    with UnitOfWork(db, world.school_id) as uow:
        temporary = passwords.reset_password(uow, staff_actor(uow, world.staff_id), people["parent"]).password
        uow.commit()
    refused = check("post", token, 403, json={"username": "parent.013301", "password": temporary})
    assert refused["error"] == "password_change_required"

    # The sign-in throttle (on in production, off for the test app): after 5 failures of one
    # username the next attempt is refused.
    limited = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "k",
                          "SESSION_COOKIE_SECURE": False, "RATELIMIT_ENABLED": True})
    limited_check = Conformance(limited, limited.test_client(), spec)
    for _ in range(5):
        limited_check("post", token, 401, json={"username": "stu1.013301", "password": "wrong password"})
    limited_check("post", token, 429, json={"username": "stu1.013301", "password": "wrong password"})
    check.seen |= limited_check.seen

    _check_edits_and_reasoned_events(check, app, client, world, files, monkeypatch)

    # Every documented status of every operation is one it really gives: each was seen above.
    # (A new endpoint needs its calls here.)
    for op in OPERATIONS:
        documented = {int(c) for c in spec["paths"][openapi_path(op.rule)][op.method.lower()]["responses"]}
        seen = {status for endpoint, method, status in check.seen if endpoint == op.endpoint}
        assert documented == seen, (op.method, op.rule, sorted(documented), sorted(seen))


def _upload_limit(world) -> int:
    with world.uow() as uow:
        return upload_limit(uow.policy).total


def _check_edits_and_reasoned_events(check, app, client, world, files, monkeypatch):
    """PATCH /artefacts/{item_id}, and reject, resolve and dispute on paths of their own."""
    student, teacher = api_token(client, "stu0"), api_token(client, "teacher")
    app.config["NOW"] = AFTER_CERTIFICATION  # the upload window has closed: a rule of the moment
    closed = check("post", "/api/v1/artefacts", 409, headers=student, content_type="multipart/form-data", data={
        "kind": "course_outcome", "course_id": str(world.course_id), "title": "太晚了",
        "document": (io.BytesIO(samples.pdf()), "a.pdf")})
    assert closed["details"]["rule"] == "window_closed"
    app.config["NOW"] = IN_UPLOAD
    other, office = api_token(client, "stu1"), api_token(client, "staff")
    item = world.upload(0, title="要修改的")
    edit = f"/api/v1/artefacts/{item}"

    def patch(headers, status, **data):
        return check("patch", edit, status, headers=headers, content_type="multipart/form-data", data=data)
    patch(student, 200, title="改好的")
    patch(student, 422)  # nothing to change
    patch(other, 404, title="別人的")
    patch(teacher, 403, title="老師的")
    patch(student, 409, title="舊頁面", expected_version="0")
    check("patch", edit, 401)
    patch(student, 413, document=(io.BytesIO(samples.big(_upload_limit(world) + 1)), "a.pdf"))
    for code, status in ((errno.ENOSPC, 507), (errno.EIO, 503)):
        def put(*_args, code=code, **_kwargs):
            raise StorageError.of(OSError(code, os.strerror(code)))
        with monkeypatch.context() as patched:
            patched.setattr(files, "put", put)
            patch(student, status, document=(io.BytesIO(samples.pdf("新")), "新.pdf"))

    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    too_long = '{"reason": "' + "x" * app.config["MAX_CONTENT_LENGTH"] + '"}'
    reject = f"/api/v1/artefacts/{item}/events/reject"
    check("post", reject, 401)
    check("post", reject, 400, headers=teacher, data="x", content_type="application/json")
    check("post", reject, 422, headers=teacher)
    check("post", reject, 403, headers=student, json={"reason": "自己退回"})
    check("post", reject, 404, headers=other, json={"reason": "別人的"})
    check("post", reject, 413, headers=teacher, data=too_long, content_type="application/json")
    check("post", reject, 200, headers=teacher, json={"reason": "請補上參考資料"})
    check("post", reject, 409, headers=teacher, json={"reason": "再退一次"})

    receipt = world.to_receipts((2,))[2]
    app.config["NOW"] = IN_RECEIPT
    third = api_token(client, "stu2")
    confirm = f"/api/v1/receipts/{receipt}/events/confirm"
    check("post", confirm, 422, headers=third, json={"reason": 5})
    check("post", confirm, 413, headers=third, data=too_long, content_type="application/json")
    dispute = f"/api/v1/receipts/{receipt}/events/dispute"
    check("post", dispute, 401)
    check("post", dispute, 400, headers=third, data="[", content_type="application/json")
    check("post", dispute, 422, headers=third, json={})
    check("post", dispute, 403, headers=office, json={"reason": "代為提出"})
    check("post", dispute, 404, headers=student, json={"reason": "別人的"})
    check("post", dispute, 413, headers=third, data=too_long, content_type="application/json")
    check("post", dispute, 200, headers=third, json={"reason": "少一件"})
    check("post", dispute, 409, headers=third, json={"reason": "再一次"})
    with world.uow() as uow:
        disputed = uow.session.scalars(uow.select(Item).where(Item.receipt_id == receipt)).one().id
    resolve = f"/api/v1/artefacts/{disputed}/events/resolve"
    check("post", resolve, 401)
    check("post", resolve, 400, headers=office, data="x", content_type="application/json")
    check("post", resolve, 422, headers=office)
    check("post", resolve, 403, headers=third, json={"reason": "我自己處理"})
    check("post", resolve, 404, headers=other, json={"reason": "別人的"})
    check("post", resolve, 413, headers=office, data=too_long, content_type="application/json")
    check("post", resolve, 200, headers=office, json={"reason": "已向中央補正"})
    check("post", resolve, 409, headers=office, json={"reason": "再處理一次"})


def test_a_certify_by_the_document_matches_the_workflow(app, client, spec, people, world):
    """The path an API client builds from the document (operationId, parameters) works."""
    item = world.upload(0)
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    app.config["NOW"] = IN_UPLOAD
    operation = next((path, op) for path, ops in spec["paths"].items() for m, op in ops.items()
                     if op["operationId"] == "fire_artefact_event")
    path = operation[0].format(item_id=item, event="certify")
    response = client.post(f"/api/v1{path}", headers=api_token(client, "teacher"))
    assert response.status_code == 200 and response.get_json()["state"] == "certified"
