"""The API's marshmallow schemas: what each endpoint takes (query, JSON, multipart form) and what
it answers. The OpenAPI document is generated from these same classes (web/api/core.py), so the
document and the checks cannot drift apart.

Every message a caller can read is Traditional Chinese; every text field refuses what no
database column can hold (NUL, lone surrogates), so bad input answers 422, never a 500.
"""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from persistence.tables import ITEM_KINDS
from states import MACHINES, state_ids
from web.params import ID_MAX, integer_text
from workflows.core.fields import REASON_MAX
from workflows.items.rules import TITLE_MAX
from workflows.core.policy import NATIONAL
from persistence.vocabulary import PERFORMANCE_CATEGORIES
from workflows.items.uploads import LINK_MAX

# The Werkzeug converter for ids in paths. Ids are PostgreSQL `integer` columns, so a number over
# ID_MAX (web/params.py: one rule for every integer of a request) can name no row (and would
# overflow SQLite); it, and anything else (letters, 0), matches no route and answers 404.
ID_CONVERTER = f"int(min=1, max={ID_MAX})"
PER_PAGE_MAX = 200
PAGE_MAX = 100_000

_FIELD_MESSAGES = {"required": "必填欄位，不可省略。", "null": "不可為 null。",
                   "validator_failed": "值不符合規則。"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Text(fields.String):
    """A string a database column can hold."""

    default_error_messages = {**_FIELD_MESSAGES, "invalid": "須為文字（字串）。",
                              "invalid_utf8": "須為有效的 UTF-8 文字。",
                              "control": "不可包含控制字元（例如 NUL）。"}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a JSON "\\ud800" escape
            raise self.make_error("invalid_utf8") from None
        if _CONTROL.search(text):
            raise self.make_error("control")
        return text


class Integer(fields.Integer):
    """An integer. From JSON it must be a JSON integer (strict); from a query string or a form,
    the digits of one."""

    default_error_messages = {**_FIELD_MESSAGES, "invalid": "須為整數。", "too_large": "數字太大。"}

    def _validated(self, value):
        if isinstance(value, str):  # a query string or a form: ASCII digits (web.params), not '²' or '١'
            value = integer_text(value)
            if value is None:
                raise self.make_error("invalid")
        return super()._validated(value)


class DateTime(fields.DateTime):
    """Dumped as ISO 8601 in UTC."""


def in_range(low: int, high: int) -> validate.Range:
    return validate.Range(low, high, error="須為 {min} 到 {max} 之間的整數。")


def one_of(choices) -> validate.OneOf:
    return validate.OneOf(list(choices), error="須為下列之一：{choices}。")


# What a text field may hold, as the document states it (an ECMA-262 pattern, here also a Python
# one): no control character but tab, line feed and carriage return (Text's own check).
_ALLOWED = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# A character str.strip() keeps (written out: ECMA's \s and Python's whitespace differ).
_VISIBLE = r"[^\x00-\x20\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
TEXT_PATTERN = f"^{_ALLOWED}*$"
FILLED_PATTERN = f"^{_ALLOWED}*{_VISIBLE}{_ALLOWED}*$"
LINK_PATTERN = f"^https?://{_VISIBLE}*$"


def text(max_chars: int, *, filled: bool = False, **options) -> Text:
    """A text field of at most `max_chars` characters (as typed, before trimming); `filled`: not
    blank. The document states both, so what it calls valid the workflows accept."""
    validators = [validate.Length(max=max_chars, error="最多 {max} 個字。"),
                  validate.Regexp(FILLED_PATTERN if filled else TEXT_PATTERN,
                                  error="不可空白。" if filled else "不可包含控制字元（例如 NUL）。")]
    return Text(validate=validators, **options)


def link(*, removable: bool = False, **options) -> Text:
    """An external link: http:// or https://, no whitespace, at most LINK_MAX characters
    (workflows/items/uploads._link); `removable`: an empty value removes the link."""
    pattern = f"^(https?://{_VISIBLE}*)?$" if removable else LINK_PATTERN
    return Text(validate=[validate.Length(max=LINK_MAX, error="最多 {max} 個字。"),
                          validate.Regexp(pattern, error="須為 http:// 或 https:// 開頭、不含空白的網址。")],
                **options)


def Id(**options) -> Integer:  # noqa: N802 (reads as a field type)
    return Integer(validate=in_range(1, ID_MAX), **options)


ITEM_STATES = sorted(set().union(*(state_ids(MACHINES[kind]) for kind in ITEM_KINDS)))
RECEIPT_STATES = sorted(state_ids(MACHINES["receipt"]))


# The rule behind each message above, for the `rule` of a 422's details.
_RULES = (("required", "必填"), ("required", "請填寫"), ("unknown_field", "不明的欄位"),
          ("null", "不可為 null"), ("range", "之間的整數"), ("one_of", "須為下列之一"),
          ("type", "須為整數"), ("type", "須為文字"), ("type", "型別"), ("encoding", "UTF-8"),
          ("control_characters", "控制字元"), ("field_of_kind", "只適用於"), ("too_long", "最多"),
          ("blank", "不可空白"), ("link", "網址"), ("files_required", "至少要有"))


def rule_of(message: str) -> str:
    """The rule a validation message states ("required", "range", "one_of"…)."""
    return next((rule for rule, words in _RULES if words in message), "invalid")


class ApiSchema(Schema):
    """Input schemas: unknown fields are refused (422) rather than silently ignored, so a typo in
    a filter never returns everything."""

    error_messages = {"unknown": "不明的欄位（此端點不接受）。", "type": "輸入的型別不正確，須為物件。"}


# -- input ------------------------------------------------------------------------------------

class Paging(ApiSchema):
    """A list's page query: `page` from 1, `per_page` up to PER_PAGE_MAX (50 unless asked)."""

    page = Integer(load_default=1, validate=in_range(1, PAGE_MAX), metadata={"description": "第幾頁（從 1 起）"})
    per_page = Integer(load_default=50, validate=in_range(1, PER_PAGE_MAX),
                       metadata={"description": f"每頁筆數（最多 {PER_PAGE_MAX}）"})


class ArtefactQuery(Paging):
    student_id = Id(metadata={"description": "只列此學生的項目（仍只含呼叫者看得到的）"})
    kind = Text(validate=one_of(ITEM_KINDS), metadata={"description": "course_outcome 課程學習成果、performance 多元表現"})
    state = Text(validate=one_of(ITEM_STATES), metadata={"description": "狀態；未指定時不列已刪除的項目"})
    academic_year = Integer(validate=in_range(1, 999), metadata={"description": "學年度（民國年）"})
    course_id = Id(metadata={"description": "課程編號"})


class ArtefactForm(ApiSchema):
    """The text fields of an upload (multipart/form-data); the files come as `document` and
    `media` file parts."""

    kind = Text(required=True, validate=one_of(ITEM_KINDS),
                metadata={"description": "course_outcome 課程學習成果或 performance 多元表現"})
    student_id = Id(metadata={"description": "學生編號；學生本人可省略，家長連結一位學生時也可省略"})
    course_id = Id(metadata={"description": "課程編號（課程學習成果必填）"})
    academic_year = Integer(validate=in_range(1, 999), metadata={"description": "學年度（多元表現必填）"})
    category = Text(validate=one_of(PERFORMANCE_CATEGORIES), metadata={
        "description": "多元表現類別（多元表現必填）：" + "、".join(f"{k} {v}" for k, v in PERFORMANCE_CATEGORIES.items())})
    title = text(TITLE_MAX, filled=True, required=True, metadata={"description": f"標題（{TITLE_MAX} 字以內）"})
    description = text(NATIONAL.description_max_chars, load_default="", metadata={
        "description": f"簡述（全國上限 {NATIONAL.description_max_chars} 字；學校規定可能更少）"})
    external_link = link(metadata={"description": "外部連結（僅多元表現）"})

    # What the checks below refuse, as the document states it: the fields of each kind, and at
    # least one file (a performance: or its external link).
    # (A field of the other kind is left out of a branch's properties, which admit nothing else.)
    OPENAPI = {"oneOf": [
        {"properties": {"kind": {"enum": ["course_outcome"]}, **{name: {} for name in (
            "student_id", "course_id", "title", "description", "document", "media")}},
         "additionalProperties": False,
         "required": ["course_id"], "anyOf": [{"required": ["document"]}, {"required": ["media"]}]},
        {"properties": {"kind": {"enum": ["performance"]}, **{name: {} for name in (
            "student_id", "academic_year", "category", "title", "description", "external_link", "document",
            "media")}},
         "additionalProperties": False,
         "required": ["academic_year", "category"],
         "anyOf": [{"required": ["document"]}, {"required": ["media"]}, {"required": ["external_link"]}]},
    ]}

    @validates_schema
    def _fields_of_the_kind(self, data, **_kwargs):
        problems = {}
        if data.get("kind") == "course_outcome":
            if data.get("course_id") is None:
                problems["course_id"] = ["課程學習成果須指定課程（course_id）。"]
            for name in ("academic_year", "category", "external_link"):
                if data.get(name) is not None:
                    problems[name] = ["只適用於多元表現；課程學習成果的學年度與學期由課程決定。"]
        elif data.get("kind") == "performance":
            for name in ("academic_year", "category"):
                if data.get(name) is None:
                    problems[name] = ["多元表現必填。"]
            if data.get("course_id") is not None:
                problems["course_id"] = ["只適用於課程學習成果。"]
        if problems:
            raise ValidationError(problems)


class ArtefactEditForm(ApiSchema):
    """The text fields of an edit (multipart/form-data): only what is sent changes; a new file
    comes as a `document` or `media` file part and replaces the one stored."""

    title = text(TITLE_MAX, filled=True, metadata={"description": f"新標題（{TITLE_MAX} 字以內）"})
    description = text(NATIONAL.description_max_chars, metadata={
        "description": f"新簡述（全國上限 {NATIONAL.description_max_chars} 字；學校規定可能更少；空字串清除）"})
    external_link = link(removable=True, metadata={"description": "新外部連結（僅多元表現；空字串移除）"})
    remove_document = fields.Boolean(truthy={"true"}, falsy={"false"}, metadata={
        "description": "true：移除文件（同時送出新的 document 時，以新檔案取代）"})
    remove_media = fields.Boolean(truthy={"true"}, falsy={"false"}, metadata={
        "description": "true：移除影音檔案（同時送出新的 media 時，以新檔案取代）"})
    expected_version = Integer(validate=in_range(0, ID_MAX), metadata={
        "description": "呼叫者看到的版本（version）；若項目已被變更則回 409，不會覆蓋"})

    # Something to change.
    OPENAPI = {
        "anyOf": [{"required": [name]} for name in (
            "title", "description", "external_link", "document", "media")]
        + [{"properties": {f"remove_{slot}": {"enum": [True]}}, "required": [f"remove_{slot}"]}
           for slot in ("document", "media")],
    }


# A file is judged by its content, never its name or its part's Content-Type.
FILE_PARTS = {"document": "文件：pdf、jpg 或 png（多元表現為證明文件），依內容判定；上限依學校規定（全國 4 MB）",
              "media": "影音檔案：mp3 或 mp4，依內容判定；上限依學校規定（全國 10 MB）"}


class EventBody(ApiSchema):
    reason = text(REASON_MAX, allow_none=True, metadata={
        "description": f"原因（退回 reject、處理疑義 resolve 必填；{REASON_MAX} 字以內）"})
    expected_version = Integer(strict=True, allow_none=True, validate=in_range(0, ID_MAX), metadata={
        "description": "呼叫者看到的版本（version）；若項目已被變更則回 409，不會覆蓋"})


class ReasonRequiredBody(EventBody):
    reason = text(REASON_MAX, filled=True, required=True, metadata={"description": f"原因（必填，{REASON_MAX} 字以內）"})


class ReceiptQuery(Paging):
    student_id = Id(metadata={"description": "學生編號"})
    window_id = Id(metadata={"description": "收訖明細確認期間（期程編號）"})
    state = Text(validate=one_of(RECEIPT_STATES), metadata={"description": "收訖明細狀態"})
    kind = Text(validate=one_of(ITEM_KINDS), metadata={"description": "提交的資料類別"})
    academic_year = Integer(validate=in_range(1, 999), metadata={"description": "學年度"})


class ReceiptEventBody(ApiSchema):
    reason = text(REASON_MAX, allow_none=True, metadata={
        "description": f"疑義說明（提出疑義 dispute 必填；{REASON_MAX} 字以內）"})
    expected_version = Integer(strict=True, allow_none=True, validate=in_range(0, ID_MAX), metadata={
        "description": "呼叫者看到的版本（version）；若收訖明細已被變更則回 409，不會覆蓋"})


class DisputeBody(ReceiptEventBody):
    reason = text(REASON_MAX, filled=True, required=True, metadata={"description": f"疑義說明（必填，{REASON_MAX} 字以內）"})


# -- output -----------------------------------------------------------------------------------
# Every field is always present (required); nullable ones say so.

def _out(field: type[fields.Field], *args, nullable: bool = False, description: str | None = None, **options):
    metadata = {"description": description} if description else {}
    return field(*args, required=True, allow_none=nullable, metadata=metadata, **options)


class FileOut(Schema):
    name = _out(fields.String, nullable=True, description="上傳時的檔名（僅供顯示）")
    kind = _out(fields.String, description="依內容判定的格式：pdf、jpg、png、mp3、mp4")
    size = _out(fields.Integer, description="位元組")
    sha256 = _out(fields.String)


class EventOut(Schema):
    event = _out(fields.String)
    label = _out(fields.String)


class ArtefactOut(Schema):
    id = _out(fields.Integer)
    kind = _out(fields.String, description="course_outcome 或 performance")
    kind_label = _out(fields.String)
    student_id = _out(fields.Integer)
    student_no = _out(fields.String, description="學號")
    student_name = _out(fields.String)
    class_name = _out(fields.String)
    academic_year = _out(fields.Integer)
    semester = _out(fields.Integer, description="學期（多元表現為 0：全學年）")
    course_id = _out(fields.Integer, nullable=True)
    course_name = _out(fields.String, nullable=True)
    category = _out(fields.String, nullable=True)
    category_label = _out(fields.String, nullable=True)
    title = _out(fields.String)
    description = _out(fields.String)
    external_link = _out(fields.String, nullable=True)
    document = _out(fields.Nested, FileOut, nullable=True)
    media = _out(fields.Nested, FileOut, nullable=True)
    state = _out(fields.String)
    state_label = _out(fields.String)
    version = _out(fields.Integer, description="送事件時可作為 expected_version")
    rejection_reason = _out(fields.String, nullable=True)
    receipt_id = _out(fields.Integer, nullable=True)
    created_at = _out(DateTime)
    updated_at = _out(DateTime)
    submitted_at = _out(DateTime, nullable=True)
    certified_at = _out(DateTime, nullable=True)
    selected_at = _out(DateTime, nullable=True)


class HistoryEntryOut(Schema):
    event = _out(fields.String)
    event_label = _out(fields.String)
    from_state = _out(fields.String, nullable=True)
    from_label = _out(fields.String, nullable=True)
    to_state = _out(fields.String, nullable=True)
    to_label = _out(fields.String, nullable=True)
    actor_kind = _out(fields.String)
    actor_name = _out(fields.String)
    on_behalf_name = _out(fields.String, nullable=True, description="代理或代為操作時，被代理的人")
    at = _out(DateTime)
    reason = _out(fields.String, nullable=True)


class ArtefactDetailOut(ArtefactOut):
    available_events = _out(fields.List, fields.Nested(EventOut),
                            description="呼叫者現在依狀態圖與身分可送出的事件（期程於送出時檢查）")
    history = _out(fields.List, fields.Nested(HistoryEntryOut), description="稽核紀錄，依時間排序")


class ArtefactStateOut(Schema):
    """What an event answers; the whole item and its history: GET /artefacts/{item_id}."""

    id = _out(fields.Integer)
    kind = _out(fields.String, description="course_outcome 或 performance")
    kind_label = _out(fields.String)
    state = _out(fields.String, description="事件後的狀態")
    state_label = _out(fields.String)
    version = _out(fields.Integer, description="下一個事件可作為 expected_version")
    updated_at = _out(DateTime)
    available_events = _out(fields.List, fields.Nested(EventOut),
                            description="呼叫者現在依狀態圖與身分可送出的事件（期程於送出時檢查）")


class _PageOut(Schema):
    page = _out(fields.Integer)
    per_page = _out(fields.Integer)
    total = _out(fields.Integer)
    pages = _out(fields.Integer)


class ArtefactPageOut(_PageOut):
    items = _out(fields.List, fields.Nested(ArtefactOut))


class ReceiptItemOut(Schema):
    id = _out(fields.Integer)
    kind = _out(fields.String)
    title = _out(fields.String)
    state = _out(fields.String)
    state_label = _out(fields.String)


class ReceiptOut(Schema):
    id = _out(fields.Integer)
    student_id = _out(fields.Integer)
    student_no = _out(fields.String)
    student_name = _out(fields.String)
    class_name = _out(fields.String)
    kind = _out(fields.String, description="提交的資料類別")
    kind_label = _out(fields.String)
    academic_year = _out(fields.Integer)
    window_id = _out(fields.Integer)
    confirm_from = _out(DateTime, description="確認期間開始")
    confirm_by = _out(DateTime, description="確認期間結束（此刻起不能再確認；未確認者視為確認）")
    state = _out(fields.String)
    state_label = _out(fields.String)
    version = _out(fields.Integer, description="送事件時可作為 expected_version")
    issued_at = _out(DateTime)
    closed_at = _out(DateTime, nullable=True)
    reason = _out(fields.String, nullable=True)
    items = _out(fields.List, fields.Nested(ReceiptItemOut))
    available_events = _out(fields.List, fields.Nested(EventOut))


class ReceiptPageOut(_PageOut):
    items = _out(fields.List, fields.Nested(ReceiptOut))
