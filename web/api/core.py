"""The API's plumbing: bearer-token sign-in, schema-checked input, JSON errors, and the registry
of operations the OpenAPI document is built from."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, ValidationError, fields

from web.api.schemas import ApiSchema, rule_of, text
from web.auth import sign_in_limited
from web.context import db, now, session_lifetimes
from web.errors import respond
from web.json_body import json_body
from workflows.people import passwords, sign_in_sessions
from workflows.people.accounts import PASSWORD_MAX, authenticate
from workflows.core.clock import utc_now
from workflows.core.errors import ContentRuleViolation, DomainError, Forbidden, InvalidInput, RuleViolation

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "機器可讀的錯誤代碼"})
    message = fields.String(required=True, metadata={"description": "給人看的說明（繁體中文）"})
    details = fields.Dict(required=True, metadata={
        "description": "細節：field（欄位）、rule（規則）、fields（各欄位的問題）、state 與 allowed_events（狀態不允許時）等"})


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    response: type[Schema] | Schema | dict | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: bool = True
    # multipart/form-data: the text fields as a schema, the file parts as {name: description}
    multipart: type[Schema] | None = None
    files: dict = field(default_factory=dict)
    path_params: dict = field(default_factory=dict)
    description: str | None = None
    endpoint: str | None = None  # the view's name: the operationId


OPERATIONS: list[Operation] = []

_ERROR_TEXT = {400: "格式不正確（例如 JSON 無法解析）", 401: "未登入或權杖無效", 403: "沒有權限",
               404: "找不到（或無權查看）", 409: "狀態不允許或資料已變更", 413: "內容太大",
               422: "輸入不符合規則（指出欄位與規則）",
               429: "嘗試次數過多，請依 Retry-After 秒數後再試", 503: "暫時無法使用（例如檔案無法寫入，未儲存）",
               507: "伺服器儲存空間不足，檔案未儲存"}


def issue_token(username: str, password: str) -> str:
    """An opaque token: a server-side session of kind "api" (workflows/people/sign_in_sessions.py)."""
    account = authenticate(db(), username, password, now=now())
    passwords.require_chosen_password(db(), account)
    return sign_in_sessions.start_session(db(), account, sign_in_sessions.API, session_lifetimes("api"), utc_now())


def _bearer_account():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    value = header[7:].strip()
    lifetimes = session_lifetimes("api")
    if _body_is_at_hand():
        # Read in the session the request's unit of work goes on in (web.context.school_uow):
        # one pooled connection per request.
        session = db().session()
        g.request_session = (session, ())
        found = sign_in_sessions.resolve(session, value, sign_in_sessions.API, lifetimes, utc_now())
        if found is not None:
            g.request_session = (session, found.held)
    else:
        with db().session() as session:
            found = sign_in_sessions.resolve(session, value, sign_in_sessions.API, lifetimes, utc_now())
    if found is None:
        raise Unauthorized("權杖無效、已過期或已結束，請重新取得。")
    g.sign_in_session_id = found.session_id
    return found.account


# A body this small is read at once; a larger one (an upload) may take a slow client a while,
# and no transaction (on SQLite: the write lock) stays open waiting for it.
_AT_HAND_BYTES = 16 * 1024


def _body_is_at_hand() -> bool:
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return False
    return (request.content_length or 0) <= _AT_HAND_BYTES


@bp.teardown_request
def _close_request_session(_error):
    # When no unit of work took the session over (401, 422 before it, an endpoint without one).
    session, _held = g.pop("request_session", (None, ()))
    if session is not None:
        session.close()


@bp.before_request
def _authenticate():
    # Only the bearer token counts here, never the site's session cookie: the API is exempt
    # from CSRF checks, so a cookie must not be able to act through it.
    g.account = None
    if request.endpoint in {f"api.{name}" for name in ("token", "openapi")}:
        return
    g.account = _bearer_account()
    if g.account is None:
        raise Unauthorized("請在 Authorization 標頭附上 Bearer 權杖（POST /api/v1/auth/token 取得）。")


@bp.errorhandler(Unauthorized)
def _unauthorized(error: Unauthorized):
    return respond(401, error.code, error.message, headers={"WWW-Authenticate": 'Bearer realm="api"'})


@bp.errorhandler(InvalidInput)
def _invalid_input(error: InvalidInput):
    # The workflows' InvalidInput is a 400 for the site's forms; the API answers every refused
    # input with 422 and the field, as the document promises: the workflows' and its own (parse).
    details = {k: v for k, v in error.details.items() if v is not None}
    details.setdefault("rule", rule_of(error.message))
    return respond(422, error.code, error.message, details)


@bp.errorhandler(RuleViolation)
def _rule_violation(error: RuleViolation):
    # A rule of the moment or of the records conflicts with the current state (409); one on what
    # the request holds is a 422, as for the schema's own checks (workflows.core.errors).
    details = {k: v for k, v in error.details.items() if v is not None}
    status = 409 if error.status == 422 and not isinstance(error, ContentRuleViolation) else error.status
    return respond(status, error.code, error.message, details)


@lru_cache(maxsize=None)
def schema_instance(schema: type[Schema]) -> Schema:
    """One instance per schema class: building one deep-copies its fields (a tenth of a cheap
    request), and loading or dumping keeps no state in it."""
    return schema()


def parse(schema: type[Schema], data) -> dict:
    """Validate input; 422 naming every field and rule that failed."""
    try:
        return schema_instance(schema).load(data if data is not None else {})
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        rules = {name: sorted({rule_of(m) for m in _flat(problems)}) for name, problems in messages.items()}
        first = next(iter(messages))
        raise InvalidInput("輸入資料不正確：" + _describe(messages), field=first,
                           rule=(rules[first] or ["invalid"])[0], fields=messages, rules=rules) from None


def _flat(problems) -> list[str]:
    if isinstance(problems, str):
        return [problems]
    if isinstance(problems, dict):
        return [m for value in problems.values() for m in _flat(value)]
    return [m for value in problems for m in _flat(value)]


def _describe(messages: dict) -> str:
    """「page：須為整數；per_page：須為 1 到 200 之間的整數。」"""
    return "；".join(f"{name}：" + "、".join(m.rstrip("。") for m in _flat(problems))
                    for name, problems in messages.items()) + "。"


def operation(rule: str, method: str, summary: str, **options):
    """Register a view on bp and in the OpenAPI document."""
    op = Operation(rule, method.upper(), summary, **options)
    OPERATIONS.append(op)

    def decorate(view):
        op.endpoint = view.__name__
        bp.add_url_rule(rule, view.__name__, view, methods=[op.method])
        return view
    return decorate


def openapi_path(rule: str) -> str:
    """The Flask rule as an OpenAPI path: <int(min=1):item_id> → {item_id}."""
    return re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule)


def build_spec() -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(title="學生學習歷程檔案 API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[plugin],
                   servers=[{"url": "/api/v1"}],
                   info={"description": "繁體中文錯誤訊息；時間為 UTC（ISO 8601），頁面以臺北時間顯示。"
                                        "錯誤一律為 JSON：{\"error\", \"message\", \"details\"}。"})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    by_path: dict[str, dict] = {}
    for op in OPERATIONS:
        entry: dict = {"summary": op.summary, "operationId": op.endpoint,
                       "responses": {}}
        if op.description:
            entry["description"] = op.description
        entry["security"] = [{"bearer": []}] if op.auth else []
        params = []
        for name, kind in op.path_params.items():
            params.append({"in": "path", "name": name, "required": True,
                           "schema": {"type": kind} if isinstance(kind, str) else kind})
        if op.query is not None:
            params.append({"in": "query", "schema": op.query})
        if params:
            entry["parameters"] = params
        if op.body is not None:
            # Required when it has a required field (a reason): an empty body would be refused.
            needed = any(f.required for f in schema_instance(op.body).fields.values())
            entry["requestBody"] = {"required": needed, "content": {"application/json": {"schema": op.body}}}
        if op.multipart is not None:
            form = plugin.converter.schema2jsonschema(op.multipart)
            form["properties"].update({name: {"type": "string", "format": "binary", "description": text}
                                       for name, text in op.files.items()})
            form.update(getattr(op.multipart, "OPENAPI", {}))  # what the schema's own checks refuse
            entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
        ok = {"description": "成功"}
        if op.response is not None:
            ok["content"] = {"application/json": {"schema": op.response}}
        entry["responses"][str(op.status)] = ok
        for status in sorted({*op.errors, *((401,) if op.auth else ())}):
            entry["responses"][str(status)] = {
                "description": _ERROR_TEXT.get(status, "錯誤"),
                "content": {"application/json": {"schema": "Error"}}}
        by_path.setdefault(openapi_path(op.rule), {})[op.method.lower()] = entry
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


class TokenRequest(ApiSchema):
    username = text(60, required=True)  # workflows.people.accounts.USERNAME: at most 60 characters
    password = text(PASSWORD_MAX, required=True)


class TokenResponse(Schema):
    token = fields.String(required=True)


@operation("/auth/token", "POST", "以帳號密碼取得 API 權杖", body=TokenRequest, response=TokenResponse,
           errors=(400, 401, 403, 413, 422, 429), auth=False, description=(
               "只計算失敗（帳號或密碼錯誤），成功不計，與登入頁及變更密碼共用計數：同一帳號名稱從同一位址"
               "第 5 次失敗起，每次失敗後須等待 1、2、4…秒（最長 5 分鐘，15 分鐘沒有失敗即歸零，從該位址登入"
               "成功亦歸零）；同一帳號名稱從各處合計第 50 次失敗起亦同；同一來源位址每 10 分鐘最多失敗 100 次"
               "（學校網路可另設上限）。本端點不使用裝置 cookie。受限時不檢查密碼，回 429 與 Retry-After，"
               "details 的 rule 為 sign_in_failures_per_username_and_address、sign_in_failures_per_username "
               "或 sign_in_failures_per_address。"
               "帳號仍使用學校平臺管理者重設的暫時密碼時回 403 password_change_required：請先在網站變更密碼。"))
@sign_in_limited
def token():
    data = parse(TokenRequest, json_body())
    try:
        return jsonify({"token": issue_token(data["username"], data["password"])})
    except Forbidden as refused:
        raise Unauthorized(refused.message) from None


@operation("/auth/token", "DELETE", "結束這個 API 權杖（登出）", status=204, description=(
    "結束 Authorization 標頭所附的權杖：之後再用它一律回 401。其他權杖與網站登入不受影響。"))
def end_token():
    session, _held = g.pop("request_session", (None, ()))
    if session is None:  # the request's body was not at hand: no session was kept open
        sign_in_sessions.end_session(db(), session_id=g.sign_in_session_id)
    else:
        with session:
            sign_in_sessions.end(session, session_id=g.sign_in_session_id)
            session.commit()
    return "", 204


@operation("/openapi.json", "GET", "本 API 的 OpenAPI 3 文件", auth=False,
           response={"type": "object", "description": "OpenAPI 3.0 文件"})
def openapi():
    return jsonify(build_spec())
