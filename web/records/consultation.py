"""Pages of the course consultation records 課程諮詢紀錄: a term's records with the entry form and
the CSV upload, one record's correct and delete forms, its file, and the CSV template.

Thin: parse the form, call workflows/records/consultation.py, render. A refusal the person can act
on re-renders the page with the reason and what was typed; nothing stored changes."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, flash, redirect, render_template, request, url_for
from marshmallow import fields

from web.context import files, login_required, now, school_uow
from web.files import MEDIA_TYPES, chunks
from web.forms import Form, VersionForm, one_message, parse, upload_of
from web.params import YEAR_MAX, YEAR_MIN, Int
from web.records.common import FIXABLE, DeleteForm, bp
from workflows.core.clock import semester_of, taipei_date
from workflows.core.errors import InvalidInput
from workflows.central.portfolio_view import ACCEPT
from workflows.records import consultation as records
from workflows.records.engine import RowsRejected, student_of

LIMITS = {"place_max": records.PLACE_MAX, "text_max": records.TEXT_MAX, "file_limit": records.FILE_LIMIT_TEXT,
          "accept": ",".join(part for kind in records.FILE_RULE.kinds for part in ACCEPT[kind])}


class TermQuery(Form):
    academic_year = Int(label="學年度", low=YEAR_MIN, high=YEAR_MAX, load_default=None,
                        error_messages=one_message("學年度須為數字（例如 114）。"))
    semester = Int(label="學期", high=2, load_default=None, error_messages=one_message("學期須為 1 或 2。"))


class ConsultationForm(VersionForm):
    student_no = fields.String(load_default="")
    held_on = fields.Date(required=True, error_messages=one_message("請填寫諮詢日期（例如 2025-10-30）。"))
    held_time = fields.Time(required=True, error_messages=one_message("請填寫諮詢時間（24 小時制，例如 14:30）。"))
    place = fields.String(load_default="")
    content = fields.String(load_default="")
    advice = fields.String(load_default="")
    consultant_id = Int(label="課程諮詢教師", low=1, load_default=None, error_messages=one_message("請選擇課程諮詢教師。"))
    remove_file = fields.Boolean(load_default=False)


class ConsultationImportForm(Form):
    consultant_id = Int(label="課程諮詢教師", low=1, load_default=None, error_messages=one_message("請選擇課程諮詢教師。"))


def term() -> tuple[int, int]:
    """The term the page shows: the one asked for, else today's (Taipei)."""
    asked = parse(TermQuery, request.values)
    current = semester_of(taipei_date(now()))
    return asked["academic_year"] or current[0], asked["semester"] or current[1]


def _list_page(*, error: str | None = None, status: int = 200, draft: dict | None = None,
               row_errors: list | None = None):
    year, semester = term()
    with school_uow() as (uow, actor):
        views = records.list_consultations(uow, actor, academic_year=year, semester=semester, now=now())
        choices = records.enter_choices(uow, actor, now=now())
        return render_template("records/consultation/list.html", views=views, year=year, semester=semester,
                               choices=choices, error=error, draft=draft or {}, row_errors=row_errors or [],
                               **LIMITS), status


def _back_to_list(year: int, semester: int, record_id: int | None = None):
    return redirect(url_for("records.consultation_list", academic_year=year, semester=semester,
                            _anchor=f"record-{record_id}" if record_id else None))


@bp.get("/consultation")
@login_required("staff")
def consultation_list():
    return _list_page()


@bp.post("/consultation")
@login_required("staff")
def consultation_enter():
    try:
        with school_uow() as (uow, actor):
            values = parse(ConsultationForm, request.form)
            student = student_of(uow, student_no=values["student_no"])
            record = records.enter_consultation(
                uow, actor, student_id=student.id, held_at=records.held_at_of(values["held_on"], values["held_time"]),
                place=values["place"], content=values["content"], advice=values["advice"],
                file=upload_of(request.files.get("file")), for_consultant_id=values["consultant_id"], now=now())
    except FIXABLE as error:
        return _list_page(error=error.message, status=error.status, draft=request.form.to_dict())
    flash(f"已登錄{student.name}（{student.student_no}）的課程諮詢紀錄。", "success")
    return _back_to_list(record.academic_year, record.semester, record.id)


def _edit_page(record_id: int, *, error: str | None = None, status: int = 200, draft: dict | None = None):
    with school_uow() as (uow, actor):
        view = records.get_consultation(uow, actor, record_id, now=now())
        return render_template("records/consultation/edit.html", view=view, error=error, draft=draft,
                               **LIMITS), status


@bp.get("/consultation/<int:record_id>")
@login_required("staff")
def consultation_edit(record_id: int):
    return _edit_page(record_id)


@bp.post("/consultation/<int:record_id>/correct")
@login_required("staff")
def consultation_correct(record_id: int):
    try:
        with school_uow() as (uow, actor):
            values = parse(ConsultationForm, request.form)
            changes = {"held_at": records.held_at_of(values["held_on"], values["held_time"]),
                       "place": values["place"], "content": values["content"], "advice": values["advice"]}
            upload = upload_of(request.files.get("file"))
            if upload is not None:
                changes["file"] = upload
            elif values["remove_file"]:
                changes["file"] = None
            done = records.correct_consultation(uow, actor, record_id, expected_version=values["version"],
                                                now=now(), **changes)
    except FIXABLE as error:
        return _edit_page(record_id, error=error.message, status=error.status, draft=request.form.to_dict())
    flash(done.message, "success")
    return _back_to_list(done.record.academic_year, done.record.semester, record_id)


@bp.post("/consultation/<int:record_id>/delete")
@login_required("staff")
def consultation_delete(record_id: int):
    try:
        with school_uow() as (uow, actor):
            view = records.get_consultation(uow, actor, record_id, now=now())
            values = parse(DeleteForm, request.form)
            records.delete_consultation(uow, actor, record_id, reason=values["reason"],
                                        expected_version=values["version"], now=now())
    except FIXABLE as error:
        return _edit_page(record_id, error=error.message, status=error.status,
                          draft=request.form.to_dict())
    flash(f"已刪除{view.student_name}（{view.student_no}）的課程諮詢紀錄；刪除原因已記錄。", "success")
    return _back_to_list(view.academic_year, view.semester)


@bp.get("/consultation/<int:record_id>/file")
@login_required("staff")
def consultation_file(record_id: int):
    with school_uow() as (uow, actor):
        ref = records.consultation_file(uow, actor, record_id, now=now())
    response = Response(chunks(files().open(ref.sha256)),
                        mimetype=MEDIA_TYPES.get(ref.kind, "application/octet-stream"))
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(ref.name)}"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/consultation/import")
@login_required("staff")
def consultation_import():
    upload = request.files.get("csv")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("請選擇要匯入的 CSV 檔案。", field="csv")
        with school_uow() as (uow, actor):
            values = parse(ConsultationImportForm, request.form)
            counts = records.import_consultations(uow, actor, upload.read(),
                                                   for_consultant_id=values["consultant_id"], now=now())
    except RowsRejected as error:
        return _list_page(error=error.message, status=error.status, row_errors=error.errors)
    except FIXABLE as error:
        return _list_page(error=error.message, status=error.status)
    flash(counts.message, "success")
    return _back_to_list(*term())


@bp.get("/consultation/template.csv")
@login_required("staff")
def consultation_template():
    return csv_download(records.csv_template(), "課程諮詢紀錄匯入範本.csv")


def csv_download(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response
