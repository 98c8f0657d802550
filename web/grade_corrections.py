"""Grade-correction pages 成績更正 (issue 6): my queue (requests waiting for my signature) and the
others I may read, the request form (students by 學號; a blank old grade is taken from the stored
grade), a request's page with the signature and send-back buttons the machine and the signer table
allow, and the printable 學生學業成績更正申請表.

Thin: who may sign what is workflows/records/grade_corrections.py's."""
from __future__ import annotations

import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import fields

from web.context import login_required, now, school_uow
from web.forms import Form, parse
from web.params import Int
from workflows.records import grade_corrections as gc
from workflows.core.clock import academic_year_of, taipei_date
from workflows.core.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, RuleViolation
from workflows.core.fields import REASON_MAX

bp = Blueprint("grade_corrections", __name__, url_prefix="/staff/grade-corrections")

FIXABLE = (RuleViolation, InvalidInput, InvalidTransition, Conflict)
FIELDS = ("academic_year", "semester", "subject", "course_code", "teacher_id", "kind", "exam_no", "reason",
          "explanation")
_SPLIT = re.compile(r"[\s,，、;；]+")


class SignForm(Form):
    """A request's action button: the request's version the page showed (a stale page is refused)."""

    version = Int(label="頁面上的申請版本", load_default=None)


class ReasonForm(SignForm):
    """A send-back or a withdrawal, with its reason as typed (the workflow checks it)."""

    reason = fields.String(load_default="")


# A request as typed: the workflow reads its numbers, codes and students' lines, naming the field in error.
DraftForm = Form.from_dict({key: fields.String(load_default="") for key in (*FIELDS, "lines")}, name="DraftForm")


class EditForm(DraftForm, SignForm):
    """A request changed: as typed, with the request's version the page showed."""


def _lines(text: str) -> list[gc.LineInput]:
    """One student a line: 「學號 更改後成績」 or 「學號 原成績 更改後成績」."""
    found = []
    for raw in (text or "").splitlines():
        parts = [p for p in _SPLIT.split(raw.strip()) if p]
        if not parts:
            continue
        if len(parts) == 1:
            found.append(gc.LineInput(parts[0], None))
        elif len(parts) == 2:
            found.append(gc.LineInput(parts[0], parts[1]))
        else:
            found.append(gc.LineInput(parts[0], parts[2], parts[1]))
    return found


def _prefilled(uow, actor, form: dict) -> str:
    """The students' text with each blank old grade filled from the stored grade, where found."""
    out = []
    for line in _lines(form.get("lines", "")):
        old = line.old_grade
        if old in (None, ""):
            try:
                old = gc.prefill(uow, actor, academic_year=form.get("academic_year"), semester=form.get("semester"),
                                 kind=form.get("kind", "exam"), subject=form.get("subject", ""),
                                 course_code=form.get("course_code"), student_no=line.student_no)
            except (ValueError, TypeError):
                old = None
        out.append(" ".join(str(v) for v in (line.student_no, "" if old is None else old,
                                              "" if line.new_grade is None else line.new_grade)).replace("  ", " "))
    return "\n".join(out)


def _form_page(form: dict, *, request_id: int | None = None, error: str | None = None, status: int = 200):
    with school_uow() as (uow, actor):
        if not gc.may_draft(uow, actor, now=now()) and request_id is None:
            raise Forbidden("只有任課教師、註冊組（或其代理人）可以填寫成績更正申請。")
        if request.args.get("prefill"):
            form = {**form, "lines": _prefilled(uow, actor, form)}
        return render_template("grade_corrections/form.html", form=form, request_id=request_id, error=error,
                               teachers=gc.teachers(uow), kinds=gc.KINDS, reasons=gc.REASONS,
                               semesters=gc.SEMESTERS), status


def _values(form: dict) -> dict:
    return {key: form[key] for key in FIELDS} | {"lines": _lines(form["lines"])}


@bp.get("")
@login_required("staff")
def index():
    with school_uow() as (uow, actor):
        found = gc.queue(uow, actor, now=now())
        return render_template("grade_corrections/index.html", queue=found,
                               may_draft=gc.may_draft(uow, actor, now=now()))


@bp.get("/new")
@login_required("staff")
def new():
    form = request.args.to_dict()
    if not form.get("academic_year"):
        today = taipei_date(now())
        form.setdefault("academic_year", str(academic_year_of(today)))
    return _form_page(form)


@bp.post("")
@login_required("staff")
def create():
    try:
        with school_uow() as (uow, actor):
            made = gc.draft(uow, actor, now=now(), **_values(parse(DraftForm, request.form)))
    except FIXABLE as error:
        return _form_page(request.form.to_dict(), error=error.message, status=error.status)
    flash(f"已建立成績更正申請第 {made.id} 號，請授課教師簽章。", "success")
    return redirect(url_for(".show", request_id=made.id))


def _detail_page(request_id: int, *, error: str | None = None, status: int = 200):
    with school_uow() as (uow, actor):
        detail = gc.detail(uow, actor, request_id, now=now())
        return render_template("grade_corrections/detail.html", d=detail, error=error, reason_max=REASON_MAX,
                               semesters=gc.SEMESTERS, history_label=gc.history_label,
                               state_text=lambda state: gc.state_label(gc.MACHINE, state)), status


@bp.get("/<int:request_id>")
@login_required("staff")
def show(request_id: int):
    return _detail_page(request_id)


@bp.get("/<int:request_id>/edit")
@login_required("staff")
def edit_form(request_id: int):
    with school_uow() as (uow, actor):
        detail = gc.detail(uow, actor, request_id, now=now())
        r = detail.request
        form = {key: "" if getattr(r, key) is None else str(getattr(r, key)) for key in FIELDS}
        form["version"] = str(r.version)
        form["lines"] = "\n".join(f"{v.student_no} {'' if v.line.old_grade is None else v.line.old_grade} "
                                  f"{v.line.new_grade}" for v in detail.lines)
    return _form_page(request.args.to_dict() or form, request_id=request_id)


@bp.post("/<int:request_id>/edit")
@login_required("staff")
def edit(request_id: int):
    try:
        with school_uow() as (uow, actor):
            form = parse(EditForm, request.form)
            gc.edit(uow, actor, request_id, expected_version=form["version"], now=now(), **_values(form))
    except FIXABLE as error:
        return _form_page(request.form.to_dict(), request_id=request_id, error=error.message, status=error.status)
    flash("已修改申請。", "success")
    return redirect(url_for(".show", request_id=request_id))


@bp.post("/<int:request_id>/sign")
@login_required("staff")
def sign(request_id: int):
    try:
        with school_uow() as (uow, actor):
            form = parse(SignForm, request.form)
            done = gc.sign(uow, actor, request_id, expected_version=form["version"], now=now())
            label = gc.state_label(gc.MACHINE, done.state)
    except FIXABLE as error:
        return _detail_page(request_id, error=error.message, status=error.status)
    flash(f"已簽章，申請目前為「{label}」。", "success")
    return redirect(url_for(".show", request_id=request_id))


@bp.post("/<int:request_id>/send-back")
@login_required("staff")
def send_back(request_id: int):
    try:
        with school_uow() as (uow, actor):
            form = parse(ReasonForm, request.form)
            gc.send_back(uow, actor, request_id, expected_version=form["version"], reason=form["reason"], now=now())
    except FIXABLE as error:
        return _detail_page(request_id, error=error.message, status=error.status)
    flash("已退回申請，授課教師可修改後重新簽章。", "success")
    return redirect(url_for(".show", request_id=request_id))


@bp.post("/<int:request_id>/withdraw")
@login_required("staff")
def withdraw(request_id: int):
    try:
        with school_uow() as (uow, actor):
            form = parse(ReasonForm, request.form)
            gc.withdraw(uow, actor, request_id, expected_version=form["version"], reason=form["reason"], now=now())
    except FIXABLE as error:
        return _detail_page(request_id, error=error.message, status=error.status)
    flash("已撤回申請。", "success")
    return redirect(url_for(".index"))


@bp.get("/<int:request_id>/print")
@login_required("staff")
def print_form(request_id: int):
    with school_uow() as (uow, actor):
        detail = gc.detail(uow, actor, request_id, now=now())
        return render_template("grade_corrections/print.html", d=detail, school=uow.school,
                               semesters=gc.SEMESTERS, kinds=gc.KINDS, reasons=gc.REASONS)
