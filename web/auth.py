"""Sign-in 登入 and sign-out 登出. Signing in starts a server-side session
(workflows/people/sign_in_sessions.py) whose opaque value the cookie carries; signing out ends it on the
server at once, so a copy of the cookie opens nothing afterwards."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from marshmallow import fields

from web.context import SIGN_IN_KEY, current_account, db, now, session_lifetimes
from web.forms import Form, parse
from web.json_body import json_body
from web.sign_in_throttle import device_for, password_checked, remember_device
from workflows.people import sign_in_sessions
from workflows.people.accounts import authenticate
from workflows.core.clock import utc_now
from workflows.core.errors import Forbidden

bp = Blueprint("auth", __name__)


class SignInForm(Form):
    """The sign-in page's form as typed (authenticate answers a wrong one, never saying which part)."""

    username = fields.String(load_default="")
    password = fields.String(load_default="")


def _attempted_username() -> str | None:
    """The username tried, read once and safely: a JSON body through json_body (parsed
    once per request, 400 for one it cannot read however deep), else the form's field."""
    if request.is_json:
        return json_body().get("username")
    return parse(SignInForm, request.form)["username"]


# Failed sign-ins are throttled per username, per username and address and per address
# (web/sign_in_throttle.py), the same counts for the page and the API's token endpoint; the page
# also knows the browsers that signed in to an account before (the device cookie).
sign_in_limited = password_checked(_attempted_username)
page_sign_in_limited = password_checked(_attempted_username, device=device_for)


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
@page_sign_in_limited
def login():
    error = None
    if request.method == "POST":
        form = parse(SignInForm, request.form)
        try:
            account = authenticate(db(), form["username"], form["password"], now=now())
        except Forbidden as refused:
            error = refused.message
        else:
            # A new session on sign-in: nothing from before carries over, and the session this
            # browser held (a classmate who left the lab's computer without 登出) ends with it.
            if SIGN_IN_KEY in session:
                sign_in_sessions.end_session(db(), value=session[SIGN_IN_KEY])
            session.clear()
            session[SIGN_IN_KEY] = sign_in_sessions.start_session(db(), account, sign_in_sessions.WEB,
                                                                  session_lifetimes("web"), utc_now())
            session.permanent = True
            response = redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
            remember_device(response, form["username"])  # this browser knows the account
            return response
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    if SIGN_IN_KEY in session:
        sign_in_sessions.end_session(db(), value=session[SIGN_IN_KEY])
    session.clear()
    flash("已登出。")
    return redirect(url_for("auth.login"))
