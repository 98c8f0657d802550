"""A request's JSON body, parsed once: the API's views and the sign-in throttle (which reads the
username before the view runs) share one parse and one answer to a body that is not a JSON object."""
from __future__ import annotations

import json

from flask import g, request

from workflows.core.errors import DomainError


class MalformedBody(DomainError):
    status = 400
    code = "malformed_body"


def json_body() -> dict:
    """The request's JSON object ({} when there is no body); 400 when it is not one. Parsed once
    per request: the sign-in throttle reads the username from it before the view does."""
    if "json_body" in g:
        return g.json_body
    raw = request.get_data(cache=True)  # 413 (JSON) here when over MAX_CONTENT_LENGTH
    if not raw:
        return {}
    if not request.is_json:
        raise MalformedBody("請求內容須為 JSON（Content-Type: application/json）。", field="body")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # bad syntax, bad UTF-8, absurd nesting
        raise MalformedBody("JSON 格式不正確，無法解析。", field="body") from None
    if not isinstance(data, dict):
        raise MalformedBody("請求內容須為 JSON 物件（{…}）。", field="body")
    g.json_body = data
    return data
