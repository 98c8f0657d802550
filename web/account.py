"""My account 我的帳號: change my password 變更密碼, for every signed-in person.

Thin: parse the form, call workflows/passwords.change_password, render. The change ends every
other session and API token of the account (their fingerprint was the old hash's); this browser
gets the new fingerprint and stays signed in. A temporary password set by the school's admin
sends its holder here before any other page."""
from __future__ import annotations

import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter.errors import RateLimitExceeded

from web.auth import SIGN_IN_LIMIT, limiter
from web.context import current_account, db, login_required, now, school_uow
from web.errors import respond
from workflows import passwords
from workflows.accounts import PASSWORD_MAX, PASSWORD_MIN, session_fingerprint
from workflows.errors import InvalidInput

bp = Blueprint("account", __name__, url_prefix="/account")

# Pages a holder of a temporary password may still reach: this one, and the way out.
_OPEN_WITH_TEMPORARY = frozenset({"account.change_password", "auth.login", "auth.logout", "static"})
# The API takes bearer tokens, never the cookie; the public calendar needs no sign-in.
_WITHOUT_SESSION = frozenset({"api", "calendar_pages"})


def _change_limit() -> str:
    # The sign-in budget's size: the current-password check is as good a guessing door as /login.
    return current_app.config.get("SIGN_IN_RATE_LIMIT") or SIGN_IN_LIMIT


def _limited_account() -> str:
    account = current_account()
    return f"account:{account.id if account is not None else ''}"


def change_limited(view):
    """At most the sign-in limit of POSTs a minute per account: a stolen session cannot use the
    form to guess the password. Per account rather than per address, since a whole school may
    reach the site from one address and change passwords on the same morning."""
    return limiter.shared_limit(_change_limit, scope="password_change_account", key_func=_limited_account,
                                methods=["POST"])(view)


@bp.errorhandler(RateLimitExceeded)
def _too_many(error: RateLimitExceeded):
    # The app's 429 speaks of sign-in attempts; here it is this form's.
    current = limiter.current_limit
    wait = max(1, int(current.reset_at - time.time()) + 1) if current is not None else 60
    amount = error.limit.limit.amount
    return respond(429, "rate_limited", f"變更密碼的嘗試次數過多（上限：每分鐘 {amount} 次），請於 {wait} 秒後再試。",
                   {"rule": "password_change_rate_limit", "limit": amount, "retry_after": wait},
                   headers={"Retry-After": str(wait)})


@bp.before_app_request
def _temporary_password_first():
    """A temporary password (reset by the admin) is changed before anything else is done with it.
    Checked once per session fingerprint: the answer is kept in the session until the password
    changes again."""
    if (request.endpoint is None or request.endpoint in _OPEN_WITH_TEMPORARY
            or request.blueprint in _WITHOUT_SESSION):
        return None
    account = current_account()
    if account is None:
        return None
    fingerprint = session_fingerprint(account)
    if session.get("pw_checked") != fingerprint:
        session["pw_checked"] = fingerprint
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
    account = current_account()
    try:
        with school_uow() as (uow, actor):
            changed = passwords.change_password(
                uow, actor, account.id, current=request.form.get("current_password", ""),
                new=request.form.get("new_password", ""), confirm=request.form.get("confirm_password", ""),
                now=now())
            fingerprint = session_fingerprint(changed)
            uow.commit()
    except InvalidInput as refused:
        # The passwords typed are never sent back: each field comes back empty, with its words.
        return _page(errors=refused.details.get("fields") or {refused.field: refused.message},
                     status=refused.status)
    # This browser goes on with the new fingerprint; every other session and token had the old one.
    session["fp"] = session["pw_checked"] = fingerprint
    session["pw_temporary"] = False
    flash("已變更密碼。其他裝置上的登入和 API 權杖都已失效，下次請用新密碼登入。")
    return redirect(url_for("auth.home"))
