"""What every view needs: the database, the file store, the signed-in account, a unit of work
of the account's school and the Actor the workflows take."""
from __future__ import annotations

from contextlib import contextmanager
from functools import wraps
from typing import Iterator

from flask import current_app, g, redirect, request, session, url_for
from flask import session as session_cookie  # `session` is also the database session below

from persistence.db import Database
from persistence.files import FileStore
from persistence.tables import Account
from workflows.people import sign_in_sessions
from workflows.people.accounts import account_still_open, actor_of
from workflows.core.clock import utc_now
from workflows.core.actors import Actor
from workflows.core.errors import Forbidden
from workflows.people.sign_in_sessions import Lifetimes
from workflows.core.unit_of_work import UnitOfWork


def db() -> Database:
    return current_app.extensions["portfolio.db"]


def files() -> FileStore:
    return current_app.extensions["portfolio.files"]


# The key of the opaque sign-in session value in Flask's signed cookie (which also carries the
# CSRF token and flash messages, and nothing of the password or its hash).
SIGN_IN_KEY = "sid"


def session_lifetimes(kind: str) -> Lifetimes:
    """Sessions live by the wall clock (workflows.core.clock.utc_now), not by `now()`: a test that sets
    the app's NOW to a deadline moves the school's calendar, not the age of its sign-ins. Built
    once from the settings by create_app."""
    return current_app.extensions["portfolio.lifetimes"][kind]


def account_from_session() -> Account | None:
    value = session.get(SIGN_IN_KEY)
    if value is None:
        return None
    account = sign_in_sessions.signed_in_account(db(), value, sign_in_sessions.WEB, session_lifetimes("web"),
                                                 utc_now())
    if account is None:  # signed out, ended by a password change or 停用, or run out
        session.clear()
    return account


def current_account() -> Account | None:
    if "account" not in g:
        g.account = account_from_session()
    return g.account


@contextmanager
def school_uow() -> Iterator[tuple[UnitOfWork, Actor]]:
    """A unit of work of the signed-in account's school and the account's Actor."""
    account = current_account()
    if account is None:
        raise Forbidden("請先登入。")
    # The session the account was read in, if the request kept one open (the API's bearer
    # check): continuing in it saves a connection checkout. `_held` (the school and staff row read
    # with the account) stays referenced here so the unit of work finds them in the (weak)
    # identity map, not by a query.
    session, _held = g.pop("request_session", (None, ()))
    with UnitOfWork(db(), account.school_id, files(), session=session) as uow:
        actor = actor_of(uow, account)
        if not account_still_open(uow, account, now()):  # a certify-only date passed mid-session
            session_cookie.clear()
            sign_in_sessions.end_all(uow.session, account.id)  # its other browsers and tokens too
            uow.commit()
            raise Forbidden("帳號已停用，請洽學校承辦人員。")
        yield uow, actor


def login_required(*kinds: str):
    """The view needs a signed-in account (of one of `kinds`, if given); otherwise sign-in."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            account = current_account()
            if account is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if kinds and account.kind not in kinds:
                raise Forbidden("你的帳號不能使用這個頁面。")
            return view(*args, **kwargs)
        return wrapped
    return decorate


def now():
    """The current time for a request: app.config["NOW"] when a test fixes it, else the clock."""
    return current_app.config.get("NOW") or utc_now()
