"""Issue 15's upload findings, through the site and the JSON API: 405 answers that say what is
allowed, multipart bodies whose parts have no name (or are repeated, unknown, or not files), the
request limit that follows the school's policy (seed 002 檔案格式、大小: a 4 MB document and a
10 MB audio/video file in one upload), and the API's edit (PATCH /artefacts/{id}) with the
site's certification-voiding rule."""
from __future__ import annotations

import hashlib
import io

import pytest

from persistence.tables import AuditEntry, Item
from tests import samples
from tests.integration.web.conftest import api_token, post_form, sign_in
from tests.world import AFTER_CERTIFICATION, IN_UPLOAD
from workflows.items import certification
from workflows.core.policy import MB


@pytest.fixture(autouse=True)
def _in_upload(app):
    app.config["NOW"] = IN_UPLOAD


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert set(body) == {"error", "message", "details"}
    return body


def _items(world) -> list[Item]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(Item).order_by(Item.id)))


def _audit(world, item_id: int) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(AuditEntry).where(
            AuditEntry.subject_kind.in_(("course_outcome", "performance")), AuditEntry.subject_id == item_id)
            .order_by(AuditEntry.id)))


def _raw(parts: list[tuple[str, bytes]], boundary: str = "h5boundary") -> tuple[bytes, str]:
    """A multipart body written by hand: (Content-Disposition parameters, content) per part."""
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data{disposition}\r\n\r\n".encode()
                    + content + b"\r\n" for disposition, content in parts)
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# -- 405 ----------------------------------------------------------------------------------------

def test_a_405_says_which_methods_are_allowed_on_pages_and_in_the_api(client, people):
    for path, allowed in (("/login", {"GET", "POST"}), ("/api/v1/artefacts", {"GET", "POST"}),
                          ("/api/v1/auth/token", {"POST"})):
        response = client.put(path)
        assert response.status_code == 405, path
        assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}, path
    body = _error(client.put("/api/v1/artefacts/1", headers=api_token(client, "stu0")), 405)
    assert {"GET", "PATCH"} <= set(body["details"]["allowed_methods"])


def test_an_id_no_route_takes_is_a_404_for_every_method(client, people):
    # /artefacts/<id> has a GET and a PATCH rule: werkzeug answered the one whose rule came
    # second with a 405 when the id failed the converter (0 is below its minimum).
    student = api_token(client, "stu0")
    for method in ("get", "patch"):
        assert getattr(client, method)("/api/v1/artefacts/0", headers=student).status_code == 404, method


# -- multipart parts ----------------------------------------------------------------------------

def test_multipart_parts_without_a_name_repeated_unknown_or_not_files_are_a_422_each(client, people, world, files):
    student = api_token(client, "stu0")
    course = str(world.course_id).encode()
    fields = [('; name="kind"', b"course_outcome"), ('; name="title"', b"t"), ('; name="course_id"', course)]
    document = ('; name="document"; filename="a.pdf"', samples.pdf())
    cases = {
        "unnamed_part": fields + [('; filename="a.pdf"', samples.pdf())],  # the TypeError of issue 15
        "unnamed_part ": fields + [document, ("", b"text without a name")],
        "duplicate_part": fields + [document, ('; name="document"; filename="b.pdf"', samples.pdf("b"))],
        "duplicate_part  ": fields + [('; name="title"', b"again"), document],
        "unknown_file_part": fields + [document, ('; name="virus"; filename="a.exe"', samples.exe())],
        "file_part_expected": fields + [('; name="document"', samples.pdf())],
    }
    for rule, parts in cases.items():
        body, content_type = _raw(parts)
        refused = _error(client.post("/api/v1/artefacts", headers=student, data=body, content_type=content_type), 422)
        assert refused["details"]["rule"] == rule.strip(), (rule, refused)
    # A browser's empty file input (a named part with an empty filename) is no file at all.
    body, content_type = _raw(fields + [('; name="document"; filename=""', b"")])
    refused = _error(client.post("/api/v1/artefacts", headers=student, data=body, content_type=content_type), 422)
    assert refused["details"]["field"] == "document" and "至少要有一個文件或影音檔案" in refused["message"]
    not_multipart = _error(client.post("/api/v1/artefacts", headers=student, json={"kind": "course_outcome"}), 422)
    assert not_multipart["details"]["rule"] == "multipart_required"
    assert _items(world) == [] and not list(files.iter_hashes())


# -- the request limit follows the policy (seed 002) --------------------------------------------

DOCUMENT_MAX, MEDIA_MAX = 4 * MB, 10 * MB  # xinzhuang, the World's policy: the national limits


def _pdf(size: int) -> bytes:
    return samples.big(size)


def _mp4(size: int) -> bytes:
    return samples.mp4(size - 24)  # ftyp box (24 bytes) + a free box of the rest


def _api_upload(client, headers, world, document: bytes, media: bytes):
    return client.post("/api/v1/artefacts", headers=headers, content_type="multipart/form-data", data={
        "kind": "course_outcome", "course_id": str(world.course_id), "title": "成果報告與影片",
        "description": "一份文件加一段影片", "document": (io.BytesIO(document), "報告.pdf"),
        "media": (io.BytesIO(media), "影片.mp4")})


def _site_upload(client, world, document: bytes, media: bytes):
    return post_form(client, f"/students/{world.student_ids[0]}/outcomes", {
        "form": "outcome", "course_id": str(world.course_id), "title": "成果報告與影片",
        "description": "一份文件加一段影片", "document": (io.BytesIO(document), "報告.pdf"),
        "media": (io.BytesIO(media), "影片.mp4")})


def test_the_api_takes_a_4_mb_document_and_a_10_mb_video_in_one_upload(client, people, world, files):
    document, media = _pdf(DOCUMENT_MAX), _mp4(MEDIA_MAX)
    assert (len(document), len(media)) == (4_194_304, 10_485_760)
    student = api_token(client, "stu0")
    response = _api_upload(client, student, world, document, media)
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert (body["document"]["size"], body["media"]["size"]) == (DOCUMENT_MAX, MEDIA_MAX)
    assert body["media"]["sha256"] == hashlib.sha256(media).hexdigest()
    # One byte over either slot's own limit: 422 naming the slot and its limit; nothing stored.
    stored_before = set(files.iter_hashes())
    for document, media, slot, limit in ((_pdf(DOCUMENT_MAX + 1), _mp4(MEDIA_MAX), "document", DOCUMENT_MAX),
                                         (_pdf(DOCUMENT_MAX), _mp4(MEDIA_MAX + 1), "media", MEDIA_MAX)):
        refused = _error(_api_upload(client, student, world, document, media), 422)
        assert (refused["details"]["field"], refused["details"]["rule"], refused["details"]["limit"]) == (
            slot, "file_too_large", limit)
        assert f"{limit // MB} MB" in refused["message"]
    assert len(_items(world)) == 1 and set(files.iter_hashes()) == stored_before
    # Over what the two slots and the form can add up to: 413 before the body is read, naming
    # the slots' limits.
    too_big = _error(_api_upload(client, student, world, _pdf(DOCUMENT_MAX), _mp4(MEDIA_MAX + 128 * 1024)), 413)
    assert too_big["details"]["slots"] == {"document": DOCUMENT_MAX, "media": MEDIA_MAX}
    assert "文件檔案每件 4 MB" in too_big["message"] and "影音檔案每件 10 MB" in too_big["message"]
    assert len(_items(world)) == 1 and set(files.iter_hashes()) == stored_before


def test_the_sites_upload_form_takes_a_4_mb_document_and_a_10_mb_video(client, people, world, files):
    sign_in(client, "stu0")
    response = _site_upload(client, world, _pdf(DOCUMENT_MAX), _mp4(MEDIA_MAX))
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    [item] = _items(world)
    assert (item.document_size, item.media_size) == (DOCUMENT_MAX, MEDIA_MAX)
    stored_before = set(files.iter_hashes())
    for document, media, words in ((_pdf(DOCUMENT_MAX + 1), _mp4(MEDIA_MAX), "文件檔案超過上限 4 MB"),
                                   (_pdf(DOCUMENT_MAX), _mp4(MEDIA_MAX + 1), "影音檔案超過上限 10 MB")):
        refused = _site_upload(client, world, document, media)
        assert refused.status_code == 422 and words in refused.get_data(as_text=True)
    too_big = _site_upload(client, world, _pdf(DOCUMENT_MAX), _mp4(MEDIA_MAX + 128 * 1024))
    assert too_big.status_code == 413 and "影音檔案每件 10 MB" in too_big.get_data(as_text=True)
    assert len(_items(world)) == 1 and set(files.iter_hashes()) == stored_before


def test_every_other_request_keeps_the_small_limit(client, app, people, world):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit < DOCUMENT_MAX + MEDIA_MAX
    item = world.upload(0)
    body = _error(client.post(f"/api/v1/artefacts/{item}/events/submit", headers=api_token(client, "stu0"),
                              data='{"reason": "' + "x" * limit + '"}', content_type="application/json"), 413)
    assert body["details"]["limit"] == limit and "slots" not in body["details"]


# -- PATCH /artefacts/{id} ----------------------------------------------------------------------

def _patch(client, headers, item_id: int, **data):
    return client.patch(f"/api/v1/artefacts/{item_id}", headers=headers, content_type="multipart/form-data",
                        data=data)


def _certified(world, title: str) -> int:
    item_id = world.upload(0, title=title)
    world.run(certification.submit, world.student(0), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    return item_id


def test_the_api_replaces_a_file_and_the_audit_row_has_the_new_hash(client, people, world):
    item_id = world.upload(0, title="報告")
    before = next(i for i in _items(world) if i.id == item_id)
    new = samples.pdf("第二版")
    response = _patch(client, api_token(client, "stu0"), item_id, title="報告（第二版）",
                      expected_version=str(before.version), document=(io.BytesIO(new), "第二版.pdf"))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["document"]["sha256"] == hashlib.sha256(new).hexdigest() != before.document_sha256
    assert (body["title"], body["state"]) == ("報告（第二版）", "draft") and body["version"] > before.version
    last = _audit(world, item_id)[-1]
    assert last.event == "edit" and hashlib.sha256(new).hexdigest() in (last.file_hash or "")


def test_replacing_a_certified_outcomes_file_voids_its_certification_as_on_the_site(client, people, world):
    on_site, by_api = _certified(world, "網站"), _certified(world, "API")
    new = samples.pdf("換過的檔案")
    site = client.application.test_client()
    sign_in(site, "stu0")
    version = next(i for i in _items(world) if i.id == on_site).version
    response = post_form(site, f"/students/{world.student_ids[0]}/items/{on_site}/edit", {
        "version": str(version), "title": "網站", "description": "", "document": (io.BytesIO(new), "新.pdf")})
    assert response.status_code == 302
    answer = _patch(client, api_token(client, "stu0"), by_api, document=(io.BytesIO(new), "新.pdf"))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["state"] == "draft"
    items = {i.id: i for i in _items(world)}
    for item_id in (on_site, by_api):
        item = items[item_id]
        assert (item.state, item.certified_by_id, item.certified_document_sha256) == ("draft", None, None)
    site_rows, api_rows = _audit(world, on_site), _audit(world, by_api)
    assert [(r.event, r.from_state, r.to_state, r.reason, r.file_hash) for r in site_rows[-1:]] == \
           [(r.event, r.from_state, r.to_state, r.reason, r.file_hash) for r in api_rows[-1:]]
    assert api_rows[-1].event == "void_certification" and api_rows[-1].to_state == "draft"
    # The same file again keeps a certification: certify again, send the identical file.
    world.run(certification.submit, world.student(0), by_api, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, by_api, now=IN_UPLOAD)
    same = _patch(client, api_token(client, "stu0"), by_api, document=(io.BytesIO(new), "同一個.pdf"))
    assert same.status_code == 200 and same.get_json()["state"] == "certified"


def test_the_api_edit_refuses_anothers_item_a_wrong_state_a_stale_version_and_nothing_to_do(client, people, world):
    mine, theirs = world.upload(0, title="我的"), world.upload(1, title="別人的")
    student = api_token(client, "stu0")
    document = lambda: (io.BytesIO(samples.pdf("新")), "新.pdf")  # noqa: E731
    assert _error(_patch(client, student, theirs, title="偷改"), 404)["error"] == "not_found"
    teacher = _error(_patch(client, api_token(client, "teacher"), mine, title="老師改"), 403)
    assert teacher["error"] == "forbidden"
    stale = _error(_patch(client, student, mine, title="舊頁面", expected_version="0"), 409)
    assert stale["error"] == "conflict"
    assert _error(_patch(client, student, mine), 422)["details"]["rule"] == "nothing_to_change"
    # Removing an outcome's only file: valid as a request, refused by what the item would hold.
    only = _error(_patch(client, student, mine, remove_document="true"), 409)
    assert (only["details"]["rule"], only["details"]["field"]) == ("files_required", "document")
    both = _patch(client, student, mine, remove_document="true", document=document())
    assert both.status_code == 200 and both.get_json()["document"]["sha256"] == hashlib.sha256(
        samples.pdf("新")).hexdigest()  # removing and sending a new one: the new one replaces it
    world.run(certification.submit, world.student(0), mine, now=IN_UPLOAD)
    refused = _error(_patch(client, student, mine, document=document()), 409)
    assert refused["details"]["state"] == "submitted" and "withdraw" in refused["details"]["allowed_events"]
    assert "submitted" in refused["message"] and "不能編輯" in refused["message"]
    items = {i.id: i for i in _items(world)}
    assert (items[mine].title, items[theirs].title) == ("我的", "別人的")


# -- what the document calls valid is accepted, what it calls invalid refused -----------------

def _valid(spec: dict, schema: dict, value) -> bool:
    from openapi_schema_validator import OAS30Validator
    return OAS30Validator({**schema, "components": spec["components"]}).is_valid(value)


def test_the_document_states_the_limits_the_server_applies(client, people, world):
    """Each pair: a value at a limit the server applies, and one past it. The document must call
    the first valid and the second invalid, and the server must agree (issue 15: schemathesis
    found 422 for requests the document called valid)."""
    spec = client.get("/api/v1/openapi.json").get_json()
    student, teacher, office = (api_token(client, who) for who in ("stu0", "teacher", "staff"))
    item = world.upload(0)
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)

    def query_schema(path, name):
        return next(p["schema"] for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name)
    body = spec["paths"]["/artefacts/{item_id}/events/reject"]["post"]["requestBody"]
    assert body["required"] is True  # an empty body lacks the reason
    reason = body["content"]["application/json"]["schema"]
    reason = spec["components"]["schemas"][reason["$ref"].split("/")[-1]]["properties"]["reason"]
    for value, ok in (("請補上參考資料", True), ("x" * 500, True), ("x" * 501, False), ("  ", False), ("a\x00b", False)):
        assert _valid(spec, reason, value) is ok, value
        answer = client.post(f"/api/v1/artefacts/{item}/events/reject", headers=teacher, json={"reason": value})
        if not ok:
            assert answer.status_code == 422, value
    queue = query_schema("/queues/certification", "class_name")
    for value, ok in (("101", True), ("a\x1fb", False), ("   ", False), ("x" * 11, False)):
        assert _valid(spec, queue, value) is ok, value
        answer = client.get("/api/v1/queues/certification", headers=teacher, query_string={"class_name": value})
        assert answer.status_code == (200 if ok else 422), (value, answer.get_json())
    year = query_schema("/status/summary", "academic_year")
    for value, ok in ((300, True), (301, False)):
        assert _valid(spec, year, value) is ok, value
        answer = client.get(f"/api/v1/status/summary?academic_year={value}", headers=office)
        assert answer.status_code == (200 if ok else 422), (value, answer.get_json())
    # Rules of the moment and of the caller are not the request's fault: 409 and 403, not 422.
    client.application.config["NOW"] = AFTER_CERTIFICATION
    late = _error(_api_upload(client, student, world, samples.pdf(), samples.mp4()), 409)
    assert late["details"]["rule"] == "window_closed"
    client.application.config["NOW"] = IN_UPLOAD
    nobody = _error(client.post("/api/v1/artefacts", headers=teacher, content_type="multipart/form-data", data={
        "kind": "performance", "academic_year": "114", "category": "competition", "title": "代傳",
        "external_link": "https://example.org"}), 403)
    assert nobody["error"] == "forbidden"
