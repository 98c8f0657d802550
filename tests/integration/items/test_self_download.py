"""個人學習歷程下載: the whole portfolio as one zip, for the student, their guardian and the staff
who may see them, on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import pytest

from persistence.tables import Account, AuditEntry
from tests import samples
from tests.integration.web.conftest import add_accounts, app, client, sign_in  # noqa: F401
from tests.world import IN_RECEIPT, World
from workflows.people.accounts import actor_of
from workflows.core.errors import CorruptState, NotFound
from workflows.items.self_download import portfolio_zip


@pytest.fixture
def world(db, files) -> World:
    w = World(db, files)
    w.to_receipts((0,))  # certified, selected, submitted to the central database
    w.upload(0, title="期末報告")  # a draft
    w.upload_performance(0, title="科展")
    return w


def download(world, actor, n=0):
    out = io.BytesIO()
    with world.uow() as uow:
        summary = portfolio_zip(uow, actor, world.student_ids[n], out, now=IN_RECEIPT)
    return zipfile.ZipFile(io.BytesIO(out.getvalue())), summary


def test_zip_holds_every_file_with_its_hash_and_an_index_of_every_item(world):
    archive, summary = download(world, world.student(0))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["student_no"] == "3010000" and manifest["school_code"] == "013301"
    assert sorted(i["title"] for i in manifest["items"]) == ["作品", "期末報告", "科展"]
    files = [f for item in manifest["items"] for f in item["files"]]
    assert len(files) == 3 == summary.files
    for f in files:
        data = archive.read(f["path"])
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"]
    assert samples.pdf("科展") in [archive.read(f["path"]) for f in files]
    index = archive.read("index.html").decode()
    for label in ("已提交中央資料庫", "草稿", "已上傳"):  # each item's state, as people read it
        assert label in index
    assert "王老師" in index and "114 學年度 第 1 學期" in index
    for f in files:
        assert f'href="{f["path"]}"' in index
    assert "http://" not in index and "https://" not in index  # readable offline


def test_guardian_downloads_and_the_download_is_audited(world):
    account_ids = add_accounts(world)
    with world.uow() as uow:
        guardian = actor_of(uow, uow.get(Account, account_ids["parent"]))
    archive, _ = download(world, guardian)
    assert "manifest.json" in archive.namelist()
    with world.uow() as uow:
        rows = uow.session.scalars(uow.select(AuditEntry).where(AuditEntry.event == "download_portfolio")).all()
    assert [(r.subject_id, r.actor_kind) for r in rows] == [(world.student_ids[0], "guardian")]


def test_another_student_and_a_teacher_without_access_cannot(world):
    with pytest.raises(NotFound):
        download(world, world.student(1))
    with pytest.raises(NotFound):
        download(world, world.staff(world.other_teacher_id))


def test_a_corrupted_stored_file_stops_the_download_naming_its_hash(world, files):
    manifest = json.loads(download(world, world.student(0))[0].read("manifest.json"))
    sha = manifest["items"][0]["files"][0]["sha256"]
    path = files.path_hint(sha)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"X")
    with pytest.raises(CorruptState) as refused:
        download(world, world.student(0))
    assert sha in refused.value.message


def test_web_route_for_the_student_guardian_and_others(world, client):
    add_accounts(world)
    sign_in(client, "stu0")
    page = client.get(f"/students/{world.student_ids[0]}/items").get_data(as_text=True)
    assert f"/students/{world.student_ids[0]}/portfolio.zip" in page
    response = client.get(f"/students/{world.student_ids[0]}/portfolio.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert 'filename="portfolio-3010000.zip"' in disposition and "filename*=UTF-8''" in disposition
    assert "index.html" in zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert client.get(f"/students/{world.student_ids[1]}/portfolio.zip").status_code in (403, 404)
    other = client.application.test_client()
    sign_in(other, "teacher2")
    assert other.get(f"/students/{world.student_ids[0]}/portfolio.zip").status_code in (403, 404)
    parent = client.application.test_client()
    sign_in(parent, "parent")
    assert parent.get(f"/students/{world.student_ids[0]}/portfolio.zip").status_code == 200
