"""Errors as people and programs read them: a zh-TW page for the site, JSON
{"error", "message", "details"} under /api/. Never a 500 for bad input."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from workflows.errors import DomainError

_HTTP_MESSAGES = {
    400: ("bad_request", "要求的格式不正確。"),
    401: ("unauthorized", "請先登入。"),
    403: ("forbidden", "你沒有權限執行這個操作。"),
    404: ("not_found", "找不到這個頁面或資料。"),
    405: ("method_not_allowed", "不支援這種操作方式。"),
    413: ("too_large", "上傳的內容太大。"),
    503: ("unavailable", "系統暫時無法使用，請稍後再試。"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def respond(status: int, code: str, message: str, details: dict | None = None, headers=None):
    if wants_json():
        response = jsonify({"error": code, "message": message, "details": details or {}})
        response.status_code = status
    else:
        response = render_template("error.html", status=status, message=message,
                                   details=details or {}), status
    if headers:
        from flask import make_response
        response = make_response(response)
        response.headers.update(headers)
    return response


def install(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        details = {k: v for k, v in error.details.items() if v is not None}
        return respond(error.status, error.code, error.message, details)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return respond(400, "csrf_failed", "表單已過期或來源不明（CSRF 檢查未通過），請重新載入頁面後再送出。")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return respond(413, "too_large",
                       f"上傳的內容超過系統上限 {limit // (1024 * 1024)} MB，請縮小檔案後再上傳。",
                       {"limit": limit})

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        code, message = _HTTP_MESSAGES.get(error.code, ("http_error", error.description or ""))
        return respond(error.code, code, message)

    @app.errorhandler(DataError)
    def _data(error: DataError):
        # Input the database cannot store (a NUL byte, an out-of-range number): nothing applied.
        return respond(422 if wants_json() else 400, "invalid_input",
                       "輸入含有系統無法儲存的字元或數值，請檢查後再送出；您的操作沒有生效。")

    @app.errorhandler(DBAPIError)
    def _database(error: DBAPIError):
        # The database is unreachable or restarting: nothing was applied (the transaction rolled
        # back); ask to retry rather than failing with a 500.
        if error.connection_invalidated or "could not connect" in str(error.orig) \
                or "connection" in str(error.orig).lower():
            return respond(503, "unavailable", "資料庫暫時無法連線，您的操作沒有生效，請稍後再試。",
                           headers={"Retry-After": "5"})
        raise error
