"""Student pages 學生頁面: my items by year and semester, upload, submit, withdraw, edit, delete,
resubmit, select, unselect, receipts. Guardians reach the same pages for their linked students.

Every action is a POST that calls one use case. Success: back to the page with a flash. A refusal
the person can act on (a rule, a window, a state, a stale page, a view-only guardian) re-renders
the page with the reason in Chinese and the use case's status (4xx), keeping what was typed;
nothing stored changes. Someone else's student, item or receipt answers 404.
"""
from __future__ import annotations

import tempfile
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from states import MACHINES, event_label, state_label
from web.context import current_account, login_required, now, school_uow
from web.forms import (EditForm, OutcomeUploadForm, PerformanceUploadForm, ReceiptAnswerForm,
                       VersionForm, parse, upload_of)
from web.files import chunks
from workflows.items import certification, self_download, selection, uploads
from workflows.central import receipts as receipt_cases
from workflows.people.access import require_student
from workflows.core.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, RuleViolation, StorageFailed
from workflows.central.portfolio_view import (require_student_item, require_student_receipt,
                                      student_item, student_portfolio, student_receipts,
                                      upload_limits)

bp = Blueprint("student", __name__, url_prefix="/students")

# Refusals a person can understand and act on; NotFound (someone else's data) and CorruptState
# go to the app's error page.
FIXABLE = (RuleViolation, InvalidInput, InvalidTransition, Conflict, Forbidden, StorageFailed)

ITEM_ACTIONS = {
    "submit": (certification.submit, "已送出認證，請等候任課教師認證。"),
    "withdraw": (certification.withdraw, "已撤回，項目回到草稿，可以修改後再送出認證。"),
    "resubmit": (certification.resubmit, "已重新送出認證，請等候任課教師認證。"),
    "select": (selection.select, "已勾選，這個項目將提交至中央資料庫。"),
    "unselect": (selection.unselect, "已取消勾選。"),
    "delete": (uploads.delete_item, "已刪除。"),
}


def words(error) -> str:
    """The refusal as a student reads it. A state refusal names the state and the move in
    Chinese only (the use case's message also lists event ids and the teachers' moves)."""
    if isinstance(error, InvalidTransition):
        kind, state, event = (error.details.get(k) for k in ("kind", "state", "event"))
        machine = MACHINES[kind]
        noun = "這份收訖明細" if kind == "receipt" else "這個項目"
        return (f"{noun}目前是「{state_label(machine, state)}」，不能「{event_label(machine, event)}」；"
                f"可能已經處理過，請看頁面上最新的狀態。")
    return error.message


def _done(message: str) -> None:
    account = current_account()
    if account is not None and account.kind == "guardian":
        message += "（已記錄為家長代理學生操作）"
    flash(message, "success")


# --------------------------------------------------------------------------- items


def _items_page(student_id: int, *, error: str | None = None, status: int = 200,
                draft: dict | None = None):
    with school_uow() as (uow, actor):
        portfolio = student_portfolio(uow, actor, student_id, now=now())
        return render_template("student/items.html", p=portfolio, student=portfolio.student,
                               error=error, draft=draft or {}), status


def _refused_on_items(student_id: int, error) -> tuple:
    # What was typed, shown again in the form it came from (the template matches its "form").
    return _items_page(student_id, error=words(error), status=error.status, draft=request.form.to_dict())


@bp.get("/<int:student_id>/items")
@login_required()
def items(student_id: int):
    return _items_page(student_id)


@bp.get("/<int:student_id>/portfolio.zip")
@login_required()
def portfolio_download(student_id: int):
    """個人學習歷程下載: the whole portfolio as one zip. Built in a temporary file first, so a
    damaged stored file stops the download before anything is sent."""
    out = tempfile.TemporaryFile()
    try:
        with school_uow() as (uow, actor):
            summary = self_download.portfolio_zip(uow, actor, student_id, out, now=now())
    except BaseException:
        out.close()
        raise
    out.seek(0)
    name = f"學習歷程檔案_{summary.student_no}.zip"
    response = Response(chunks(out), mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"portfolio-{summary.student_no}.zip\"; filename*=UTF-8''{quote(name)}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/<int:student_id>/items/<int:item_id>/<any(submit, withdraw, resubmit, select, unselect, delete):event>")
@login_required()
def act(student_id: int, item_id: int, event: str):
    use_case, done = ITEM_ACTIONS[event]
    try:
        with school_uow() as (uow, actor):
            require_student_item(uow, actor, student_id, item_id)
            values = parse(VersionForm, request.form)
            use_case(uow, actor, item_id, expected_version=values["version"], now=now())
    except FIXABLE as error:
        return _refused_on_items(student_id, error)
    _done(done)
    return redirect(url_for(".items", student_id=student_id, _anchor=f"item-{item_id}"))


def _upload(student_id: int, form: type, use_case, done: str):
    """上傳: the form's fields are the use case's keywords; the files come as document and media."""
    try:
        with school_uow() as (uow, actor):
            require_student(uow, actor, student_id)
            item_id = use_case(uow, actor, student_id=student_id, **parse(form, request.form),
                               document=upload_of(request.files.get("document")),
                               media=upload_of(request.files.get("media")), now=now())
    except FIXABLE as error:
        return _refused_on_items(student_id, error)
    _done(done)
    return redirect(url_for(".items", student_id=student_id, _anchor=f"item-{item_id}"))


@bp.post("/<int:student_id>/outcomes")
@login_required()
def upload_outcome(student_id: int):
    return _upload(student_id, OutcomeUploadForm, uploads.upload_course_outcome,
                   "已上傳課程學習成果（草稿）；確認內容後請按「送出認證」。")


@bp.post("/<int:student_id>/performances")
@login_required()
def upload_performance(student_id: int):
    return _upload(student_id, PerformanceUploadForm, uploads.upload_performance, "已上傳多元表現。")


# --------------------------------------------------------------------------- edit


def _edit_page(student_id: int, item_id: int, *, error: str | None = None, status: int = 200,
               draft: dict | None = None):
    with school_uow() as (uow, actor):
        item = student_item(uow, actor, student_id, item_id, now=now())
        student = require_student(uow, actor, student_id)
        return render_template("student/edit.html", item=item, student=student,
                               limits=upload_limits(uow.policy)[item.kind], error=error,
                               draft=draft), status


@bp.get("/<int:student_id>/items/<int:item_id>/edit")
@login_required()
def edit(student_id: int, item_id: int):
    return _edit_page(student_id, item_id)


@bp.post("/<int:student_id>/items/<int:item_id>/edit")
@login_required()
def save(student_id: int, item_id: int):
    try:
        with school_uow() as (uow, actor):
            require_student_item(uow, actor, student_id, item_id)
            values = parse(EditForm, request.form)
            changes = {"title": values["title"], "description": values["description"]}
            if values["external_link"] is not None:
                changes["external_link"] = values["external_link"]
            for slot in ("document", "media"):
                upload = upload_of(request.files.get(slot))
                if upload is not None:
                    changes[slot] = upload
                elif values[f"remove_{slot}"]:
                    changes[slot] = None
            edited = uploads.edit_item(uow, actor, item_id, expected_version=values["version"],
                                       now=now(), **changes)
    except FIXABLE as error:
        return _edit_page(student_id, item_id, error=words(error), status=error.status,
                          draft=request.form.to_dict())
    _done("已儲存修改；因為更換了檔案，原本的認證已失效，請再按「送出認證」。" if edited.voided_certification
          else "已儲存修改。")
    return redirect(url_for(".items", student_id=student_id, _anchor=f"item-{item_id}"))


# --------------------------------------------------------------------------- receipts


def _receipts_page(student_id: int, *, error: str | None = None, status: int = 200,
                   draft: dict | None = None):
    with school_uow() as (uow, actor):
        page = student_receipts(uow, actor, student_id, now=now())
        return render_template("student/receipts.html", page=page, student=page.student,
                               error=error, draft=draft or {}), status


@bp.get("/<int:student_id>/receipts")
@login_required()
def receipts(student_id: int):
    return _receipts_page(student_id)


@bp.post("/<int:student_id>/receipts/<int:receipt_id>/<any(confirm, dispute):event>")
@login_required()
def answer(student_id: int, receipt_id: int, event: str):
    try:
        with school_uow() as (uow, actor):
            require_student_receipt(uow, actor, student_id, receipt_id)
            values = parse(ReceiptAnswerForm, request.form)
            if event == "confirm":
                receipt_cases.confirm(uow, actor, receipt_id, expected_version=values["version"], now=now())
            else:
                receipt_cases.dispute(uow, actor, receipt_id, reason=values["reason"],
                                      expected_version=values["version"], now=now())
    except FIXABLE as error:
        return _receipts_page(student_id, error=words(error), status=error.status,
                              draft={"receipt": receipt_id, **request.form.to_dict()})
    _done("已確認收訖明細，謝謝。" if event == "confirm"
          else "已提出疑義，學校承辦單位會處理並與你聯繫。")
    return redirect(url_for(".receipts", student_id=student_id, _anchor=f"receipt-{receipt_id}"))
