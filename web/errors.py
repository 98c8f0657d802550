"""Errors as people and programs read them: a zh-TW page for the site, JSON
{"error", "message", "details"} under /api/. Never a 500 for bad input."""
from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from persistence.db import DATABASE_FAILURES, Database, UnstorableValue, commit_in_doubt, is_outage
from persistence.files import StorageError
from web.upload_limits import current_upload_limit
from workflows.school.filetypes import SLOT_LABELS, format_size
from workflows.core.errors import DomainError

_HTTP_MESSAGES = {
    400: ("bad_request", "要求的格式不正確。"),
    401: ("unauthorized", "請先登入。"),
    403: ("forbidden", "你沒有權限執行這個操作。"),
    404: ("not_found", "找不到這個頁面或資料。"),
    405: ("method_not_allowed", "不支援這種操作方式。"),
    413: ("too_large", "上傳的內容太大。"),
    503: ("unavailable", "系統暫時無法使用，請稍後再試。"),
}


# Seconds a client should wait after an outage answer: about what a database restart or a
# fail-over takes; the pool reconnects by itself on the next request after that.
RETRY_AFTER_SECONDS = 5
OUTAGE_MESSAGE = f"資料庫暫時無法連線，您的操作沒有生效，請於 {RETRY_AFTER_SECONDS} 秒後再試。"
# The connection broke while the commit was on its way: the database may have applied it.
IN_DOUBT_MESSAGE = (f"資料庫暫時無法連線，無法確認您的操作是否已完成；請於 {RETRY_AFTER_SECONDS} 秒後"
                    "重新整理頁面確認結果，再決定是否重做。")


def wants_json() -> bool:
    return request.path.startswith("/api/")


def respond(status: int, code: str, message: str, details: dict | None = None, headers=None):
    if wants_json():
        response = jsonify({"error": code, "message": message, "details": details or {}})
        response.status_code = status
    else:
        try:
            response = render_template("error.html", status=status, message=message,
                                       details=details or {}), status
        except DATABASE_FAILURES as error:
            # The page's frame reads the signed-in account: with the database gone, a 404 or a
            # 403 page would fail with a 500. Say what is wrong instead.
            if not is_outage(error):
                raise
            return outage_response(error)
    if headers:
        response = make_response(response)
        response.headers.update(headers)
    return response


def carried_headers(error: HTTPException) -> list[tuple[str, str]]:
    """The headers werkzeug's exception carries (405's Allow, 401's WWW-Authenticate, 503's
    Retry-After…), without its Content-Type: our answer is built afresh and has its own."""
    return [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]


def _answers_another_method(error: MethodNotAllowed) -> bool:
    """Whether the path really is there for a method of the 405's Allow. Werkzeug's matcher
    answers 405 when a path's converter refuses the value (/api/v1/artefacts/0 under
    `int(min=1)`) and another method's rule of the same pattern came first: no method would find
    anything there, so that is a 404."""
    adapter = current_app.create_url_adapter(request)
    for method in error.valid_methods or ():
        try:
            adapter.match(method=method)
        except (MethodNotAllowed, NotFound):
            continue
        except HTTPException:  # a redirect: something is there
            return True
        return True
    return False


def _note_commit() -> None:
    """Remember in the request that something committed: a connection lost after that (reading
    the answer back) must not tell the person that nothing was applied."""
    if has_request_context():
        g.database_committed = True


def install(app: Flask) -> None:
    db: Database | None = app.extensions.get("portfolio.db")
    if db is not None:
        db.after_commit(_note_commit)

    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        details = {k: v for k, v in error.details.items() if v is not None}
        return respond(error.status, error.code, error.message, details)

    @app.errorhandler(StorageError)
    def _storage(error: StorageError):
        # A use case that let the store's failure through: still a clear answer, never a 500.
        return respond(507 if error.reason == "no_space" else 503, "storage_failed", error.message,
                       {"reason": error.reason})

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return respond(400, "csrf_failed", "表單已過期或來源不明（CSRF 檢查未通過），請重新載入頁面後再送出。")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error):
        limit = request.max_content_length
        upload = current_upload_limit()
        if upload is None or limit != upload.total:
            return respond(413, "too_large",
                           f"送出的內容超過系統上限 {format_size(limit)}，請縮小後再送出。", {"limit": limit})
        slots = "、".join(f"{SLOT_LABELS[slot]}每件 {format_size(size)}" for slot, size in upload.slots.items())
        return respond(413, "too_large",
                       f"上傳的內容超過本校一次上傳的上限 {format_size(limit, round_up=True)}（{slots}，"
                       "加上表單欄位）；沒有儲存任何資料，請縮小檔案後再上傳。",
                       {"limit": limit, "slots": upload.slots})

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if isinstance(error, MethodNotAllowed) and not _answers_another_method(error):
            error = NotFound()
        code, message = _HTTP_MESSAGES.get(error.code, ("http_error", error.description or ""))
        details = {"allowed_methods": sorted(error.valid_methods)} if getattr(error, "valid_methods", None) else None
        return respond(error.code, code, message, details, headers=carried_headers(error))

    @app.errorhandler(UnstorableValue)
    def _data(error: UnstorableValue):
        # Input the database cannot store (a NUL byte, an out-of-range number): nothing applied.
        return respond(422 if wants_json() else 400, "invalid_input",
                       "輸入含有系統無法儲存的字元或數值，請檢查後再送出；您的操作沒有生效。")

    def _database(error: Exception):
        if is_outage(error):
            return outage_response(error)
        raise error

    for failure in DATABASE_FAILURES:
        app.register_error_handler(failure, _database)


def outage_response(error: Exception | None):
    """503 with Retry-After: the transaction rolled back (or, if the commit's answer was lost,
    the person is told to look before redoing it); the pool reconnects on a later request."""
    # The error page must not read the signed-in account again (base.html does, through
    # current_account): it would fail the same way.
    g.account = None
    doubt = commit_in_doubt(error) or g.get("database_committed", False)
    message = IN_DOUBT_MESSAGE if doubt else OUTAGE_MESSAGE
    return respond(503, "unavailable", message, {"retry_after": RETRY_AFTER_SECONDS},
                   headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
