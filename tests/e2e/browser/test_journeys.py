"""What people do in a real browser: a teacher works through the certification queue; a student
uploads, submits, selects and confirms the receipt. Each page is saved as a screenshot."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from persistence.tables import AuditEntry, Item
from tests import samples
from tests.world import AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD
from workflows.items import certification
from workflows.central import receipts

# One Chromium for all the browser tests: under pytest-xdist they run on one worker, one after another.
pytestmark = pytest.mark.xdist_group("browser")


def _submitted(site, n: int, title: str) -> int:
    world = site.world
    item_id = world.upload(n, title=title)
    world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
    return item_id


def _state(site, item_id: int) -> str:
    with site.world.uow() as uow:
        return uow.get(Item, item_id).state


def test_a_teacher_previews_certifies_rejects_and_bulk_certifies(person, site):
    site.at(IN_UPLOAD)
    first = _submitted(site, 0, "閱讀心得")
    second = _submitted(site, 1, "小論文")
    third = _submitted(site, 2, "簡報")
    teacher = person("teacher")
    page = teacher.go("/teacher/queue")
    assert "共 3 件" in page.inner_text("main")
    teacher.shot("queue")

    page.click("text=閱讀心得")
    assert page.locator("iframe.preview").count() == 1
    teacher.shot("item-preview")
    page.click("button:has-text('認證通過')")
    page.wait_for_url("**/teacher/queue**")
    assert "共 2 件" in page.inner_text("main")
    teacher.shot("after-certify")
    assert _state(site, first) == "certified"

    page.click("text=小論文")
    page.fill("textarea[name=reason]", "缺少參考資料")
    page.click("button:has-text('認證失敗')")
    page.wait_for_url("**/teacher/queue**")
    assert _state(site, second) == "rejected"

    page.check(f"input[name=item][value^='{third}:']")
    page.click("button:has-text('批次認證')")
    assert "簡報" in page.inner_text("main")
    teacher.shot("bulk-confirm")
    page.click("button:has-text('確認認證')")
    page.wait_for_load_state()
    assert _state(site, third) == "certified"
    teacher.shot("bulk-result")
    page.click("button:has-text('復原')")
    page.wait_for_load_state()
    assert _state(site, third) == "submitted"
    teacher.shot("after-undo")
    with site.world.uow() as uow:
        audited = dict(uow.session.execute(select(AuditEntry.event, func.count()).where(
            AuditEntry.subject_id == third, AuditEntry.subject_kind == "course_outcome")
            .group_by(AuditEntry.event)).all())
    assert audited["certify"] == 1 and audited["revoke_certification"] == 1


def test_a_student_uploads_submits_selects_and_confirms(person, site, tmp_path):
    world = site.world
    site.at(IN_UPLOAD)
    student = person("stu0")
    page = student.go(f"/students/{world.student_ids[0]}/items")
    student.shot("items-empty")
    form = page.locator("form.upload").first
    assert "MB" in form.inner_text()  # the limits are there before a file is chosen
    form.locator("select[name=course_id]").select_option(str(world.course_id))
    form.locator("input[name=title]").fill("科學實驗報告")
    document = tmp_path / "報告.pdf"
    document.write_bytes(samples.pdf("科學實驗報告"))
    form.locator("input[name=document]").set_input_files(str(document))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "科學實驗報告" in page.inner_text("main")
    student.shot("uploaded")
    with world.uow() as uow:
        item_id = uow.session.scalar(select(Item.id).where(Item.title == "科學實驗報告"))
    page.click(f"form[action$='/items/{item_id}/submit'] button")
    page.wait_for_load_state()
    assert _state(site, item_id) == "submitted"
    student.shot("submitted")

    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    site.at(IN_SELECTION)
    page = student.go(f"/students/{world.student_ids[0]}/items")
    page.click(f"form[action$='/items/{item_id}/select'] button")
    page.wait_for_load_state()
    assert _state(site, item_id) == "selected"
    student.shot("selected")

    world.run(receipts.submit_selected, world.staff(), kind="course_outcome", academic_year=114,
              confirmation_window_id=world.receipt_window_id, now=AFTER_SELECTION)
    site.at(IN_RECEIPT)
    page = student.go(f"/students/{world.student_ids[0]}/receipts")
    assert "科學實驗報告" in page.inner_text("main")
    student.shot("receipt")
    page.click("button:has-text('確認收訖')")
    page.wait_for_load_state()
    assert _state(site, item_id) == "receipt_confirmed"
    student.shot("receipt-confirmed")


def test_the_office_watches_the_status_page_change(person, site):
    world = site.world
    site.at(IN_UPLOAD)
    waiting = [_submitted(site, n, f"作品{n}") for n in range(3)]
    office = person("staff")
    page = office.go("/staff/status?year=114&semester=1")
    row = page.locator("#rates-table tbody tr", has_text="101")
    assert row.locator("td.num").nth(0).inner_text() == "0"  # certified
    assert row.locator("td.num").nth(1).inner_text() == "3"  # submitted for certification
    office.shot("status-before")

    for item_id in waiting[:2]:
        world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    page.reload()
    row = page.locator("#rates-table tbody tr", has_text="101")
    assert row.locator("td.num").nth(0).inner_text() == "2"
    assert row.locator("td.num").nth(4).inner_text() == "67 %"  # 2 of 3
    assert page.locator("#rates svg").count() == 1  # drawn, not only tabled
    office.shot("status-after")
    office.go("/staff/diagrams")
    assert page.locator("svg").count() >= 3
    office.shot("diagrams")
