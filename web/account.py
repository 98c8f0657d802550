"""My account 我的帳號: change my password 變更密碼, for every signed-in person.

Thin: parse the form, call workflows/people/passwords.change_password, render. The change ends every
session and API token of the account; this browser gets a new session in the same transaction
and stays signed in. A temporary password set by the school's admin sends its holder here before
any other page."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from marshmallow import fields

from web.context import SIGN_IN_KEY, current_account, db, login_required, now, school_uow, session_lifetimes
from web.forms import Form, parse
from web.sign_in_throttle import note_wrong_password, password_checked
from workflows.people import passwords, sign_in_sessions
from workflows.people.accounts import PASSWORD_MAX, PASSWORD_MIN
from workflows.core.clock import utc_now
from workflows.core.errors import InvalidInput

bp = Blueprint("account", __name__, url_prefix="/account")

# Pages a holder of a temporary password may still reach: this one, and the way out.
_OPEN_WITH_TEMPORARY = frozenset({"account.change_password", "auth.login", "auth.logout", "static"})
# The API takes bearer tokens, never the cookie; the public calendar needs no sign-in.
_WITHOUT_SESSION = frozenset({"api", "calendar_pages"})


class PasswordForm(Form):
    """The password change as typed (passwords.change_password names each field's mistake)."""

    current_password = fields.String(load_default="")
    new_password = fields.String(load_default="")
    confirm_password = fields.String(load_default="")


def _account_username() -> str | None:
    account = current_account()
    return account.username if account is not None else None


# The current-password check is as good a guessing door as /login: a stolen session must not
# guess through it. The sign-in throttle, on the account's username (one budget with /login).
change_limited = password_checked(_account_username, door="password_change")


@bp.before_app_request
def _temporary_password_first():
    """A temporary password (reset by the admin) is changed before anything else is done with it.
    Checked once per sign-in session: the answer is kept in the cookie beside the session's value.
    Only a password event changes it, and every one ends the session (the holder's own change
    starts a new one, answered below)."""
    if (request.endpoint is None or request.endpoint in _OPEN_WITH_TEMPORARY
            or request.blueprint in _WITHOUT_SESSION):
        return None
    account = current_account()
    if account is None:
        return None
    if not session.get("pw_checked"):  # sign-in clears the cookie: checked once per session
        session["pw_checked"] = True
        session["pw_temporary"] = passwords.must_change_password(db(), account)
    if session.get("pw_temporary"):
        return redirect(url_for("account.change_password"))
    return None


def _page(*, errors: dict | None = None, status: int = 200):
    return render_template("account/password.html", errors=errors or {}, minimum=PASSWORD_MIN,
                           maximum=PASSWORD_MAX, temporary=bool(session.get("pw_temporary"))), status


@bp.route("/password", methods=["GET", "POST"])
@login_required()
@change_limited
def change_password():
    if request.method == "GET":
        return _page()
    account, form = current_account(), parse(PasswordForm, request.form)
    try:
        with school_uow() as (uow, actor):
            changed = passwords.change_password(
                uow, actor, account.id, current=form["current_password"], new=form["new_password"],
                confirm=form["confirm_password"], now=now())
            # Every session of the account ended with the change; this browser goes on in a new one.
            value = sign_in_sessions.start(uow.session, changed, sign_in_sessions.WEB, session_lifetimes("web"),
                                           utc_now())
            uow.commit()
    except InvalidInput as refused:
        if "current_password" in (refused.details.get("fields") or {}) and form["current_password"]:
            note_wrong_password()  # a guess; a mistake in the new password is not
        # The passwords typed are never sent back: each field comes back empty, with its words.
        return _page(errors=refused.details.get("fields") or {refused.field: refused.message},
                     status=refused.status)
    session[SIGN_IN_KEY], session["pw_checked"] = value, True
    session["pw_temporary"] = False
    flash("已變更密碼。其他裝置上的登入和 API 權杖都已失效，下次請用新密碼登入。")
    return redirect(url_for("auth.home"))
