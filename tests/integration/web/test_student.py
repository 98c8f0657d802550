"""The student pages: items by year and semester with states, quotas and limits; upload, submit,
withdraw, edit, delete, resubmit, select, unselect; receipts; errors in Chinese that lose
nothing; and nobody reaching another student's data."""
from __future__ import annotations

import io
import re

import pytest
from persistence.tables import Item, Receipt
from tests import samples
from tests.integration.web.conftest import add_accounts, post_form, sign_in
from tests.world import (AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_TAIL, IN_UPLOAD, YEAR,
                         World)
from workflows.items import certification, selection
from workflows.school.filetypes import format_size
from workflows.core.policy import MB


# --------------------------------------------------------------------------- helpers


def items_url(world, n: int = 0) -> str:
    return f"/students/{world.student_ids[n]}/items"


def action_url(world, item_id: int, event: str, n: int = 0) -> str:
    return f"{items_url(world, n)}/{item_id}/{event}"


def text(response) -> str:
    return response.get_data(as_text=True)


def stored(world, item_id: int) -> Item:
    with world.uow() as uow:
        return uow.get(Item, item_id)


def live_items(world, n: int = 0) -> list[Item]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(Item).where(
            Item.student_id == world.student_ids[n], Item.state != "deleted").order_by(Item.id)))


def act(client, world, item_id: int, event: str, *, n: int = 0, version: int | None = None, **kwargs):
    version = stored(world, item_id).version if version is None else version
    return post_form(client, action_url(world, item_id, event, n), {"version": str(version)}, **kwargs)


def upload_outcome(client, world, *, data: bytes | None = None, filename: str = "作品.pdf",
                   title: str = "我的報告", course_id: int | str | None = None, n: int = 0):
    form = {"form": f"outcome-{YEAR}-1", "course_id": str(world.course_id if course_id is None else course_id),
            "title": title, "description": "課堂上的小論文",
            "document": (io.BytesIO(samples.pdf(title) if data is None else data), filename)}
    return post_form(client, f"/students/{world.student_ids[n]}/outcomes", form)


def flash_after(client, response) -> str:
    assert response.status_code == 302, text(response)
    return text(client.get(response.headers["Location"]))


def buttons(page: str, item_id: int) -> set[str]:
    """The actions offered for one item on the page (events, and "edit" for the edit link)."""
    return set(re.findall(rf'/items/{item_id}/(\w+)"', page))


@pytest.fixture
def student(client, app, people):
    sign_in(client, "stu0")
    app.config["NOW"] = IN_UPLOAD
    return client


# --------------------------------------------------------------------------- the page


def test_a_student_sees_own_items_with_states_quotas_and_the_limits_before_uploading(student, world):
    draft = world.upload(0, title="閱讀心得")
    submitted = world.upload(0, title="實驗報告")
    world.run(certification.submit, world.student(0), submitted, now=IN_UPLOAD)
    world.upload_performance(0, title="科展佳作")
    world.upload(1, title="別人的作品")
    with world.uow() as uow:
        policy = uow.policy

    page = text(student.get(items_url(world)))

    assert "114 學年度" in page and "第 1 學期" in page
    for title, state in (("閱讀心得", "草稿"), ("實驗報告", "已送出認證"), ("科展佳作", "已上傳")):
        row = re.search(rf'<tr id="item-\d+">(?:(?!</tr>).)*{title}(?:(?!</tr>).)*</tr>', page, re.S)
        assert row and state in row.group(0), title
    assert "別人的作品" not in page
    # Two of this semester's uploads are used; selections are all left.
    left = policy.outcome_uploads_per_semester - 2
    assert f"已用 2 / {policy.outcome_uploads_per_semester} 件，<strong>剩 {left} 件</strong>" in page
    assert f"剩 {policy.outcome_selections_per_year} 件" in page
    assert f"剩 {policy.performance_selections_per_year} 件" in page
    # The limits, from the policy, next to the file inputs, with what the picker should offer.
    document = policy.course_outcome.document
    assert f"{'、'.join(document.kinds)}，每件上限 {format_size(document.max_bytes)}" in page
    media = policy.course_outcome.media
    assert f"{'、'.join(media.kinds)}，每件上限 {format_size(media.max_bytes)}" in page
    assert 'accept=".pdf,application/pdf,.jpg,.jpeg,image/jpeg,.png,image/png"' in page
    assert f"簡述（{policy.course_outcome.description_max_chars} 字以內）" in page
    # Only the student's enrolled courses of the semester are offered.
    form = re.search(rf'<form[^>]+id="outcome-{YEAR}-1".*?</form>', page, re.S).group(0)
    assert "國語文" in form and "數學" in form and "英語文" not in form
    # What the student may do now, per item; never a teacher's move.
    assert buttons(page, draft) == {"submit", "delete", "edit"}
    assert buttons(page, submitted) == {"withdraw"}
    assert not re.search(r'/(certify|reject|revoke_certification|lock|submit_central)"', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # the CSP forbids inline scripts


def test_the_page_shows_the_open_windows_with_their_ends(student, world):
    page = text(student.get(items_url(world)))
    assert "課程學習成果上傳：至 115/02/03 23:59 止" in page
    assert "多元表現上傳：至 115/07/31 23:59 止" in page
    assert "剩 94 天" in page  # 2025-11-01 10:00 Taipei to the end of 2026-02-03


# --------------------------------------------------------------------------- the item's life


def test_upload_submit_withdraw_edit_delete(student, world):
    response = upload_outcome(student, world, title="期中報告")
    assert "已上傳課程學習成果" in flash_after(student, response)
    [item] = live_items(world)
    assert (item.title, item.state, item.document_name) == ("期中報告", "draft", "作品.pdf")
    page = text(student.get(items_url(world)))
    assert f'/items/{item.id}/files/document' in page  # the preview link

    assert "已送出認證" in flash_after(student, act(student, world, item.id, "submit"))
    assert stored(world, item.id).state == "submitted"
    assert "已撤回" in flash_after(student, act(student, world, item.id, "withdraw"))
    assert stored(world, item.id).state == "draft"

    edit_page = text(student.get(f"{items_url(world)}/{item.id}/edit"))
    assert 'value="期中報告"' in edit_page and "每件上限 4 MB" in edit_page
    response = post_form(student, f"{items_url(world)}/{item.id}/edit", {
        "version": str(stored(world, item.id).version), "title": "期中報告（修訂版）",
        "description": "補上參考資料", "document": (io.BytesIO(samples.pdf("v2")), "修訂版.pdf")})
    assert "已儲存修改" in flash_after(student, response)
    edited = stored(world, item.id)
    assert (edited.title, edited.description, edited.document_name) == ("期中報告（修訂版）", "補上參考資料", "修訂版.pdf")
    assert edited.document_sha256 != item.document_sha256

    assert "已刪除" in flash_after(student, act(student, world, item.id, "delete"))
    assert stored(world, item.id).state == "deleted"
    assert "期中報告" not in text(student.get(items_url(world)))


def test_a_performance_is_uploaded_with_its_category_and_link(student, world):
    page = text(student.get(items_url(world)))
    form = re.search(rf'<form[^>]+id="performance-{YEAR}".*?</form>', page, re.S).group(0)
    assert "競賽表現" in form and 'name="external_link"' in form and "每件上限 4 MB" in form
    response = post_form(student, f"/students/{world.student_ids[0]}/performances", {
        "form": f"performance-{YEAR}", "academic_year": str(YEAR), "category": "volunteer",
        "title": "淨灘志工", "external_link": "https://example.org/beach",
        "document": (io.BytesIO(samples.pdf("beach")), "證明.pdf")})
    assert "已上傳多元表現" in flash_after(student, response)
    [item] = live_items(world)
    assert (item.kind, item.category, item.external_link, item.state) == (
        "performance", "volunteer", "https://example.org/beach", "uploaded")
    assert "志工服務" in text(student.get(items_url(world)))


def test_a_bad_link_is_refused_and_the_form_keeps_what_was_typed(student, world):
    response = post_form(student, f"/students/{world.student_ids[0]}/performances", {
        "form": f"performance-{YEAR}", "academic_year": str(YEAR), "category": "volunteer",
        "title": "淨灘志工", "external_link": "javascript:alert(1)"})
    assert response.status_code == 400
    page = text(response)
    assert "外部連結須為 http:// 或 https:// 開頭" in page
    form = re.search(rf'<form[^>]+id="performance-{YEAR}".*?</form>', page, re.S).group(0)
    assert 'value="淨灘志工"' in form and '<option value="volunteer" selected>' in form
    assert live_items(world) == []


def test_a_new_file_on_a_certified_outcome_voids_the_certification(student, world):
    item_id = world.upload(0, title="報告")
    world.run(certification.submit, world.student(0), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    edit_url = f"{items_url(world)}/{item_id}/edit"
    assert "原本的認證會失效" in text(student.get(edit_url))
    response = post_form(student, edit_url, {
        "version": str(stored(world, item_id).version), "title": "報告", "description": "",
        "document": (io.BytesIO(samples.pdf("another")), "新版.pdf")})
    assert "原本的認證已失效" in flash_after(student, response)
    assert stored(world, item_id).state == "draft"


def test_a_refused_edit_keeps_the_item_and_what_was_typed(student, world):
    item_id = world.upload(0, title="原標題")
    before = stored(world, item_id)
    edit_url = f"{items_url(world)}/{item_id}/edit"
    response = post_form(student, edit_url, {
        "version": str(before.version), "title": "新標題", "description": "新簡述",
        "document": (io.BytesIO(samples.exe()), "新版.pdf")})
    assert response.status_code == 422 and "只接受 pdf、jpg、png" in text(response)
    assert 'value="新標題"' in text(response)
    after = stored(world, item_id)
    assert (after.title, after.description, after.document_sha256, after.version) == (
        "原標題", before.description, before.document_sha256, before.version)


def test_a_request_over_the_sites_upload_limit_gets_a_chinese_page(student, world):
    # The limit of an upload is the policy's slots together (4 MB + 10 MB) and the form.
    response = upload_outcome(student, world, data=samples.big(15 * MB))
    assert response.status_code == 413 and "超過本校一次上傳的上限 14.1 MB" in text(response)
    assert "文件檔案每件 4 MB、影音檔案每件 10 MB" in text(response)
    assert live_items(world) == []


def test_a_rejected_outcome_shows_the_reason_and_can_be_resubmitted(student, world):
    item_id = world.upload(0, title="心得")
    world.run(certification.submit, world.student(0), item_id, now=IN_UPLOAD)
    world.run(certification.reject, world.teacher, item_id, reason="缺少參考資料", now=IN_UPLOAD)
    page = text(student.get(items_url(world)))
    assert "認證失敗" in page and "退回原因：缺少參考資料" in page
    assert buttons(page, item_id) == {"resubmit", "delete", "edit"}
    assert "已重新送出認證" in flash_after(student, act(student, world, item_id, "resubmit"))
    assert stored(world, item_id).state == "submitted"


def test_in_the_teachers_tail_a_rejection_cannot_be_resubmitted(student, app, world):
    item_id = world.upload(0)
    world.run(certification.submit, world.student(0), item_id, now=IN_UPLOAD)
    world.run(certification.reject, world.teacher, item_id, reason="重做", now=IN_TAIL)
    app.config["NOW"] = IN_TAIL
    assert buttons(text(student.get(items_url(world))), item_id) == set()
    refused = act(student, world, item_id, "resubmit")
    assert refused.status_code == 422
    assert "認證失敗的成果已不能重新送出" in text(refused)
    assert stored(world, item_id).state == "rejected"


# --------------------------------------------------------------------------- refusals


def test_an_oversize_file_is_refused_with_the_policys_limit_and_nothing_is_stored(student, world):
    with world.uow() as uow:
        limit = uow.policy.course_outcome.document.max_bytes
    response = upload_outcome(student, world, data=samples.big(limit + 1), title="太大的檔案")
    assert response.status_code == 422
    page = text(response)
    assert f"文件檔案超過上限 {format_size(limit)}" in page
    assert 'value="太大的檔案"' in page  # what was typed is still there
    assert live_items(world) == []


def test_a_file_of_the_wrong_type_is_refused_naming_what_is_accepted(student, world):
    response = upload_outcome(student, world, data=samples.exe(), filename="報告.pdf")
    assert response.status_code == 422
    assert "只接受 pdf、jpg、png" in text(response)
    assert live_items(world) == []


def test_a_missing_title_or_course_is_asked_for(student, world):
    assert "請填寫標題" in text(upload_outcome(student, world, title=" "))
    response = upload_outcome(student, world, course_id="")
    assert response.status_code == 400 and "請選擇課程" in text(response)
    assert live_items(world) == []


def test_over_the_semester_cap_the_error_names_the_cap(student, world):
    with world.uow() as uow:
        cap = uow.policy.outcome_uploads_per_semester
    for n in range(cap):
        world.upload(0, title=f"第 {n} 件")
    page = text(student.get(items_url(world)))
    assert f'id="outcome-{YEAR}-1"' not in page and "已達上傳上限" in page
    response = upload_outcome(student, world, title="多一件")
    assert response.status_code == 422
    assert f"已達本校每學期上限 {cap} 件" in text(response)
    assert len(live_items(world)) == cap


def test_a_move_the_state_does_not_allow_is_explained_in_chinese(student, world):
    item_id = world.upload(0)
    response = act(student, world, item_id, "withdraw")
    assert response.status_code == 409
    page = text(response)
    assert "這個項目目前是「草稿」，不能「撤回」" in page
    assert "(withdraw)" not in page and "（withdraw）" not in page
    assert stored(world, item_id).state == "draft"


def test_a_stale_page_changes_nothing(student, world):
    item_id = world.upload(0)
    old_version = stored(world, item_id).version
    world.run(certification.submit, world.student(0), item_id, now=IN_UPLOAD)
    world.run(certification.withdraw, world.student(0), item_id, now=IN_UPLOAD)
    response = act(student, world, item_id, "delete", version=old_version)
    assert response.status_code == 409 and "已被變更" in text(response)
    assert stored(world, item_id).state == "draft"


# --------------------------------------------------------------------------- selection


def certified(world, n: int = 0, title: str = "作品") -> int:
    item_id = world.upload(n, title=title)
    world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    return item_id


def test_select_and_unselect_in_the_selection_window(student, app, world):
    item_id = certified(world)
    app.config["NOW"] = IN_SELECTION
    page = text(student.get(items_url(world)))
    assert buttons(page, item_id) == {"select"}
    assert "學習歷程資料勾選：至 115/09/13 23:59 止" in page
    assert "已勾選" in flash_after(student, act(student, world, item_id, "select"))
    assert stored(world, item_id).state == "selected"
    with world.uow() as uow:
        cap = uow.policy.outcome_selections_per_year
    assert f"已用 1 / {cap} 件" in text(student.get(items_url(world)))
    assert "已取消勾選" in flash_after(student, act(student, world, item_id, "unselect"))
    assert stored(world, item_id).state == "unselected"


def test_selection_is_refused_outside_its_window(student, app, world):
    item_id = certified(world)
    for moment, words in ((IN_UPLOAD, "開始"), (AFTER_SELECTION, "截止")):
        app.config["NOW"] = moment
        assert "select" not in buttons(text(student.get(items_url(world))), item_id)
        response = act(student, world, item_id, "select")
        assert response.status_code == 422
        assert "勾選期間" in text(response) and words in text(response)
        assert stored(world, item_id).state == "certified"


def test_selection_over_the_cap_names_the_cap(student, app, world):
    with world.uow() as uow:
        cap = uow.policy.performance_selections_per_year
    ids = [world.upload_performance(0, title=f"表現 {n}") for n in range(cap + 1)]
    for item_id in ids[:cap]:
        world.run(selection.select, world.student(0), item_id, now=IN_SELECTION)
    app.config["NOW"] = IN_SELECTION
    page = text(student.get(items_url(world)))
    assert buttons(page, ids[-1]) == set()  # nothing left to select with
    response = act(student, world, ids[-1], "select")
    assert response.status_code == 422 and f"已達上限 {cap} 件" in text(response)
    assert stored(world, ids[-1]).state == "uploaded"


# --------------------------------------------------------------------------- receipts


@pytest.fixture
def receipt_id(world) -> int:
    return world.to_receipts((0,))[0]


def receipt_state(world, receipt_id: int) -> tuple[str, str | None, list[str]]:
    with world.uow() as uow:
        receipt = uow.get(Receipt, receipt_id)
        items = uow.session.scalars(uow.select(Item.state).where(Item.receipt_id == receipt_id)).all()
        return receipt.state, receipt.reason, list(items)


def test_a_student_confirms_a_receipt(student, app, world, receipt_id):
    app.config["NOW"] = IN_RECEIPT
    url = f"/students/{world.student_ids[0]}/receipts"
    page = text(student.get(url))
    assert "114 學年度課程學習成果收訖明細" in page and "待確認" in page
    assert "至 115/10/18 23:59" in page and "剩 8 天" in page
    assert "作品" in page  # the item submitted
    response = post_form(student, f"{url}/{receipt_id}/confirm")
    assert "已確認收訖明細" in flash_after(student, response)
    assert receipt_state(world, receipt_id) == ("confirmed", None, ["receipt_confirmed"])


def test_a_dispute_needs_a_reason(student, app, world, receipt_id):
    app.config["NOW"] = IN_RECEIPT
    url = f"/students/{world.student_ids[0]}/receipts/{receipt_id}/dispute"
    refused = post_form(student, url, {"reason": "  "})
    assert refused.status_code == 400 and "請填寫疑義說明" in text(refused)
    assert receipt_state(world, receipt_id) == ("issued", None, ["submitted_central"])
    response = post_form(student, url, {"reason": "少了一份報告"})
    assert "已提出疑義" in flash_after(student, response)
    assert receipt_state(world, receipt_id) == ("disputed", "少了一份報告", ["disputed"])


def test_a_stale_receipts_page_is_refused_and_nothing_changes(student, app, world, receipt_id):
    app.config["NOW"] = IN_RECEIPT
    url = f"/students/{world.student_ids[0]}/receipts"
    [version] = set(re.findall(r'name="version" value="(\d+)"', text(student.get(url))))
    confirmed = post_form(student, f"{url}/{receipt_id}/confirm", {"version": version})
    assert "已確認收訖明細" in flash_after(student, confirmed)
    stale = post_form(student, f"{url}/{receipt_id}/dispute", {"version": version, "reason": "其實少了一件"})
    assert stale.status_code == 409 and "已被變更" in text(stale)
    assert receipt_state(world, receipt_id) == ("confirmed", None, ["receipt_confirmed"])


def test_a_receipt_cannot_be_answered_after_its_window(student, app, world, receipt_id):
    app.config["NOW"] = AFTER_SELECTION.replace(month=11)
    url = f"/students/{world.student_ids[0]}/receipts"
    assert "確認收訖</button>" not in text(student.get(url))
    response = post_form(student, f"{url}/{receipt_id}/confirm")
    assert response.status_code == 422 and "已於 115/10/18 23:59 截止" in text(response)
    assert receipt_state(world, receipt_id)[0] == "issued"


# --------------------------------------------------------------------------- other people's data


def test_another_students_pages_and_items_answer_404_and_nothing_changes(student, world):
    other = world.upload(1, title="別人的作品")
    other_sid = world.student_ids[1]
    for path in (f"/students/{other_sid}/items", f"/students/{other_sid}/receipts",
                 f"/students/{other_sid}/items/{other}/edit", f"{items_url(world)}/{other}/edit"):
        response = student.get(path)
        assert response.status_code == 404, path
        assert "別人的作品" not in text(response)
    for path in (f"/students/{other_sid}/items/{other}/submit", f"{items_url(world)}/{other}/submit",
                 f"{items_url(world)}/{other}/delete"):
        assert post_form(student, path, {"version": "1"}).status_code == 404, path
    assert post_form(student, f"/students/{other_sid}/outcomes", {
        "course_id": str(world.course_id), "title": "代傳",
        "document": (io.BytesIO(samples.pdf()), "x.pdf")}).status_code == 404
    assert stored(world, other).state == "draft"
    assert [i.title for i in live_items(world, 1)] == ["別人的作品"]


def test_another_students_receipt_cannot_be_answered(student, app, world):
    receipt_ids = world.to_receipts((0, 1))
    app.config["NOW"] = IN_RECEIPT
    mine = f"/students/{world.student_ids[0]}/receipts/{receipt_ids[1]}/confirm"
    theirs = f"/students/{world.student_ids[1]}/receipts/{receipt_ids[1]}/confirm"
    assert post_form(student, mine).status_code == 404
    assert post_form(student, theirs).status_code == 404
    assert receipt_state(world, receipt_ids[1])[0] == "issued"


def test_a_student_of_another_school_cannot_see_this_schools_student(db, files, client, app, world, people):
    other_school = World(db, files, code="013302")
    add_accounts(other_school)
    item_id = world.upload(0, title="本校作品")
    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "stu0", code="013302")
    own = client.get(f"/students/{other_school.student_ids[0]}/items")
    assert own.status_code == 200
    for path in (items_url(world), f"/students/{world.student_ids[0]}/receipts"):
        response = client.get(path)
        assert response.status_code == 404 and "本校作品" not in text(response)
    assert post_form(client, action_url(world, item_id, "submit"), {"version": "1"}).status_code == 404
    assert stored(world, item_id).state == "draft"


def test_a_homeroom_teacher_views_a_students_page_without_acting(client, app, people, world):
    item_id = world.upload(0, title="導師看得到")
    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "teacher")
    page = text(client.get(items_url(world)))
    assert "導師看得到" in page and buttons(page, item_id) == set()
    assert f'id="outcome-{YEAR}-1"' not in page
    response = act(client, world, item_id, "submit")
    assert response.status_code == 403
    assert stored(world, item_id).state == "draft"


def test_pages_need_sign_in(client, world, people):
    response = client.get(items_url(world))
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
