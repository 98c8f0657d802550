"""The registry office creates a central submission batch and exports it in a real browser, then
downloads the zip of the export. Each page is saved as a screenshot."""
from __future__ import annotations

import zipfile
from datetime import timedelta

import pytest

from persistence.tables import SubmissionBatch
from tests.world import AFTER_SELECTION, IN_SELECTION, IN_UPLOAD
from workflows.items import certification, selection

# One Chromium for all the browser tests: under pytest-xdist they run on one worker, one after another.
pytestmark = pytest.mark.xdist_group("browser")


def test_the_registry_creates_and_exports_a_batch(person, site, tmp_path):
    world = site.world
    site.app.config["EXPORT_DIR"] = str(tmp_path / "exports")
    for n in (0, 1):
        item_id = world.upload(n, title=f"探究報告{n}")
        world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
        world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
        world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)
    site.at(AFTER_SELECTION + timedelta(days=1))

    office = person("staff")
    page = office.go("/staff/batches")
    assert "尚無提交批次" in page.inner_text("#list")
    form = page.locator("#create-form")
    form.locator("select[name=kind]").select_option("year_outcomes")
    form.locator("input[name=academic_year]").fill("114")
    office.shot("batches-create")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/staff/batches/*")
    main = page.inner_text("main")
    assert "已建立提交批次" in main and "學生 2 位、項目 2 件" in main and "探究報告1" in main
    office.shot("batch-created")

    page.click("#export-form button")
    page.wait_for_load_state()
    assert page.inner_text("#state") == "已匯出名冊"
    assert page.locator("#download-zip").count() == 1
    office.shot("batch-exported")
    with site.world.uow() as uow:
        batch = uow.session.scalars(uow.select(SubmissionBatch)).one()
        assert batch.state == "exported"

    with page.expect_download() as downloading:
        page.click("#download-zip")
    saved = tmp_path / downloading.value.suggested_filename
    downloading.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
    assert f"batch-{batch.id}/manifest.json" in names and sum(n.endswith(".pdf") for n in names) == 2
