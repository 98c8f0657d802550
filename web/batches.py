"""Central submission batches 提交批次 for the submission offices (issue 5): list and create
batches, export the roster 名冊 and download it, confirm the upload to the central database,
cancel, resubmit corrected items, import the receipt file 收訖明細, and the course pre-check 預檢.

Thin: parse, call workflows/central/batches.py, receipt_import.py and precheck.py (the same
functions `portfolio batch …` and `portfolio receipts import` call), render. Who may do what is
the workflows' answer; downloads are found from the batch (workflows/central/batch_files.py), never
from a path in the request."""
from __future__ import annotations

import os

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, send_file, url_for
from marshmallow import fields

from web.context import login_required, now, school_uow
from web.forms import Form, VersionForm, one_message, parse, upload_of
from web.params import YEAR_MAX, YEAR_MIN, Int, integer
from persistence.vocabulary import BATCH_KIND_LABELS, ITEM_KIND_OF_BATCH, TRACK_LABELS
from workflows.central import batch_files, batches, roster
from workflows.school import calendar
from workflows.people.accounts import person_ids
from workflows.core.clock import academic_year_of, semester_of, taipei_date
from workflows.core.errors import (Conflict, Forbidden, InvalidInput, InvalidTransition, NotFound,
                              RuleViolation)
from workflows.central.precheck import precheck_courses
from workflows.central.receipt_import import ReceiptImportRejected, import_receipts
from workflows.core.roles import DIVISION_LABELS
from workflows.core.fields import REASON_MAX, text_field

bp = Blueprint("batches", __name__, url_prefix="/staff/batches")

# Refusals shown on the page the person was on, with what they typed kept.
FIXABLE = (RuleViolation, InvalidInput, InvalidTransition, Conflict)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_STORE = {"Cache-Control": "no-store, private"}  # rosters carry ID numbers


class CreateForm(Form):
    kind = fields.String(required=True, error_messages=one_message("請選擇批次類別。"))
    academic_year = Int(label="學年度", low=YEAR_MIN, high=YEAR_MAX, required=True,
                        error_messages=one_message("請填寫學年度（民國年，例如 114）。"))
    semester = Int(label="學期", load_default=0, error_messages=one_message("學期只能是第 1 或第 2 學期。"))
    division = fields.String(load_default="day")
    track = fields.String(load_default="")
    round = Int(label="梯次", load_default=1, error_messages=one_message("梯次只能是第 1 或第 2 梯次。"))
    student_nos = fields.String(load_default="")


class ReceiptForm(VersionForm):
    """The receipt file's form: the confirmation period, and the batch's version the page showed."""

    window_id = Int(label="收訖明細確認期間", low=1, load_default=None, error_messages=one_message("請選擇收訖明細確認期間。"))
    first_day = fields.Date(load_default=None, error_messages=one_message("確認期間開始日不是有效的日期（例如 2026-10-04）。"))
    last_day = fields.Date(load_default=None, error_messages=one_message("確認期間結束日不是有效的日期（例如 2026-10-18）。"))


class SubmitForm(VersionForm):
    """The upload to the central database confirmed: the box ticked sends confirm=yes; with the
    batch's version the confirmation page showed."""

    confirm = fields.String(load_default="")


class CancelForm(VersionForm):
    """A cancellation's reason, as typed (required on the page; the rule is text_field's), and the
    batch's version the page showed."""

    reason = fields.String(load_default=None)


def export_root() -> str:
    """Where exports are written on this server (config EXPORT_DIR)."""
    return current_app.config.get("EXPORT_DIR") or os.path.join(current_app.instance_path, "exports")


def _current_year() -> tuple[int, int]:
    day = taipei_date(now())
    return academic_year_of(day), semester_of(day)[1]


# --------------------------------------------------------------------------- list and create


def _index_page(*, error: str | None = None, status: int = 200, draft: dict | None = None):
    year = integer(request.args.get("academic_year"), field="academic_year", label="學年度", low=YEAR_MIN,
                   high=YEAR_MAX)
    current_year, _ = _current_year()
    with school_uow() as (uow, actor):
        rows = batches.list_batches(uow, actor, year, now=now())
        labels = batch_files.roster_labels(uow, rows)
        return render_template(
            "batches/index.html", rows=rows, roster_labels=labels, year=year, error=error,
            draft=draft or {"academic_year": str(current_year)},
            kinds=BATCH_KIND_LABELS, item_kinds=ITEM_KIND_OF_BATCH,
            tracks=TRACK_LABELS, rounds=tuple(roster.GRADE12_ROUND_OFFSETS),
            divisions={d.value: label for d, label in DIVISION_LABELS.items()}), status


@bp.get("")
@login_required("staff")
def index():
    return _index_page()


def _student_nos(text: str) -> list[str]:
    return [n for n in text.replace(",", " ").replace("，", " ").split() if n]


@bp.post("")
@login_required("staff")
def create():
    try:
        form = parse(CreateForm, request.form)
        with school_uow() as (uow, actor):
            numbers = _student_nos(form["student_nos"])
            student_ids = None
            if numbers:
                batches.require_submitter(uow, actor, now())  # before saying who exists
                student_ids, _ = person_ids(uow, student_nos=numbers)
            batch = batches.create_batch(
                uow, actor, form["kind"], form["academic_year"], form["semester"],
                track=form["track"] or None, round=form["round"], student_ids=student_ids,
                division=form["division"], now=now())
            batch_id = batch.id
    except (*FIXABLE, NotFound) as error:
        return _index_page(error=error.message, status=error.status, draft=request.form.to_dict())
    flash(f"已建立提交批次 #{batch_id}。下一步：匯出名冊。", "success")
    return redirect(url_for(".detail", batch_id=batch_id))


@bp.get("/precheck")
@login_required("staff")
def precheck():
    year, semester = _current_year()
    year = integer(request.args.get("academic_year"), field="academic_year", label="學年度", low=YEAR_MIN,
                   high=YEAR_MAX, default=year)
    semester = integer(request.args.get("semester"), field="semester", label="學期", high=2, default=semester)
    with school_uow() as (uow, actor):
        report = precheck_courses(uow, actor, year, semester)
    return render_template("batches/precheck.html", report=report)


# --------------------------------------------------------------------------- one batch


def _detail_page(batch_id: int, *, error: str | None = None, status: int = 200,
                 problems: list | None = None, draft: dict | None = None):
    with school_uow() as (uow, actor):
        detail = batch_files.batch_detail(uow, actor, batch_id, export_root(), now=now())
        receipt = None
        if detail.receipt_batch and any(e == "import_receipt" for e, _ in detail.events):
            receipt = batch_files.receipt_form(uow, actor, batch_id, now=now())
        return render_template("batches/detail.html", batch=detail, receipt=receipt, error=error,
                               problems=problems or [], draft=draft or {}, reason_max=REASON_MAX), status


@bp.get("/<int:batch_id>")
@login_required("staff")
def detail(batch_id: int):
    return _detail_page(batch_id)


@bp.post("/<int:batch_id>/export")
@login_required("staff")
def export(batch_id: int):
    try:
        version = parse(VersionForm, request.form)["version"]
        with school_uow() as (uow, actor):
            result = batches.export_batch(uow, actor, batch_id, batch_files.school_export_dir(uow, export_root()),
                                          expected_version=version, now=now())
    except FIXABLE as error:
        return _detail_page(batch_id, error=error.message, status=error.status)
    flash(f"已匯出名冊（名冊別 {result.roster_type.label}）：{result.rows} 筆、檔案 {result.files} 個。"
          "請下載後上傳至中央資料庫，完成後按「確認已上傳中央資料庫」。", "success")
    return redirect(url_for(".detail", batch_id=batch_id))


def _submit_page(batch_id: int, *, error: str | None = None, status: int = 200):
    with school_uow() as (uow, actor):
        detail = batch_files.batch_detail(uow, actor, batch_id, export_root(), now=now())
        return render_template("batches/submit.html", batch=detail, error=error), status


@bp.get("/<int:batch_id>/submit")
@login_required("staff")
def confirm_submit(batch_id: int):
    return _submit_page(batch_id)


@bp.post("/<int:batch_id>/submit")
@login_required("staff")
def submit(batch_id: int):
    try:
        form = parse(SubmitForm, request.form)
        if form["confirm"] != "yes":
            return _submit_page(batch_id, status=400,
                                error="請先勾選「已將名冊與檔案上傳至中央資料庫」再確認；批次沒有變更。")
        with school_uow() as (uow, actor):
            batches.submit_batch(uow, actor, batch_id, expected_version=form["version"], now=now())
    except FIXABLE as error:
        return _detail_page(batch_id, error=error.message, status=error.status)
    flash(f"批次 #{batch_id} 已確認上傳中央資料庫；收到中央資料庫的收訖明細後請於本頁匯入。", "success")
    return redirect(url_for(".detail", batch_id=batch_id))


@bp.post("/<int:batch_id>/cancel")
@login_required("staff")
def cancel(batch_id: int):
    try:
        form = parse(CancelForm, request.form)
        reason = text_field(form["reason"], field="reason", label="取消原因", max_chars=REASON_MAX, required=True)
        with school_uow() as (uow, actor):
            batches.cancel_batch(uow, actor, batch_id, reason=reason, expected_version=form["version"], now=now())
    except FIXABLE as error:
        return _detail_page(batch_id, error=error.message, status=error.status, draft=request.form.to_dict())
    flash(f"批次 #{batch_id} 已取消；其中的學生與項目可以放入新的批次。", "success")
    return redirect(url_for(".detail", batch_id=batch_id))


@bp.post("/<int:batch_id>/resubmission")
@login_required("staff")
def resubmission(batch_id: int):
    try:
        with school_uow() as (uow, actor):
            new_id = batches.create_resubmission_batch(uow, actor, batch_id, now=now()).id
    except FIXABLE as error:
        return _detail_page(batch_id, error=error.message, status=error.status)
    flash(f"已建立重新提交批次 #{new_id}（原批次 #{batch_id}）。", "success")
    return redirect(url_for(".detail", batch_id=new_id))


@bp.post("/<int:batch_id>/receipts")
@login_required("staff")
def import_receipt_file(batch_id: int):
    draft = request.form.to_dict()
    try:
        form = parse(ReceiptForm, request.form)
        upload = upload_of(request.files.get("receipt_file"))
        if upload is None:
            raise InvalidInput("請選擇收訖明細檔案（CSV 或 XLSX）。", field="receipt_file")
        data = upload.stream.read()
        with school_uow() as (uow, actor):
            window_id = form["window_id"]
            if window_id is None:  # the batch's own dates, set in the same transaction as the import
                if form["first_day"] is None or form["last_day"] is None:
                    raise InvalidInput("請選擇收訖明細確認期間，或填寫本批次的開始日與結束日。", field="window_id")
                window_id = calendar.define_batch_window(uow, actor, batch_id, form["first_day"],
                                                         form["last_day"], now=now()).id
            result = import_receipts(uow, actor, batch_id, data, upload.filename,
                                     confirmation_window_id=window_id, expected_version=form["version"],
                                     now=now())
    except ReceiptImportRejected as rejected:
        return _detail_page(batch_id, error=rejected.message, status=rejected.status,
                            problems=batch_files.problem_rows(rejected.errors), draft=draft)
    except (*FIXABLE, Forbidden) as error:  # Forbidden: shown on the form, what was typed kept
        return _detail_page(batch_id, error=error.message, status=error.status, draft=draft)
    flash(f"已匯入收訖明細：學生 {result.receipts} 位、項目 {result.items} 件；已開放學生確認。", "success")
    return redirect(url_for(".detail", batch_id=batch_id))


# --------------------------------------------------------------------------- downloads


def _export(batch_id: int) -> batch_files.ExportFiles:
    with school_uow() as (uow, actor):
        return batch_files.export_files(uow, actor, batch_id, export_root(), now=now())


@bp.get("/<int:batch_id>/download/workbook")
@login_required("staff")
def download_workbook(batch_id: int):
    export = _export(batch_id)
    response = send_file(export.workbook, mimetype=XLSX, as_attachment=True, download_name=export.workbook.name)
    response.headers.update(NO_STORE)
    return response


@bp.get("/<int:batch_id>/download/manifest")
@login_required("staff")
def download_manifest(batch_id: int):
    export = _export(batch_id)
    response = send_file(export.manifest, mimetype="application/json", as_attachment=True,
                         download_name=f"{export.directory.name}-manifest.json")
    response.headers.update(NO_STORE)
    return response


@bp.get("/<int:batch_id>/download/zip")
@login_required("staff")
def download_zip(batch_id: int):
    export = _export(batch_id)
    return Response(batch_files.zip_stream(export), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{export.zip_name}"', **NO_STORE})

