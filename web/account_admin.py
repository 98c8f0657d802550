"""Accounts 帳號管理 for the school's platform admin (學校平臺管理者): the school's accounts
(search, pages), reset a password 重設密碼 to a temporary one, shown once, and 停用 / 啟用 an
account (停用 ends its sessions and API tokens at once).

Thin: workflows/people/passwords.py decides who may (the admin only: anyone else 403; another school's
account 404) and writes the audit."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from marshmallow import fields

from web.context import login_required, now, school_uow
from web.forms import Form, parse
from web.params import integer
from workflows.people import passwords
from workflows.core.errors import InvalidInput

bp = Blueprint("account_admin", __name__, url_prefix="/staff/accounts")

# The temporary password is on the page: no cache (browser or proxy) may keep a copy.
NO_STORE = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}


class ListedForm(Form):
    """An action from the accounts list: the search it was listed under, to return to."""

    q = fields.String(load_default="")


@bp.get("/")
@bp.get("")  # the first registered is the one url_for gives
@login_required("staff")
def index():
    with school_uow() as (uow, actor):
        page = integer(request.args.get("page"), field="page", label="頁碼", low=1, default=1)
        listing = passwords.list_accounts(uow, actor, query=request.args.get("q", ""), page=page)
    return render_template("account/admin_index.html", listing=listing)


def _confirm_page(account_id: int, *, error: str | None = None, status: int = 200):
    with school_uow() as (uow, actor):
        row = passwords.account_for_reset(uow, actor, account_id)
    return render_template("account/reset_confirm.html", row=row, error=error), status


@bp.get("/<int:account_id>/reset-password")
@login_required("staff")
def reset_form(account_id: int):
    return _confirm_page(account_id)


@bp.post("/<int:account_id>/reset-password")
@login_required("staff")
def reset(account_id: int):
    try:
        with school_uow() as (uow, actor):
            done = passwords.reset_password(uow, actor, account_id, now=now())
            uow.commit()
    except InvalidInput as refused:
        return _confirm_page(account_id, error=refused.message, status=refused.status)
    # Shown in this answer only: not stored, not flashed into the (signed, readable) cookie.
    response = make_response(render_template("account/reset_done.html", done=done))
    response.headers.update(NO_STORE)
    return response


def _set_active(account_id: int, active: bool):
    try:
        with school_uow() as (uow, actor):
            row = passwords.set_active(uow, actor, account_id, active, now=now())
            uow.commit()
    except InvalidInput as refused:
        flash(refused.message, "error")
    else:
        flash(f"已{'啟用' if active else '停用'}帳號 {row.username}。"
              + ("" if active else "這個帳號原有的登入和 API 權杖都已失效。"))
    return redirect(url_for("account_admin.index", q=parse(ListedForm, request.form)["q"] or None))


@bp.post("/<int:account_id>/deactivate")
@login_required("staff")
def deactivate(account_id: int):
    """停用: the account can no longer sign in, and its sessions and tokens end at once."""
    return _set_active(account_id, False)


@bp.post("/<int:account_id>/activate")
@login_required("staff")
def activate(account_id: int):
    return _set_active(account_id, True)
