"""The batch pages (/staff/batches): the submission offices create a batch, export it, download
the roster, the manifest and a zip of everything, confirm the upload, import the receipt file and
open the students' confirmation; cancel and resubmit; the pre-check. Everyone else is refused on
every page and download, another school's batch does not exist, and a refused act changes nothing."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from persistence.tables import AuditEntry, Course, Item, Receipt, Staff, StaffRole, Student, SubmissionBatch, Window
from tests.integration.web.conftest import PASSWORD, add_accounts, post_form, sign_in
from tests.world import AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD, YEAR, World
from workflows.people import accounts, proxies
from workflows.central import batches, disputes, receipts
from workflows.items import certification, selection
from workflows.core.actors import platform_admin
from workflows.core.clock import end_of_day, start_of_day
from workflows.central.receipt_import import import_receipts

PAGE = "/staff/batches"
LATER = AFTER_SELECTION + timedelta(days=1)  # selections frozen; the receipt window not yet open
HEADER = ("身分證號", "類別", "項目編號", "檔案雜湊")


def text(response) -> str:
    return response.get_data(as_text=True)


def add_office(world: World, username: str, name: str, roles: list[str]) -> int:
    """A staff member holding only `roles`, with an account `username.<code>`."""
    with world.uow() as uow:
        staff = Staff(school_id=world.school_id, staff_no=username.upper(), name=name)
        uow.session.add(staff)
        uow.session.flush()
        uow.session.add_all(StaffRole(school_id=world.school_id, staff_id=staff.id, role=r) for r in roles)
        accounts.create_account(uow, platform_admin(), username=f"{username}.{world.code}", password=PASSWORD,
                                kind="staff", staff_id=staff.id)
        uow.commit()
        return staff.id


def selected_outcomes(world: World, students=(0, 1, 2)) -> dict[int, int]:
    """Each student's course outcome uploaded, certified and selected: {student index: item id}."""
    found = {}
    for n in students:
        item_id = world.upload(n, title=f"成果{n}")
        world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
        world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
        world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)
        found[n] = item_id
    return found


@pytest.fixture
def site(app, world, people, tmp_path):
    """The app writing exports under tmp_path, at a moment after the selection window; the
    submission offices (註冊組, 設備組, 訓育組) as single-role accounts, and a homeroom teacher."""
    app.config.update(NOW=LATER, EXPORT_DIR=str(tmp_path / "exports"))
    world.registry_id = add_office(world, "registry", "註冊組林組長", ["registry"])
    add_office(world, "equipment", "設備組黃組長", ["equipment_section"])
    add_office(world, "activities", "訓育組吳組長", ["student_activities"])
    add_office(world, "homeroom", "周導師", ["homeroom_teacher"])
    return world


def batch_of(world, batch_id) -> SubmissionBatch:
    with world.uow() as uow:
        return uow.get(SubmissionBatch, batch_id)


def item_states(world) -> dict[int, str]:
    with world.uow() as uow:
        return dict(uow.session.execute(select(Item.id, Item.state)).all())


def snapshot(world) -> tuple:
    """Everything a batch page could change."""
    with world.uow() as uow:
        return (tuple(uow.session.execute(select(SubmissionBatch.id, SubmissionBatch.state,
                                                 SubmissionBatch.confirmation_window_id)
                                          .order_by(SubmissionBatch.id)).all()),
                tuple(uow.session.execute(select(Item.id, Item.state, Item.receipt_id).order_by(Item.id)).all()),
                tuple(uow.session.execute(select(Window.id, Window.starts_at, Window.ends_at)
                                          .order_by(Window.id)).all()),
                uow.session.scalar(select(func.count()).select_from(Receipt)),
                uow.session.scalar(select(func.count()).select_from(AuditEntry)))


def create_on_page(client, **form) -> int:
    answer = post_form(client, PAGE, {"kind": "year_outcomes", "academic_year": str(YEAR), **form}, page=PAGE)
    assert answer.status_code == 302, text(answer)[:2000]
    return int(re.search(r"/staff/batches/(\d+)$", answer.headers["Location"]).group(1))


def exported_batch(world, export_dir) -> int:
    """A batch of the three selected outcomes, exported where the pages look for it."""
    selected_outcomes(world)
    staff = world.staff()
    batch_id = world.run(batches.create_batch, staff, "year_outcomes", YEAR, 0, now=LATER).id
    world.run(batches.export_batch, staff, batch_id, export_dir / world.code, now=LATER)
    return batch_id


def form_version(page: str, form_id: str) -> str:
    """The batch version the page's form `form_id` carries."""
    form = page.split(f'id="{form_id}"')[1].split("</form>")[0]
    return re.search(r'name="version" value="(\d+)"', form).group(1)


def stored_export(world, batch_id) -> tuple:
    batch = batch_of(world, batch_id)
    return batch.version, batch.export_sha256, batch.exported_at


def items_by_student(world) -> dict[int, int]:
    """{student index: their one item id}."""
    with world.uow() as uow:
        return {n: uow.session.scalars(select(Item.id).where(Item.student_id == sid)).one()
                for n, sid in enumerate(world.student_ids)}


def receipt_csv(world, item_ids: dict[int, int], *, bad_national_id: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    with world.uow() as uow:
        for n, item_id in item_ids.items():
            national_id = uow.get(Student, world.student_ids[n]).national_id
            writer.writerow([national_id, "課程學習成果", str(item_id), ""])
    if bad_national_id:
        writer.writerow(["Z199999999", "課程學習成果", "999", ""])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- who may


def _pages(batch_id: int) -> dict[str, tuple[str, str]]:
    """Every page and download (GET) and every act (POST) of a batch."""
    return {
        "list": ("GET", PAGE), "detail": ("GET", f"{PAGE}/{batch_id}"),
        "precheck": ("GET", f"{PAGE}/precheck?academic_year={YEAR}&semester=1"),
        "submit page": ("GET", f"{PAGE}/{batch_id}/submit"),
        "workbook": ("GET", f"{PAGE}/{batch_id}/download/workbook"),
        "manifest": ("GET", f"{PAGE}/{batch_id}/download/manifest"),
        "zip": ("GET", f"{PAGE}/{batch_id}/download/zip"),
        "create": ("POST", PAGE), "export": ("POST", f"{PAGE}/{batch_id}/export"),
        "submit": ("POST", f"{PAGE}/{batch_id}/submit"), "cancel": ("POST", f"{PAGE}/{batch_id}/cancel"),
        "resubmission": ("POST", f"{PAGE}/{batch_id}/resubmission"),
        "receipts": ("POST", f"{PAGE}/{batch_id}/receipts"),
    }


_FORMS = {"create": {"kind": "year_outcomes", "academic_year": str(YEAR)}, "submit": {"confirm": "yes"},
          "cancel": {"reason": "重複建立"}, "receipts": {"window_id": "1"}}


def _call(client, batch_id: int, name: str):
    method, path = _pages(batch_id)[name]
    if method == "GET":
        return client.get(path)
    return post_form(client, path, _FORMS.get(name, {}), page=PAGE)


def test_the_submission_offices_reach_every_page_and_download(client, site, tmp_path):
    batch_id = exported_batch(site, tmp_path / "exports")
    for who in ("registry", "equipment", "activities"):
        one = client.application.test_client()
        sign_in(one, who)
        for name in ("list", "detail", "precheck", "submit page", "workbook", "manifest", "zip"):
            answer = _call(one, batch_id, name)
            assert answer.status_code == 200, (who, name, text(answer)[:500])
        assert "學生1" in text(one.get(f"{PAGE}/{batch_id}"))


@pytest.mark.parametrize("who", ["teacher2", "homeroom", "stu0", "parent"])
def test_everyone_else_is_refused_on_every_page_and_download(client, site, tmp_path, who):
    batch_id = exported_batch(site, tmp_path / "exports")
    sign_in(client, who)
    before = snapshot(site)
    for name in _pages(batch_id):
        answer = _call(client, batch_id, name)
        assert answer.status_code == 403, (who, name, answer.status_code)
        assert "學生1" not in text(answer) and "成果1" not in text(answer), (who, name)
    assert snapshot(site) == before


def test_another_schools_batch_does_not_exist_for_its_offices(app, client, site, tmp_path, db, files):
    batch_id = exported_batch(site, tmp_path / "exports")
    far = World(db, files, code="013302")
    add_accounts(far)
    sign_in(client, "staff", code="013302")
    before = snapshot(site)
    for name in ("detail", "submit page", "workbook", "manifest", "zip", "export", "submit", "cancel",
                 "resubmission", "receipts"):
        answer = _call(client, batch_id, name)
        assert answer.status_code == 404, (name, answer.status_code)
        assert "學生1" not in text(answer), name
    assert f'id="batch-{batch_id}"' not in text(client.get(PAGE))
    assert snapshot(site) == before


def test_a_form_without_its_csrf_token_is_refused(client, site, tmp_path):
    batch_id = exported_batch(site, tmp_path / "exports")
    sign_in(client, "registry")
    before = snapshot(site)
    answer = client.post(f"{PAGE}/{batch_id}/submit", data={"confirm": "yes"})
    assert answer.status_code == 400 and "CSRF" in text(answer)
    assert client.post(PAGE, data={"kind": "year_outcomes", "academic_year": str(YEAR)}).status_code == 400
    assert snapshot(site) == before


# --------------------------------------------------------------------------- the round trip


def test_create_export_download_submit_and_import_receipts(client, site):
    world = site
    items = selected_outcomes(world)
    sign_in(client, "registry")
    batch_id = create_on_page(client)

    page = text(client.get(f"{PAGE}/{batch_id}"))
    assert "已建立" in page and "學生 3 位、項目 3 件" in page and "26 課程學習成果名冊" in page
    assert all(f"成果{n}" in page for n in range(3)) and "已勾選" in page
    assert "匯出名冊" in page and "取消批次" in page and "確認已上傳中央資料庫" not in page  # prepared
    listing = text(client.get(f"{PAGE}?academic_year={YEAR}"))
    assert f'id="batch-{batch_id}"' in listing and "114 學年度學年提交－課程學習成果" in listing
    assert f'id="batch-{batch_id}"' not in text(client.get(f"{PAGE}?academic_year={YEAR - 1}"))

    assert post_form(client, f"{PAGE}/{batch_id}/export", page=PAGE).status_code == 302
    page = text(client.get(f"{PAGE}/{batch_id}"))
    assert "已匯出名冊" in page and "download-zip" in page and "115/09/21 10:00" in page  # Taipei time

    workbook = client.get(f"{PAGE}/{batch_id}/download/workbook")
    assert workbook.status_code == 200 and "no-store" in workbook.headers["Cache-Control"]
    cover = load_workbook(io.BytesIO(workbook.data))["封面"]
    assert (cover["A1"].value, cover["B1"].value) == ("學校代碼", "013301")
    assert hashlib.sha256(workbook.data).hexdigest() == batch_of(world, batch_id).export_sha256

    manifest = json.loads(client.get(f"{PAGE}/{batch_id}/download/manifest").data)
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{PAGE}/{batch_id}/download/zip").data))
    assert archive.testzip() is None
    prefix = f"batch-{batch_id}/"
    names = set(archive.namelist())
    assert names == {prefix + manifest["workbook"]["path"], prefix + "manifest.json",
                     *(prefix + entry["path"] for entry in manifest["files"])}
    assert len(manifest["files"]) == 3
    assert json.loads(archive.read(prefix + "manifest.json")) == manifest
    for entry in [manifest["workbook"], *manifest["files"]]:
        assert hashlib.sha256(archive.read(prefix + entry["path"])).hexdigest() == entry["sha256"]

    confirm = text(client.get(f"{PAGE}/{batch_id}/submit"))
    assert "學生 3 位" in confirm and "項目 3 件" in confirm and "已提交中央資料庫" in confirm
    unconfirmed = post_form(client, f"{PAGE}/{batch_id}/submit", {}, page=PAGE)
    assert unconfirmed.status_code == 400 and "請先勾選" in text(unconfirmed)
    assert batch_of(world, batch_id).state == "exported"
    assert set(item_states(world).values()) == {"selected"}

    assert post_form(client, f"{PAGE}/{batch_id}/submit", {"confirm": "yes"}, page=PAGE).status_code == 302
    assert batch_of(world, batch_id).state == "submitted"
    assert set(item_states(world).values()) == {"submitted_central"}

    # the same confirmation again (a second tab, a double click): refused, naming the state
    before = snapshot(world)
    again = post_form(client, f"{PAGE}/{batch_id}/submit", {"confirm": "yes"}, page=PAGE)
    assert again.status_code == 409
    assert "目前狀態為「已上傳中央資料庫」" in text(again) and "匯入收訖明細（import_receipt）" in text(again)
    assert snapshot(world) == before

    assert "不能確認上傳。此狀態可執行：匯入收訖明細" in text(client.get(f"{PAGE}/{batch_id}/submit"))
    page = text(client.get(f"{PAGE}/{batch_id}"))
    assert 'id="minimum-days"' in page and "至少 15 日" in page  # shown before a file is chosen

    bad = post_form(client, f"{PAGE}/{batch_id}/receipts", {
        "window_id": str(world.receipt_window_id),
        "receipt_file": (io.BytesIO(receipt_csv(world, items, bad_national_id=True)), "收訖明細.csv")},
        page=PAGE, content_type="multipart/form-data")
    assert bad.status_code == 422
    problems = text(bad).split('id="problems"')[1].split("</table>")[0]
    assert re.search(r"<td class=\"num\">5</td><td>身分證號</td><td>找不到身分證號 Z19\*\*\*\*999 的學生", problems)
    assert snapshot(world) == before

    good = post_form(client, f"{PAGE}/{batch_id}/receipts", {
        "window_id": str(world.receipt_window_id),
        "receipt_file": (io.BytesIO(receipt_csv(world, items)), "收訖明細.csv")},
        page=PAGE, content_type="multipart/form-data")
    assert good.status_code == 302, text(good)[:2000]
    batch = batch_of(world, batch_id)
    assert (batch.state, batch.confirmation_window_id) == ("confirmation_open", world.receipt_window_id)
    with world.uow() as uow:
        issued = uow.session.scalars(select(Receipt)).all()
        linked = dict(uow.session.execute(select(Item.id, Item.receipt_id)).all())
    assert sorted(r.student_id for r in issued) == sorted(world.student_ids)
    assert {r.state for r in issued} == {"issued"}
    assert all(linked[i] is not None for i in items.values())
    page = text(client.get(f"{PAGE}/{batch_id}"))
    assert "學生確認中" in page and "收訖明細確認（115/10/04 00:00 起，至 115/10/18 23:59 止）" in page
    history = page.split('id="history"')[1]
    for label in ("建立批次", "匯出名冊", "確認已上傳中央資料庫", "匯入收訖明細", "開放學生確認"):
        assert label in history
    assert "註冊組林組長" in history


def test_new_dates_on_the_receipt_form_set_the_batch_own_window_and_leave_the_year_window(client, site, tmp_path):
    world = site
    batch_id = exported_batch(world, tmp_path / "exports")
    world.run(batches.submit_batch, world.staff(), batch_id, now=LATER)
    items = items_by_student(world)
    sign_in(client, "equipment")  # a submission office: not the calendar's, may still date its batch
    form = text(client.get(f"{PAGE}/{batch_id}"))
    assert "設定本批次自己的確認期間" in form and f"{YEAR} 學年度的確認期間不變" in form
    before = snapshot(world)
    short = post_form(client, f"{PAGE}/{batch_id}/receipts", {
        "window_id": "", "first_day": "2026-10-01", "last_day": "2026-10-14",
        "receipt_file": (io.BytesIO(receipt_csv(world, items)), "r.csv")}, page=PAGE,
        content_type="multipart/form-data")
    assert short.status_code == 422
    assert "少於本校規定的 15 日" in text(short)
    assert 'value="2026-10-01"' in text(short) and '<option value="" selected>' in text(short)  # kept as typed
    assert snapshot(world) == before  # no window made, the batch unmoved

    bad_file = post_form(client, f"{PAGE}/{batch_id}/receipts", {
        "window_id": "", "first_day": "2026-10-01", "last_day": "2026-10-15",
        "receipt_file": (io.BytesIO(receipt_csv(world, {0: items[0]})), "r.csv")}, page=PAGE,
        content_type="multipart/form-data")
    assert bad_file.status_code == 422 and "不在收訖明細中" in text(bad_file)
    assert snapshot(world) == before  # good dates, bad file: no window either

    done = post_form(client, f"{PAGE}/{batch_id}/receipts", {
        "window_id": "", "first_day": "2026-10-01", "last_day": "2026-10-15",
        "receipt_file": (io.BytesIO(receipt_csv(world, items)), "r.csv")}, page=PAGE,
        content_type="multipart/form-data")
    assert done.status_code == 302, text(done)[:2000]
    with world.uow() as uow:
        year_window = uow.get(Window, world.receipt_window_id)  # as World defined it
        assert (year_window.starts_at, year_window.ends_at) == (start_of_day(date(2026, 10, 4)),
                                                                end_of_day(date(2026, 10, 18)))
        own = uow.session.scalars(select(Window).where(Window.batch_id == batch_id)).one()
        assert (own.starts_at, own.ends_at) == (start_of_day(date(2026, 10, 1)), end_of_day(date(2026, 10, 15)))
        assert set(uow.session.scalars(select(Receipt.window_id))) == {own.id}
    batch = batch_of(world, batch_id)
    assert (batch.state, batch.confirmation_window_id) == ("confirmation_open", own.id)


def test_cancel_needs_a_reason_and_frees_the_students(client, site):
    world = site
    selected_outcomes(world, (0,))
    sign_in(client, "equipment")
    batch_id = create_on_page(client)
    refused = post_form(client, f"{PAGE}/{batch_id}/cancel", {"reason": "  "}, page=PAGE)
    assert refused.status_code == 400 and "請填寫取消原因" in text(refused)
    assert batch_of(world, batch_id).state == "prepared"

    assert post_form(client, f"{PAGE}/{batch_id}/cancel", {"reason": "名單有誤"}, page=PAGE).status_code == 302
    page = text(client.get(f"{PAGE}/{batch_id}"))
    assert "已取消" in page and "名單有誤" in page and "沒有可執行的操作" in page
    assert 'id="export-form"' not in page
    again = post_form(client, f"{PAGE}/{batch_id}/export", page=PAGE)
    assert again.status_code == 409 and "目前狀態為「已取消」" in text(again) and "此狀態可執行：無" in text(again)
    create_on_page(client)  # the student can go in a new batch


def test_a_stale_batch_page_is_refused_and_changes_nothing(client, site, tmp_path):
    """A colleague exported the batch after the page was opened: exporting, cancelling or confirming
    the upload from the old page is refused with the stale-page words, and nothing changes."""
    world = site
    selected_outcomes(world)
    staff = world.staff()
    batch_id = world.run(batches.create_batch, staff, "year_outcomes", YEAR, 0, now=LATER).id
    sign_in(client, "registry")
    page = text(client.get(f"{PAGE}/{batch_id}"))
    shown = {form: form_version(page, form) for form in ("export-form", "cancel-form")}
    world.run(batches.export_batch, staff, batch_id, tmp_path / "exports" / world.code, now=LATER)
    before = snapshot(world), stored_export(world, batch_id)

    export = post_form(client, f"{PAGE}/{batch_id}/export", {"version": shown["export-form"]}, page=PAGE)
    assert export.status_code == 409 and "這個提交批次在你開啟頁面後已被變更" in text(export)
    cancel = post_form(client, f"{PAGE}/{batch_id}/cancel", {"version": shown["cancel-form"], "reason": "名單有誤"},
                       page=PAGE)
    assert cancel.status_code == 409 and "這個提交批次在你開啟頁面後已被變更" in text(cancel)
    assert "名單有誤" in text(cancel)  # what was typed is kept
    assert (snapshot(world), stored_export(world, batch_id)) == before

    confirm = form_version(text(client.get(f"{PAGE}/{batch_id}/submit")), "submit-form")
    world.run(batches.export_batch, staff, batch_id, tmp_path / "exports" / world.code,
              now=LATER + timedelta(hours=1))  # exported again after the confirmation page was opened
    before = snapshot(world), stored_export(world, batch_id)
    submit = post_form(client, f"{PAGE}/{batch_id}/submit", {"version": confirm, "confirm": "yes"}, page=PAGE)
    assert submit.status_code == 409 and "這個提交批次在你開啟頁面後已被變更" in text(submit)
    assert (snapshot(world), stored_export(world, batch_id)) == before
    assert batch_of(world, batch_id).state == "exported"

    fresh = form_version(text(client.get(f"{PAGE}/{batch_id}/submit")), "submit-form")
    assert post_form(client, f"{PAGE}/{batch_id}/submit", {"version": fresh, "confirm": "yes"},
                     page=PAGE).status_code == 302
    assert batch_of(world, batch_id).state == "submitted"


def test_a_receipt_file_from_a_stale_batch_page_is_refused_and_changes_nothing(client, site, tmp_path):
    """A colleague imported the receipt file after the page was opened: the second import from the
    old page is refused with the stale-page words, and nothing changes."""
    world = site
    batch_id = exported_batch(world, tmp_path / "exports")
    world.run(batches.submit_batch, world.staff(), batch_id, now=LATER)
    sign_in(client, "registry")
    shown = form_version(text(client.get(f"{PAGE}/{batch_id}")), "receipt-form")
    items = items_by_student(world)
    world.run(import_receipts, world.staff(), batch_id, receipt_csv(world, items), "r.csv",
              confirmation_window_id=world.receipt_window_id, now=LATER)
    before = snapshot(world)

    stale = post_form(client, f"{PAGE}/{batch_id}/receipts", {
        "version": shown, "window_id": str(world.receipt_window_id),
        "receipt_file": (io.BytesIO(receipt_csv(world, items)), "收訖明細.csv")},
        page=PAGE, content_type="multipart/form-data")
    assert stale.status_code == 409 and "這個提交批次在你開啟頁面後已被變更" in text(stale)
    assert snapshot(world) == before


def test_create_errors_are_shown_in_words_with_the_form_kept(client, site):
    selected_outcomes(site, (0,))
    sign_in(client, "registry")
    before = snapshot(site)
    answer = post_form(client, PAGE, {"kind": "semester_courses", "academic_year": str(YEAR),
                                      "student_nos": "3010000"}, page=PAGE)
    assert answer.status_code == 400
    assert "須指定第 1 或第 2 學期" in text(answer)
    assert '<option value="semester_courses" selected>' in text(answer) and ">3010000</textarea>" in text(answer)

    answer = post_form(client, PAGE, {"kind": "year_outcomes", "academic_year": str(YEAR), "track": "academic",
                                      "student_nos": "9999999"}, page=PAGE)
    assert answer.status_code == 404 and "找不到學號 9999999 的學生" in text(answer)
    answer = post_form(client, PAGE, {"kind": "year_outcomes", "academic_year": "一一四"}, page=PAGE)
    assert answer.status_code == 400 and "請填寫學年度" in text(answer)
    assert snapshot(site) == before


def test_a_batch_with_items_resolved_for_resubmission_offers_a_resubmission_batch(app, client, site, tmp_path):
    world = site
    batch_id = exported_batch(world, tmp_path / "exports")
    world.run(batches.submit_batch, world.staff(), batch_id, now=LATER)
    sign_in(client, "registry")
    assert 'id="resubmission-form"' not in text(client.get(f"{PAGE}/{batch_id}"))
    items = items_by_student(world)
    item_id = items[0]
    world.run(import_receipts, world.staff(), batch_id, receipt_csv(world, items), "r.csv",
              confirmation_window_id=world.receipt_window_id, now=LATER)
    with world.uow() as uow:
        receipt_id = uow.get(Item, item_id).receipt_id
    world.run(receipts.dispute, world.student(0), receipt_id, reason="檔案錯誤", now=IN_RECEIPT)
    world.run(disputes.resolve, world.staff(), item_id, kind="resubmit", reason="已更正", now=IN_RECEIPT)
    app.config["NOW"] = IN_RECEIPT

    page = text(client.get(f"{PAGE}/{batch_id}"))
    assert 'id="resubmission-form"' in page and "有 1 件" in page
    answer = post_form(client, f"{PAGE}/{batch_id}/resubmission", page=PAGE)
    assert answer.status_code == 302
    new_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    new = text(client.get(f"{PAGE}/{new_id}"))
    assert f"原批次 <a href=\"/staff/batches/{batch_id}\">#{batch_id}</a>" in new and "學生 1 位、項目 1 件" in new
    again = post_form(client, f"{PAGE}/{batch_id}/resubmission", page=PAGE)
    assert again.status_code == 422 and "沒有處理結果為「更正後重新提交」且尚未重新提交的項目" in text(again)


def test_a_proxy_of_an_absent_registry_clerk_acts_and_the_audit_says_for_whom(client, site):
    world = site
    selected_outcomes(world, (0,))
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=world.registry_id,
              proxy_staff_ids=[world.other_teacher_id], now=IN_UPLOAD)
    world.run(proxies.mark_unavailable, world.staff(), world.registry_id, starts_on=date(2025, 10, 1),
              reason="leave", now=IN_UPLOAD)
    sign_in(client, "teacher2")  # 李老師, a subject teacher, first proxy of 註冊組林組長
    batch_id = create_on_page(client)
    history = text(client.get(f"{PAGE}/{batch_id}")).split('id="history"')[1]
    assert "李老師（代理 註冊組林組長）" in history
    with world.uow() as uow:
        audit = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject_kind == "batch")).one()
    assert (audit.actor_id, audit.on_behalf_id) == (world.other_teacher_id, world.registry_id)


def test_downloads_before_any_export_say_so(client, site):
    selected_outcomes(site, (0,))
    sign_in(client, "registry")
    batch_id = create_on_page(client)
    assert "尚未匯出" in text(client.get(f"{PAGE}/{batch_id}"))
    for what in ("workbook", "manifest", "zip"):
        answer = client.get(f"{PAGE}/{batch_id}/download/{what}")
        assert answer.status_code == 404 and "請先匯出名冊" in text(answer)


def test_the_precheck_page_lists_every_problem_by_row(client, site):
    with site.uow() as uow:
        uow.session.add(Course(school_id=site.school_id, academic_year=YEAR, semester=1,
                               code="112999999H00100A1ML0199", name="別校的課", teacher_id=site.teacher_id))
        uow.commit()
    sign_in(client, "activities")
    page = text(client.get(f"{PAGE}/precheck?academic_year={YEAR}&semester=1"))
    assert "114 學年度第 1 學期開課預檢：3 門課程，1 個問題。" in page
    row = page.split('id="problems"')[1].split("</table>")[0]
    assert "別校的課" in row and "112999999H00100A1ML0199" in row and "<td class=\"num\">3</td>" in row
    assert "全部通過" in text(client.get(f"{PAGE}/precheck?academic_year={YEAR}&semester=2"))
