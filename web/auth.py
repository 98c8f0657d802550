"""Sign-in 登入 and sign-out 登出. The session cookie carries the account id and a fingerprint
of the password hash: a changed password ends every other session."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from web.context import current_account, db, now
from workflows.accounts import authenticate, session_fingerprint
from workflows.errors import Forbidden

bp = Blueprint("auth", __name__)

# Sign-in attempts are limited per client address and per username, shared by the page and the
# API's token endpoint (one budget, whichever door is used). web.app initialises it per app;
# storage is in memory unless RATELIMIT_STORAGE_URI (PORTFOLIO_RATELIMIT_STORAGE_URI) names a
# shared one (redis://...), which several gunicorn workers need to count together.
limiter = Limiter(key_func=get_remote_address)
SIGN_IN_LIMIT = "10 per minute"


def _sign_in_limit() -> str:
    return current_app.config.get("SIGN_IN_RATE_LIMIT") or SIGN_IN_LIMIT


def _attempted_username() -> str:
    if request.is_json:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else None
    else:
        name = request.form.get("username")
    return "user:" + (name.strip().lower() if isinstance(name, str) else "")


def sign_in_limited(view):
    """At most SIGN_IN_LIMIT POSTs per client address and per username (429 with Retry-After)."""
    view = limiter.shared_limit(_sign_in_limit, scope="sign_in_user", key_func=_attempted_username,
                                methods=["POST"])(view)
    return limiter.shared_limit(_sign_in_limit, scope="sign_in_address", methods=["POST"])(view)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no //host): never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.get("/")
def home():
    account = current_account()
    if account is None:
        return redirect(url_for("auth.login"))
    if account.kind == "student":
        return redirect(url_for("student.items", student_id=account.student_id))
    if account.kind == "guardian":
        return redirect(url_for("guardian.home"))
    return redirect(url_for("teacher.queue"))


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limited
def login():
    error = None
    if request.method == "POST":
        try:
            account = authenticate(db(), request.form.get("username", ""), request.form.get("password", ""),
                                   now=now())
        except Forbidden as refused:
            error = refused.message
        else:
            session.clear()  # a new session on sign-in: nothing from before carries over
            session["account_id"] = account.id
            session["fp"] = session_fingerprint(account)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    flash("已登出。")
    return redirect(url_for("auth.login"))
