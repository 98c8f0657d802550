"""Hostile uploads, through the JSON API and the student's upload page, on SQLite and PostgreSQL:
renamed executables, polyglots, a truncated PDF, an empty file, names with path separators or
control characters. Each is refused with a zh-TW message naming the rule, and nothing is
stored: no item, no audit row, no file in the store. The oversize body is tested against a real
server: the 413 comes back before the body has been sent.

Exchange-package imports (zip-slip, duplicated entries, tampered hashes) are covered by
tests/integration/central/test_transfer.py and not repeated here.
"""
from __future__ import annotations

import io
import socket
import threading
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from persistence.tables import AuditEntry, Item
from tests import samples
from tests.artifacts import update_json
from tests.integration.web.conftest import app, client, people, sign_in, world  # noqa: F401
from tests.integration.web.conftest import api_token, csrf_token
from tests.world import IN_UPLOAD
from web.app import create_app

ARTIFACTS = Path("test-artifacts/reliability")
PDF = samples.pdf("正常文件")


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", b"MZ" + b"\0" * 200)
    return buffer.getvalue()


# (case, content, file name, rule in the answer, words the message must contain)
HOSTILE = [
    ("renamed exe", b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00L\x01" + b"\x00" * 400, "作業.pdf",
     "kind_not_allowed", "Windows 執行檔"),
    ("renamed ELF", b"\x7fELF\x02\x01\x01" + b"\x00" * 500, "作業.pdf", "kind_not_allowed", "Linux 執行檔"),
    ("PDF+ZIP polyglot", PDF[:-6] + _zip_bytes() + b"\n%%EOF\n", "作業.pdf", "polyglot", "多重格式"),
    ("PDF+ELF polyglot", b"%PDF-1.4\n%" + b"\x7fELF\x02\x01\x01" + b"\x00" * 300 + PDF[9:], "作業.pdf",
     "polyglot", "多重格式"),
    ("PDF+PE polyglot", b"%PDF-1.4\n%MZ" + b"\x00" * 58 + b"PE\x00\x00L\x01" + b"\x00" * 300 + PDF[9:],
     "作業.pdf", "polyglot", "多重格式"),
    ("truncated PDF", PDF + b"x" * 5000 + b"stream\n" + b"\x00" * 2000, "作業.pdf", "unrecognised", "不完整"),
    ("zero bytes", b"", "作業.pdf", "empty", "空的"),
    ("name ../", PDF, "../../etc/作業.pdf", "file_name_unsafe", "路徑分隔"),
    ("name /", PDF, "資料夾/作業.pdf", "file_name_unsafe", "路徑分隔"),
    ("name NUL", PDF, "作業\x00.exe.pdf", "file_name_unsafe", "控制字元"),
    ("name tab", PDF, "作業\t.pdf", "file_name_unsafe", "控制字元"),
    ("name RLO", PDF, "作業\u202efdp.exe", "file_name_unsafe", "控制字元"),
]
CASES = [pytest.param(*case, id=case[0]) for case in HOSTILE]


def _stored(world) -> tuple:
    """Everything an upload could leave behind: items, audit rows, files in the store."""
    with world.uow() as uow:
        items = uow.session.scalar(select(func.count()).select_from(Item))
        audit = uow.session.scalar(select(func.count()).select_from(AuditEntry))
    return items, audit, sorted(world.files.iter_hashes())


def _record(kind: str, channel: str) -> None:
    def add(figures: dict) -> None:
        figures.setdefault(kind, [])
        if channel not in figures[kind]:
            figures[kind].append(channel)
    update_json(ARTIFACTS / "hostile_uploads.json", add, ensure_ascii=False, indent=2)


@pytest.mark.parametrize("case, content, name, rule, words", CASES)
def test_api_refuses_hostile_upload(app, client, world, people, case, content, name, rule, words):
    app.config["NOW"] = IN_UPLOAD
    headers = api_token(client, "stu0")
    before = _stored(world)
    response = client.post("/api/v1/artefacts", headers=headers, content_type="multipart/form-data", data={
        "kind": "course_outcome", "course_id": str(world.course_id), "title": "惡意上傳",
        "document": (io.BytesIO(content), name)})
    answer = response.get_json()
    assert response.status_code == 422, answer
    assert answer["details"]["rule"] == rule and answer["details"]["field"] == "document", answer
    assert words in answer["message"], answer["message"]
    assert _stored(world) == before
    _record(case, "api")
    print(f"hostile upload refused (api): {case}: {rule}")


@pytest.mark.parametrize("case, content, name, rule, words", CASES)
def test_student_page_refuses_hostile_upload(app, client, world, people, case, content, name, rule, words):
    app.config["NOW"] = IN_UPLOAD
    assert sign_in(client, "stu0").status_code == 302
    student_id = world.student_ids[0]
    page = f"/students/{student_id}/items"
    before = _stored(world)
    response = client.post(f"/students/{student_id}/outcomes", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(client, page), "course_id": str(world.course_id), "title": "惡意上傳",
        "document": (io.BytesIO(content), name)})
    body = response.get_data(as_text=True)
    assert response.status_code in (400, 422), body[:300]
    assert words in body, body[:2000]
    assert _stored(world) == before
    _record(case, "page")


@pytest.mark.parametrize("name, words", [("C:\\Users\\作業.pdf", "路徑分隔"), ("作業\r\n.pdf", "控制字元")],
                         ids=["name \\", "name newline"])
def test_names_http_cannot_carry_are_refused_by_the_workflow(world, name, words):
    """Over HTTP a quoted multipart file name loses its backslashes (RFC 7230 quoting) and a
    newline ends the part's header (the part then is no file: refused as an unknown field or a
    missing file). A caller of the workflow with such a name is refused too."""
    from workflows.core.errors import RuleViolation
    from workflows.items.uploads import Upload, upload_course_outcome
    before = _stored(world)
    actor = world.student(0)
    with world.uow() as uow, pytest.raises(RuleViolation) as refused:
        upload_course_outcome(uow, actor, student_id=world.student_ids[0], course_id=world.course_id,
                              title="惡意上傳", document=Upload.of(PDF, name), now=IN_UPLOAD)
    assert refused.value.rule == "file_name_unsafe" and words in refused.value.message
    assert _stored(world) == before
    _record(f"name {name!r}", "workflow")


def test_a_valid_upload_is_stored(app, client, world, people):
    """The positive control: the same request with a clean file and name stores one item."""
    app.config["NOW"] = IN_UPLOAD
    headers = api_token(client, "stu0")
    items, audit, hashes = _stored(world)
    response = client.post("/api/v1/artefacts", headers=headers, content_type="multipart/form-data", data={
        "kind": "course_outcome", "course_id": str(world.course_id), "title": "正常上傳",
        "document": (io.BytesIO(PDF), "作業.pdf")})
    assert response.status_code == 201, response.get_json()
    after = _stored(world)
    assert after[0] == items + 1 and after[1] > audit and len(after[2]) == len(hashes) + 1


# -- oversize bodies against a real server ---------------------------------------------------

@pytest.fixture
def served(db, files):
    app = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "test-secret",
                      "SESSION_COOKIE_SECURE": False})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, server.server_port
    server.shutdown()
    thread.join(timeout=10)


def _send_head(port: int, path: str, length: int, extra: str = "") -> tuple[socket.socket, bytes]:
    """Announce a body of `length` bytes, send 64 KB of it, and read what the server answers."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    boundary = "hostileboundary"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n")
    sock.sendall(head.encode() + (f"--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; "
                                  f"filename=\"big.pdf\"\r\n\r\n%PDF-1.4\n").encode() + b"\0" * 65536)
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return sock, received


@pytest.mark.parametrize("path", ["/api/v1/artefacts", "/students/1/outcomes"])
def test_oversize_body_is_refused_before_it_is_sent(served, world, people, path):
    app, port = served
    announced = app.config["MAX_CONTENT_LENGTH"] * 20  # 240 MB announced, 64 KB sent
    extra = ""
    if path.startswith("/api/"):
        from werkzeug.test import Client
        token = Client(app).post("/api/v1/auth/token", json={"username": "stu0.013301",
                                                            "password": "correct horse battery"}).get_json()["token"]
        extra = f"Authorization: Bearer {token}\r\n"
    before = _stored(world)
    sock, received = _send_head(port, path, announced, extra)
    try:
        # The answer arrived while 99.97 % of the announced body was never sent: the server did
        # not wait to read it.
        status_line = received.split(b"\r\n", 1)[0]
        assert b" 413 " in status_line, received[:300]
    finally:
        sock.close()
    assert _stored(world) == before
    _record("oversize body (413 before the body is read)", "api" if "api" in path else "page")
    print(f"oversize {path}: {status_line.decode()} after 64 KB of {announced} bytes")
