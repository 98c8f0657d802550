"""The working group's pages 工作小組: the self-check form 自我檢核表 (tick, add and edit rows, a
printable view) and the records of trainings, workshops and parent sessions.

Thin: parse the form, call workflows/school/self_check.py and workflows/school/trainings.py
(which decide who may read and who may edit), render. Refusals are shown on the page the person was on."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import fields

from web.context import login_required, now, school_uow
from web.forms import Form, one_message, parse
from web.params import YEAR_MAX, YEAR_MIN, Int
from workflows.school import self_check, trainings
from workflows.core.clock import academic_year_of, roc_date, taipei_date
from workflows.core.errors import Conflict, InvalidInput, NotFound, RuleViolation

bp = Blueprint("working_group", __name__, url_prefix="/staff/working-group")

FIXABLE = (InvalidInput, RuleViolation, Conflict, NotFound)


class TickForm(Form):
    version = Int(label="頁面上的版本", required=True, error_messages=one_message("頁面資料不完整，請重新載入頁面後再試。"))
    planned = fields.String(load_default="")
    done = fields.String(load_default="")
    done_on = fields.String(load_default="")


class ItemForm(Form):
    version = Int(label="頁面上的版本", load_default=None, error_messages=one_message("頁面資料不完整，請重新載入頁面後再試。"))
    task = fields.String(load_default="")
    owner = fields.String(load_default="")
    planned_month = fields.String(load_default="")
    national_date = fields.String(load_default="")


class YearForm(Form):
    """The school year a page shows or a form acts in: in the query, or a form's hidden field."""

    academic_year = Int(label="學年度（民國年，例如 114）", low=YEAR_MIN, high=YEAR_MAX, load_default=None)


class DeleteForm(Form):
    """A training record's deletion: the reason as typed (trainings.delete_session checks it)."""

    reason = fields.String(load_default="")


class TrainingForm(Form):
    kind = fields.String(load_default="")
    held_on = fields.String(load_default="")
    title = fields.String(load_default="")
    audience = fields.String(load_default="")
    attendees = fields.String(load_default="")


def _year() -> int:
    return parse(YearForm, request.values)["academic_year"] or academic_year_of(taipei_date(now()))


def _self_check_page(template: str = "working_group/self_check.html", *, error: str | None = None,
                     status: int = 200, draft: dict | None = None):
    year = _year()
    with school_uow() as (uow, actor):
        view = self_check.overview(uow, actor, year, now=now())
        return render_template(template, view=view, school=uow.school, roc_date=roc_date, error=error,
                               draft=draft or {}, months=range(1, 13)), status


def _back(message: str, year: int):
    flash(message, "success")
    return redirect(url_for(".self_check", academic_year=year))


@bp.get("/self-check", endpoint="self_check")
@bp.get("", endpoint="home")
@login_required("staff")
def self_check_page():
    return _self_check_page()


@bp.get("/self-check/print")
@login_required("staff")
def print_view():
    return _self_check_page("working_group/print.html")


@bp.post("/self-check/prefill")
@login_required("staff")
def prefill():
    year = _year()
    with school_uow() as (uow, actor):
        ids = self_check.prefill(uow, actor, year, now=now())
    return _back(f"已依範例建立 {year} 學年度自我檢核表（{len(ids)} 項）。", year)


@bp.post("/self-check/items/<int:item_id>/tick")
@login_required("staff")
def tick(item_id: int):
    year = _year()
    try:
        form = parse(TickForm, request.form)
        done = bool(form["done"])
        with school_uow() as (uow, actor):
            self_check.tick(uow, actor, item_id, planned=bool(form["planned"]), done=done,
                            done_on=(form["done_on"] or None) if done else None,
                            expected_version=form["version"], now=now())
    except FIXABLE as error:
        return _self_check_page(error=error.message, status=error.status)
    return _back("已更新自我檢核項目。", year)


@bp.post("/self-check/items")
@login_required("staff")
def add_item():
    year = _year()
    try:
        form = parse(ItemForm, request.form)
        with school_uow() as (uow, actor):
            self_check.add_item(uow, actor, year, task=form["task"], owner=form["owner"],
                                planned_month=form["planned_month"], national_date=form["national_date"],
                                now=now())
    except FIXABLE as error:
        return _self_check_page(error=error.message, status=error.status, draft=request.form.to_dict())
    return _back("已新增自我檢核項目。", year)


@bp.post("/self-check/items/<int:item_id>")
@login_required("staff")
def edit_item(item_id: int):
    year = _year()
    try:
        form = parse(ItemForm, request.form)
        with school_uow() as (uow, actor):
            self_check.edit_item(uow, actor, item_id, task=form["task"], owner=form["owner"],
                                 planned_month=form["planned_month"], national_date=form["national_date"],
                                 expected_version=form["version"], now=now())
    except FIXABLE as error:
        return _self_check_page(error=error.message, status=error.status)
    return _back("已修改自我檢核項目。", year)


def _trainings_page(*, error: str | None = None, status: int = 200, draft: dict | None = None):
    year = _year()
    with school_uow() as (uow, actor):
        rows = trainings.sessions(uow, actor, year)
        missing = [(kind, trainings.KIND_LABELS[kind]) for kind in trainings.missing_kinds(uow, year)]
        return render_template("working_group/trainings.html", rows=rows, year=year, missing=missing,
                               can_edit=trainings.can_edit(actor), kinds=trainings.KIND_LABELS,
                               roc_date=roc_date, error=error, draft=draft or {}), status


@bp.get("/trainings")
@login_required("staff")
def trainings_page():
    return _trainings_page()


@bp.post("/trainings")
@login_required("staff")
def record_training():
    try:
        form = parse(TrainingForm, request.form)
        with school_uow() as (uow, actor):
            trainings.record_session(uow, actor, kind=form["kind"], held_on=form["held_on"], title=form["title"],
                                     audience=form["audience"], attendees=form["attendees"], now=now())
        year = academic_year_of(date.fromisoformat(form["held_on"].strip()))  # valid: it was recorded
    except FIXABLE as error:
        return _trainings_page(error=error.message, status=error.status, draft=request.form.to_dict())
    flash("已登錄研習、宣導紀錄。", "success")
    return redirect(url_for(".trainings_page", academic_year=year))


@bp.post("/trainings/<int:session_id>/delete")
@login_required("staff")
def delete_training(session_id: int):
    year = _year()
    try:
        with school_uow() as (uow, actor):
            trainings.delete_session(uow, actor, session_id, reason=parse(DeleteForm, request.form)["reason"],
                                     now=now())
    except FIXABLE as error:
        return _trainings_page(error=error.message, status=error.status)
    flash("已刪除研習、宣導紀錄。", "success")
    return redirect(url_for(".trainings_page", academic_year=year))
