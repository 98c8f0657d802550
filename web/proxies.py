"""The working group's proxy pages 代理人: proxy lists with their order of precedence, and who is
unavailable when (issue 5)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from persistence.tables import UNAVAILABILITY_REASONS
from web.context import login_required, now, school_uow
from web.params import ident
from workflows.people import proxies
from workflows.core.clock import roc_date
from workflows.core.errors import InvalidInput
from workflows.core.roles import ROLE_LABELS, Role

bp = Blueprint("proxies", __name__, url_prefix="/staff/proxies")

SLOTS = 5  # order-of-precedence selects on the list form


def _id(value: str | None, *, field: str, label: str, required: bool = True) -> int | None:
    if not (value or "").strip():
        if required:
            raise InvalidInput(f"請選擇{label}。", field=field)
        return None
    return ident(value, field=field, label=f"{label}的編號")


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
    principal = (request.form.get("principal") or "").strip()
    kind, _, value = principal.partition(":")
    if kind == "staff":
        staff_id, role = _id(value, field="principal", label="教職員"), None
    elif kind == "role":
        staff_id, role = None, value
    else:
        raise InvalidInput("請選擇要設定代理人的教職員或職務。", field="principal")
    ids = [_id(request.form.get(f"proxy_{n}"), field=f"proxy_{n}", label=f"第 {n} 順位代理人", required=False)
           for n in range(1, SLOTS + 1)]
    with school_uow() as (uow, actor):
        proxies.set_proxy_list(uow, actor, principal_staff_id=staff_id, principal_role=role,
                               proxy_staff_ids=[i for i in ids if i is not None], now=now())
    return _back("已更新代理人名單。")


@bp.post("/unavailability")
@login_required("staff")
def add_unavailability():
    staff_id = _id(request.form.get("staff_id"), field="staff_id", label="教職員")
    with school_uow() as (uow, actor):
        proxies.mark_unavailable(uow, actor, staff_id, starts_on=request.form.get("starts_on"),
                                 ends_on=request.form.get("ends_on"), reason=request.form.get("reason", ""),
                                 note_text=request.form.get("note"), now=now())
    return _back("已登錄無法執行職務期間。")


@bp.post("/unavailability/<int:unavailability_id>/end")
@login_required("staff")
def end_unavailability(unavailability_id: int):
    with school_uow() as (uow, actor):
        proxies.end_unavailability(uow, actor, unavailability_id, ends_on=request.form.get("ends_on"), now=now())
    return _back("已更新結束日期。")


@bp.post("/certify-only")
@login_required("staff")
def certify_only():
    staff_id = _id(request.form.get("staff_id"), field="staff_id", label="教職員")
    with school_uow() as (uow, actor):
        proxies.set_certify_only(uow, actor, staff_id, request.form.get("until"), now=now())
    return _back("已更新僅認證帳號的保留日期。")
