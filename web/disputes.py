"""The offices' dispute queue 疑義處理 (issue 5): each office sees the open disputes of the
categories the policy gives it, oldest first with their age, and settles one by answering the
student or by marking it corrected for resubmission, with a reason the student reads. A semester
receipt (basic data and cadre records, course records) has no items: its dispute is settled as a
whole (/receipts/<id>/resolve).

Thin: the queue and the rules are workflows/central/disputes.py's."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import fields

from web.context import login_required, now, school_uow
from web.forms import VersionForm, parse
from workflows.central import disputes
from workflows.core.errors import Conflict, InvalidInput, InvalidTransition, RuleViolation
from workflows.core.fields import REASON_MAX

bp = Blueprint("disputes", __name__, url_prefix="/staff/disputes")

FIXABLE = (RuleViolation, InvalidInput, InvalidTransition, Conflict)


class ResolveForm(VersionForm):
    """How a dispute is settled and why, as chosen and typed (disputes.resolve checks both), and the
    version of the item or receipt the queue showed."""

    kind = fields.String(load_default="")
    reason = fields.String(load_default="")


def _queue_page(*, error: str | None = None, status: int = 200, draft: dict | None = None):
    with school_uow() as (uow, actor):
        rows = disputes.dispute_queue(uow, actor, now=now())
        return render_template("disputes/queue.html", rows=rows, resolutions=disputes.RESOLUTIONS,
                               reason_max=REASON_MAX, error=error, draft=draft or {}), status


@bp.get("")
@login_required("staff")
def queue():
    return _queue_page()


@bp.post("/<int:item_id>/resolve")
@login_required("staff")
def resolve(item_id: int):
    try:
        with school_uow() as (uow, actor):
            form = parse(ResolveForm, request.form)
            disputes.resolve(uow, actor, item_id, kind=form["kind"], reason=form["reason"],
                             expected_version=form["version"], now=now())
    except FIXABLE as error:
        return _queue_page(error=error.message, status=error.status,
                           draft={"item": item_id, **request.form.to_dict()})
    flash(f"疑義（項目 {item_id}）已處理，學生可在收訖明細看到處理說明。", "success")
    return redirect(url_for(".queue"))


@bp.post("/receipts/<int:receipt_id>/resolve")
@login_required("staff")
def resolve_receipt(receipt_id: int):
    try:
        with school_uow() as (uow, actor):
            form = parse(ResolveForm, request.form)
            disputes.resolve_receipt(uow, actor, receipt_id, kind=form["kind"], reason=form["reason"],
                                     expected_version=form["version"], now=now())
    except FIXABLE as error:
        return _queue_page(error=error.message, status=error.status,
                           draft={"receipt": receipt_id, **request.form.to_dict()})
    flash(f"疑義（收訖明細 {receipt_id}）已處理，學生可在收訖明細看到處理說明。", "success")
    return redirect(url_for(".queue"))
