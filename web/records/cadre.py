"""Cadre record pages 幹部紀錄 (訓育組): the term's list with filters, a form to enter one record,
a per-record correct form carrying the version it showed, delete with a reason, and a CSV upload
that shows every row error and imports nothing on error; the CSV template to fill in.

`RecordPages` is the page logic every kind an office enters shares (grades.py uses it too); each
kind's module only names its routes. Thin: parse the request, call workflows/records, render.
A refusal the clerk can act on re-renders the page with the reason and what was typed; a stale
page says so and keeps the input; Forbidden and NotFound go to the error page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask import Response, flash, redirect, render_template, request, url_for
from marshmallow import fields

from web.context import login_required, now, school_uow
from web.forms import Form, VersionForm, parse
from web.params import YEAR_MAX, YEAR_MIN, integer
from web.records.common import FIXABLE, DeleteForm, bp
from workflows.core.clock import roc_date, semester_of, taipei_date
from workflows.core.errors import Conflict
from workflows.records import cadre
from workflows.records.engine import RowsRejected


def term_args() -> dict:
    """?academic_year=114&semester=1&class_name=101; by default the current term (Taipei)."""
    year, semester = semester_of(taipei_date(now()))
    year = integer(request.args.get("academic_year"), field="academic_year", label="學年度", low=YEAR_MIN,
                   high=YEAR_MAX, default=year)
    semester = integer(request.args.get("semester"), field="semester", label="學期", high=2, default=semester)
    return {"academic_year": str(year), "semester": str(semester),
            "class_name": (request.args.get("class_name") or "").strip() or None}


def _kept(term: dict) -> dict:
    """The term as query arguments for links and form actions."""
    return {key: value for key, value in term.items() if value}


def _as_typed(keys) -> dict:
    """Form fields taken as typed (missing: ""): the workflow parses the clerk's text and says what is wrong."""
    return {key: fields.String(load_default="") for key in keys}


@dataclass(frozen=True)
class RecordPages:
    prefix: str                      # endpoints records.<prefix>_list, _enter, _edit ...
    templates: str                   # folder with list.html and edit.html
    label: str                       # 幹部紀錄, 學業成績
    editable: tuple[str, ...]        # the form fields the workflow takes
    listing: Callable
    getting: Callable
    may_enter: Callable
    entering: Callable
    correcting: Callable
    deleting: Callable
    importing: Callable
    csv_template: Callable[[], bytes]
    filename: str
    choices: dict = field(default_factory=dict)  # option lists for the templates
    entry_form: type[Form] = field(init=False)       # the student's number and the editable fields
    correction_form: type[Form] = field(init=False)  # the editable fields and the version shown

    def __post_init__(self):
        # The kind's forms, built once from its fields (not per request).
        name = self.prefix.capitalize()
        object.__setattr__(self, "entry_form", Form.from_dict(
            _as_typed(("student_no", *self.editable)), name=f"{name}EntryForm"))
        object.__setattr__(self, "correction_form", VersionForm.from_dict(
            _as_typed(self.editable), name=f"{name}CorrectionForm"))

    def _endpoint(self, name: str) -> str:
        return f"records.{self.prefix}_{name}"

    def _render(self, page: str, status: int, **context):
        return render_template(f"{self.templates}/{page}.html", pages=self, roc_date=roc_date,
                               **self.choices, **context), status

    # -- list, enter, import ----------------------------------------------------------------

    def list_page(self, *, error: str | None = None, row_errors=(), status: int = 200, draft: dict | None = None):
        term = term_args()
        with school_uow() as (uow, actor):
            rows = self.listing(uow, actor, **term, now=now())
            can_enter = self.may_enter(uow, actor, now=now())
            return self._render("list", status, rows=rows, term=term, kept=_kept(term), can_enter=can_enter,
                                error=error, row_errors=row_errors, draft=draft or {})

    def enter(self):
        try:
            values = parse(self.entry_form, request.form)
            with school_uow() as (uow, actor):
                record = self.entering(uow, actor, now=now(), **values)
        except FIXABLE as error:
            return self.list_page(error=error.message, status=error.status, draft=request.form.to_dict())
        flash(f"已登錄{self.label}（編號 {record.id}）。", "success")
        return redirect(url_for(self._endpoint("list"), academic_year=record.academic_year,
                                semester=record.semester, _anchor=f"record-{record.id}"))

    def import_file(self):
        upload = request.files.get("file")
        try:
            with school_uow() as (uow, actor):
                counts = self.importing(uow, actor, upload.read() if upload else b"", now=now())
        except RowsRejected as error:
            return self.list_page(error=error.message, row_errors=error.errors, status=error.status)
        except FIXABLE as error:
            return self.list_page(error=error.message, status=error.status)
        flash(counts.message, "success")
        return redirect(url_for(self._endpoint("list"), **_kept(term_args())))

    def template_file(self):
        return Response(self.csv_template(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={self.filename}"})

    # -- one record ---------------------------------------------------------------------------

    def edit_page(self, record_id: int, *, error: str | None = None, status: int = 200,
                  draft: dict | None = None, stale: bool = False):
        with school_uow() as (uow, actor):
            row = self.getting(uow, actor, record_id, now=now())
            can_enter = self.may_enter(uow, actor, now=now())
            return self._render("edit", status, r=row, can_enter=can_enter, error=error, stale=stale,
                                draft=draft or {})

    def _refused(self, record_id: int, error):
        draft = request.form.to_dict()
        stale = isinstance(error, Conflict)
        if stale:  # the form now carries the stored version: sending it again is a deliberate choice
            draft.pop("version", None)
        return self.edit_page(record_id, error=error.message, status=error.status, draft=draft, stale=stale)

    def correct(self, record_id: int):
        try:
            values = parse(self.correction_form, request.form)
            version = values.pop("version")
            with school_uow() as (uow, actor):
                done = self.correcting(uow, actor, record_id, expected_version=version, now=now(), **values)
        except FIXABLE as error:
            return self._refused(record_id, error)
        flash(done.message, "success")
        record = done.record
        return redirect(url_for(self._endpoint("list"), academic_year=record.academic_year,
                                semester=record.semester, _anchor=f"record-{record.id}"))

    def delete(self, record_id: int):
        try:
            values = parse(DeleteForm, request.form)
            with school_uow() as (uow, actor):
                record = self.getting(uow, actor, record_id, now=now()).record
                self.deleting(uow, actor, record_id, expected_version=values["version"], reason=values["reason"],
                              now=now())
        except FIXABLE as error:
            return self._refused(record_id, error)
        flash(f"已刪除{self.label}（編號 {record_id}），刪除原因已記錄。", "success")
        return redirect(url_for(self._endpoint("list"), academic_year=record.academic_year,
                                semester=record.semester))


PAGES = RecordPages(
    prefix="cadre", templates="records/cadre", label="幹部紀錄", editable=cadre.EDITABLE,
    listing=cadre.list_cadre, getting=cadre.get_cadre, may_enter=cadre.may_enter_cadre,
    entering=cadre.enter_cadre, correcting=cadre.correct_cadre, deleting=cadre.delete_cadre,
    importing=cadre.import_cadre_csv, csv_template=cadre.cadre_csv_template, filename="cadre_records.csv",
    choices={"levels": cadre.LEVELS, "semesters": {1: "第 1 學期", 2: "第 2 學期"},
             "unit_max": cadre.UNIT_MAX, "position_max": cadre.POSITION_MAX})


@bp.get("/cadre")
@login_required("staff")
def cadre_list():
    return PAGES.list_page()


@bp.post("/cadre")
@login_required("staff")
def cadre_enter():
    return PAGES.enter()


@bp.post("/cadre/import")
@login_required("staff")
def cadre_import():
    return PAGES.import_file()


@bp.get("/cadre/template.csv")
@login_required("staff")
def cadre_template():
    return PAGES.template_file()


@bp.get("/cadre/<int:record_id>")
@login_required("staff")
def cadre_edit(record_id: int):
    return PAGES.edit_page(record_id)


@bp.post("/cadre/<int:record_id>")
@login_required("staff")
def cadre_correct(record_id: int):
    return PAGES.correct(record_id)


@bp.post("/cadre/<int:record_id>/delete")
@login_required("staff")
def cadre_delete(record_id: int):
    return PAGES.delete(record_id)
