"""The working group's proxy pages 代理人: proxy lists with their order of precedence, and who is
unavailable when (issue 5)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import fields

from persistence.tables import UNAVAILABILITY_REASONS
from web.context import login_required, now, school_uow
from web.forms import Form, parse
from web.params import Int
from workflows.people import proxies
from workflows.core.clock import roc_date
from workflows.core.roles import ROLE_LABELS, Role

bp = Blueprint("proxies", __name__, url_prefix="/staff/proxies")

SLOTS = 5  # order-of-precedence selects on the list form


def _chosen(label: str, *, required: bool = True) -> Int:
    """A <select> of staff: nothing chosen is 「請選擇…」 (or None where it may stay empty), and
    what was sent must be a staff id."""
    options = {"required": True} if required else {"load_default": None}
    return Int(label=f"{label}的編號", low=1, error_messages={"required": f"請選擇{label}。"}, **options)


class Principal(fields.Field):
    """Whose proxy list the form sets: 「staff:<id>」, a person's, as (staff id, None), or
    「role:<role>」, an office's, as (None, role); the workflow checks the role."""

    default_error_messages = {key: "請選擇要設定代理人的教職員或職務。" for key in ("required", "null", "invalid")}
    staff = _chosen("教職員")

    def _deserialize(self, value, attr, data, **kwargs):
        kind, _, rest = str(value).strip().partition(":")
        if kind == "staff":
            return self.staff.deserialize(rest), None
        if kind == "role":
            return None, rest
        raise self.make_error("invalid")


ProxyListForm = Form.from_dict({"principal": Principal(required=True),
                                **{f"proxy_{n}": _chosen(f"第 {n} 順位代理人", required=False)
                                   for n in range(1, SLOTS + 1)}}, name="ProxyListForm")


class UnavailabilityForm(Form):
    """Who is away, from when to when and why, as typed (proxies.mark_unavailable reads the dates)."""

    staff_id = _chosen("教職員")
    starts_on = fields.String(load_default=None)
    ends_on = fields.String(load_default=None)
    reason = fields.String(load_default="")
    note = fields.String(load_default=None)


class EndForm(Form):
    ends_on = fields.String(load_default=None)


class CertifyOnlyForm(Form):
    """A certify-only account kept until a day (proxies.set_certify_only reads it)."""

    staff_id = _chosen("教職員")
    until = fields.String(load_default=None)


def _back(message: str):
    flash(message)
    return redirect(url_for("proxies.index"))


@bp.get("")
@bp.get("/")
@login_required("staff")
def index():
    with school_uow() as (uow, actor):
        view = proxies.overview(uow, actor, now=now())
    return render_template("proxies/index.html", view=view, slots=SLOTS,
                           reasons={r: proxies.REASON_LABELS[r] for r in UNAVAILABILITY_REASONS},
                           role_labels={r.value: ROLE_LABELS[r] for r in Role}, roc_date=roc_date)


@bp.post("/list")
@login_required("staff")
def set_list():
    form = parse(ProxyListForm, request.form)
    staff_id, role = form["principal"]
    ids = [form[f"proxy_{n}"] for n in range(1, SLOTS + 1)]
    with school_uow() as (uow, actor):
        proxies.set_proxy_list(uow, actor, principal_staff_id=staff_id, principal_role=role,
                               proxy_staff_ids=[i for i in ids if i is not None], now=now())
    return _back("已更新代理人名單。")


@bp.post("/unavailability")
@login_required("staff")
def add_unavailability():
    form = parse(UnavailabilityForm, request.form)
    with school_uow() as (uow, actor):
        proxies.mark_unavailable(uow, actor, form["staff_id"], starts_on=form["starts_on"], ends_on=form["ends_on"],
                                 reason=form["reason"], note_text=form["note"], now=now())
    return _back("已登錄無法執行職務期間。")


@bp.post("/unavailability/<int:unavailability_id>/end")
@login_required("staff")
def end_unavailability(unavailability_id: int):
    with school_uow() as (uow, actor):
        proxies.end_unavailability(uow, actor, unavailability_id, ends_on=parse(EndForm, request.form)["ends_on"],
                                   now=now())
    return _back("已更新結束日期。")


@bp.post("/certify-only")
@login_required("staff")
def certify_only():
    form = parse(CertifyOnlyForm, request.form)
    with school_uow() as (uow, actor):
        proxies.set_certify_only(uow, actor, form["staff_id"], form["until"], now=now())
    return _back("已更新僅認證帳號的保留日期。")
