"""The Flask app factory. Production: `gunicorn 'web.app:create_app()'`; development:
`portfolio serve`. Configuration comes from the mapping given, then PORTFOLIO_* variables."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from persistence.db import Database, default_url
from persistence.files import LocalFileStore
from web import sign_in_throttle
from web import upload_limits
from web.settings import whole_number
from workflows.people import accounts
from workflows.core.unit_of_work import prepare
from workflows.people.sign_in_sessions import Lifetimes

csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(Path("instance").resolve()))
    app.request_class = upload_limits.Request  # an upload's size limit is its school's policy's
    app.config.update(
        DATABASE_URL=os.environ.get("PORTFOLIO_DATABASE_URL") or default_url(),
        DATA_DIR=os.environ.get("PORTFOLIO_DATA_DIR") or "instance/files",
        # Where the batch pages write roster exports (one folder per school).
        EXPORT_DIR=os.environ.get("PORTFOLIO_EXPORT_DIR") or "instance/exports",
        # Cookies: sent over HTTPS only, never to scripts, not on cross-site requests.
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="portfolio_session",
        # Every request but an artefact's upload or edit, whose limit follows its school's policy
        # (web/upload_limits.py): the largest file another form takes is a consultation
        # record's document (2 MB nationally) or a roster, receipt or CSV file.
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        JSON_AS_ASCII=False,
    )
    app.config.update(config or {})
    # A relative folder is the working directory's, fixed now: send_file reads a relative path
    # against the package folder (web/), where no export is, and a later chdir must not move it.
    for folder in ("DATA_DIR", "EXPORT_DIR"):
        if app.config.get(folder):
            app.config[folder] = str(Path(app.config[folder]).resolve())
    # Server-side sign-in sessions (workflows/people/sign_in_sessions.py), in minutes; idle 0: none.
    # Why these defaults: docs/web.md, "Sessions and tokens". Checked and built once, now, not at
    # the first sign-in; the browser keeps the cookie no longer than the server-side session lasts.
    for name, default in (("SESSION_IDLE_MINUTES", 120), ("SESSION_MAX_MINUTES", 8 * 60),
                          ("TOKEN_IDLE_MINUTES", 120), ("TOKEN_MAX_MINUTES", 8 * 60)):
        app.config[name] = whole_number(app.config, name, default, least=0 if "IDLE" in name else 1)
    app.extensions["portfolio.lifetimes"] = {kind: lifetimes(app.config, kind) for kind in ("web", "api")}
    if "PERMANENT_SESSION_LIFETIME" not in (config or {}):
        app.config["PERMANENT_SESSION_LIFETIME"] = app.extensions["portfolio.lifetimes"]["web"].absolute
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("PORTFOLIO_SECRET_KEY") or _instance_secret(app)
    app.json.ensure_ascii = False

    db = app.config.get("DATABASE") or Database.from_url(app.config["DATABASE_URL"])
    app.extensions["portfolio.db"] = prepare(db)
    app.extensions["portfolio.files"] = app.config.get("FILES") or LocalFileStore(Path(app.config["DATA_DIR"]))

    proxies = int(os.environ.get("PORTFOLIO_TRUSTED_PROXIES") or app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:  # behind N reverse proxies: the client's address (rate limits, logs) is theirs to tell
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    csrf.init_app(app)
    # Failed sign-ins counted in the database (SIGN_IN_* settings: docs/web.md, "Sign-in throttle").
    sign_in_throttle.install(app, app.extensions["portfolio.db"])
    from web import (api, auth, batches, disputes, errors, files, filters, guardian, proxies, records, staff,
                     student, teacher)
    from web import calendar_pages, working_group
    from web import grade_corrections
    from web import account, account_admin

    from web import params

    params.install(app)  # before the blueprints: their <int:…> rules take the bounded converter
    filters.install(app)
    errors.install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(student.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(guardian.bp)
    app.register_blueprint(teacher.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(proxies.bp)
    app.register_blueprint(disputes.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(batches.bp)
    app.register_blueprint(working_group.bp)
    app.register_blueprint(calendar_pages.bp)
    app.register_blueprint(grade_corrections.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(account_admin.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API takes bearer tokens, never cookies
    # Made now, not at the first sign-in with an unknown username, which would take twice as
    # long as a wrong password and tell the two apart.
    accounts.dummy_hash()

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-src 'self'; frame-ancestors 'self'; object-src 'self'")
        return response

    return app


def lifetimes(config, kind: str) -> Lifetimes:
    """The lifetimes of a web session ("web") or an API token ("api") from the configuration."""
    prefix = "SESSION" if kind == "web" else "TOKEN"
    idle, absolute = int(config[f"{prefix}_IDLE_MINUTES"]), int(config[f"{prefix}_MAX_MINUTES"])
    try:
        return Lifetimes(absolute=timedelta(minutes=absolute), idle=timedelta(minutes=idle) if idle else None)
    except ValueError as refused:
        raise ValueError(f"{prefix}_IDLE_MINUTES / {prefix}_MAX_MINUTES: {refused}") from None


def _instance_secret(app: Flask) -> str:
    """A key kept in the instance folder, so sessions survive restarts without configuration.
    Several gunicorn workers share it; set PORTFOLIO_SECRET_KEY when the instance folder is not shared."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secret_key.{os.getpid()}")
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # atomic, and the first worker's key wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()
