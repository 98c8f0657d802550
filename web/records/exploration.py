"""Pages of career-group exploration 學群探索: a term's activities with the entry form and the CSV
upload, one record's correct and delete forms, and the CSV template.

Thin: parse the form, call workflows/records/exploration.py, render. A refusal the person can act
on re-renders the page with the reason and what was typed; nothing stored changes."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from marshmallow import fields

from web.context import login_required, now, school_uow
from web.forms import VersionForm, one_message, parse
from web.params import YEAR_MAX, YEAR_MIN, Int
from web.records.common import FIXABLE, DeleteForm, bp
from web.records.consultation import csv_download, term
from workflows.core.clock import roc_date
from workflows.core.errors import InvalidInput
from workflows.records import exploration as records
from workflows.records.engine import RowsRejected, student_of

LIMITS = {"activity_max": records.ACTIVITY_MAX, "notes_max": records.NOTES_MAX, "roc_date": roc_date,
          "groups": [(code, records.career_group_label(code)) for code in records.CAREER_GROUPS]}


class ExplorationForm(VersionForm):
    student_no = fields.String(load_default="")
    academic_year = Int(label="學年度", low=YEAR_MIN, high=YEAR_MAX, required=True,
                        error_messages=one_message("請填寫學年度（例如 114）。"))
    semester = Int(label="學期", high=2, required=True, error_messages=one_message("請選擇學期。"))
    held_on = fields.Date(required=True, error_messages=one_message("請填寫日期（例如 2025-10-30）。"))
    career_group = fields.String(load_default="")
    activity = fields.String(load_default="")
    notes = fields.String(load_default="")


def _list_page(*, error: str | None = None, status: int = 200, draft: dict | None = None,
               row_errors: list | None = None):
    year, semester = term()
    with school_uow() as (uow, actor):
        views = records.list_explorations(uow, actor, academic_year=year, semester=semester, now=now())
        return render_template("records/exploration/list.html", views=views, year=year, semester=semester,
                               may_enter=records.may_enter_exploration(uow, actor, now=now()), error=error,
                               draft=draft or {}, row_errors=row_errors or [], **LIMITS), status


def _back_to_list(year: int, semester: int, record_id: int | None = None):
    return redirect(url_for("records.exploration_list", academic_year=year, semester=semester,
                            _anchor=f"record-{record_id}" if record_id else None))


@bp.get("/exploration")
@login_required("staff")
def exploration_list():
    return _list_page()


def _fields(values: dict) -> dict:
    return {key: values[key] for key in ("academic_year", "semester", "held_on", "career_group", "activity", "notes")}


@bp.post("/exploration")
@login_required("staff")
def exploration_enter():
    try:
        with school_uow() as (uow, actor):
            values = parse(ExplorationForm, request.form)
            student = student_of(uow, student_no=values["student_no"])
            record = records.enter_exploration(uow, actor, student_id=student.id, now=now(), **_fields(values))
    except FIXABLE as error:
        return _list_page(error=error.message, status=error.status, draft=request.form.to_dict())
    flash(f"已登錄{student.name}（{student.student_no}）的學群探索紀錄。", "success")
    return _back_to_list(record.academic_year, record.semester, record.id)


def _edit_page(record_id: int, *, error: str | None = None, status: int = 200, draft: dict | None = None):
    with school_uow() as (uow, actor):
        view = records.get_exploration(uow, actor, record_id, now=now())
        return render_template("records/exploration/edit.html", view=view, error=error, draft=draft,
                               may_enter=records.may_enter_exploration(uow, actor, now=now()), **LIMITS), status


@bp.get("/exploration/<int:record_id>")
@login_required("staff")
def exploration_edit(record_id: int):
    return _edit_page(record_id)


@bp.post("/exploration/<int:record_id>/correct")
@login_required("staff")
def exploration_correct(record_id: int):
    try:
        with school_uow() as (uow, actor):
            values = parse(ExplorationForm, request.form)
            done = records.correct_exploration(uow, actor, record_id, expected_version=values["version"],
                                               now=now(), **_fields(values))
    except FIXABLE as error:
        return _edit_page(record_id, error=error.message, status=error.status, draft=request.form.to_dict())
    flash(done.message, "success")
    return _back_to_list(done.record.academic_year, done.record.semester, record_id)


@bp.post("/exploration/<int:record_id>/delete")
@login_required("staff")
def exploration_delete(record_id: int):
    try:
        with school_uow() as (uow, actor):
            view = records.get_exploration(uow, actor, record_id, now=now())
            values = parse(DeleteForm, request.form)
            records.delete_exploration(uow, actor, record_id, reason=values["reason"],
                                       expected_version=values["version"], now=now())
    except FIXABLE as error:
        return _edit_page(record_id, error=error.message, status=error.status,
                          draft=request.form.to_dict())
    flash(f"已刪除{view.student_name}（{view.student_no}）的學群探索紀錄；刪除原因已記錄。", "success")
    return _back_to_list(view.academic_year, view.semester)


@bp.post("/exploration/import")
@login_required("staff")
def exploration_import():
    upload = request.files.get("csv")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("請選擇要匯入的 CSV 檔案。", field="csv")
        with school_uow() as (uow, actor):
            counts = records.import_explorations(uow, actor, upload.read(), now=now())
    except RowsRejected as error:
        return _list_page(error=error.message, status=error.status, row_errors=error.errors)
    except FIXABLE as error:
        return _list_page(error=error.message, status=error.status)
    flash(counts.message, "success")
    return _back_to_list(*term())


@bp.get("/exploration/template.csv")
@login_required("staff")
def exploration_template():
    return csv_download(records.csv_template(), "學群探索紀錄匯入範本.csv")
