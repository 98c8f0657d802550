"""The API's views of work across many items: a teacher's certification queue and the status
summary. They call the same read models as the pages (workflows/items/queues.py, workflows/items/status.py)."""
from __future__ import annotations

from flask import jsonify, request
from marshmallow import fields

from web.api.core import operation, parse, schema_instance
from web.api.schemas import ApiSchema, DateTime, Id, Integer, Paging, Text, in_range, one_of, text
from web.context import now, school_uow
from workflows.items import queues, status


class QueueQuery(Paging):
    course_id = Id(metadata={"description": "只列此課程（須為呼叫者負責認證的課程）"})
    class_name = text(10, filled=True, metadata={"description": "只列此班級的學生（10 字以內）"})
    state = Text(load_default="submitted", validate=one_of(queues.QUEUE_STATES),
                 metadata={"description": "submitted 等待認證（預設）、certified 已認證、rejected 已退回"})
    sort = Text(load_default="waiting", validate=one_of(queues.SORTS),
                metadata={"description": "waiting 等候最久優先（預設）、-waiting 最近送出優先"})


class QueueRowOut(ApiSchema):
    item_id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    title = fields.String(required=True)
    state = fields.String(required=True)
    state_label = fields.String(required=True)
    student_id = fields.Integer(required=True)
    student_name = fields.String(required=True)
    student_no = fields.String(required=True)
    class_name = fields.String(required=True)
    course_id = fields.Integer(required=True)
    course_name = fields.String(required=True)
    course_code = fields.String(required=True)
    academic_year = fields.Integer(required=True)
    semester = fields.Integer(required=True)
    submitted_at = DateTime(allow_none=True)
    waiting_seconds = fields.Method("_waiting", allow_none=True, metadata={"type": "integer"})
    certified_at = DateTime(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    document_kind = fields.String(allow_none=True)
    media_kind = fields.String(allow_none=True)
    proxied = fields.Boolean(required=True, metadata={"description": "代理認證（任課教師無法認證）"})
    absent_teacher = fields.String(allow_none=True, metadata={"description": "代理時：原任課教師姓名"})
    can_certify = fields.Boolean(required=True)
    can_undo = fields.Boolean(required=True)

    def _waiting(self, row) -> int | None:
        return int(row.waiting.total_seconds()) if row.waiting is not None else None


class QueueWindowOut(ApiSchema):
    academic_year = fields.Integer(required=True)
    semester = fields.Integer(required=True)
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True, metadata={"description": "認證截止（不含），UTC"})
    is_open = fields.Boolean(required=True)


class QueuePageOut(ApiSchema):
    rows = fields.List(fields.Nested(QueueRowOut), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    windows = fields.List(fields.Nested(QueueWindowOut), required=True)


@operation("/queues/certification", "GET", "我的認證佇列（自己的課程與代理的課程）", query=QueueQuery,
           response=QueuePageOut, errors=(403, 404, 422), description=(
               "教職員：等待自己認證的課程學習成果，含代理認證（proxied 為真，absent_teacher 為原任課教師）。"
               "學生與家長：403。course_id 不是自己負責的課程：404。"))
def certification_queue():
    args = parse(QueueQuery, request.args.to_dict())
    with school_uow() as (uow, actor):
        queue = queues.certification_queue(
            uow, actor, now=now(), course_id=args.get("course_id"), class_name=args.get("class_name"),
            state=args["state"], sort=args["sort"], page=args["page"], per_page=args["per_page"])
    return jsonify(schema_instance(QueuePageOut).dump(queue))


class SummaryQuery(ApiSchema):
    academic_year = Integer(required=True, validate=in_range(status.YEAR_MIN, status.YEAR_MAX), metadata={"description": "學年度（民國年）"})
    semester = Integer(validate=in_range(0, 2), metadata={"description": "學期（1、2；0 或省略為全學年）"})


class _CountsOut(ApiSchema):
    total = fields.Integer(required=True)
    states = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class _RateOut(ApiSchema):
    class_name = fields.String(required=True)
    grade = fields.Integer(allow_none=True)
    certified = fields.Integer(required=True)
    submitted = fields.Integer(required=True)
    waiting = fields.Integer(required=True)
    rate = fields.Float(allow_none=True)
    band = fields.String(allow_none=True, metadata={"description": "good ≥80%、warn ≥60%、low <60%（附件 002）"})


class _ReceiptTotalsOut(ApiSchema):
    total = fields.Integer(required=True)
    confirmed = fields.Integer(required=True)
    deemed_confirmed = fields.Integer(required=True)
    disputed = fields.Integer(required=True)
    waiting = fields.Integer(required=True)
    confirmed_share = fields.Float(allow_none=True)


class _ScopeOut(ApiSchema):
    whole_school = fields.Boolean(required=True)
    classes = fields.List(fields.String(), allow_none=True)


class SummaryOut(ApiSchema):
    academic_year = fields.Integer(required=True)
    semester = fields.Integer(allow_none=True)
    scope = fields.Nested(_ScopeOut, required=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Nested(_CountsOut), required=True)
    certification_rate = fields.List(fields.Nested(_RateOut), required=True)
    receipts = fields.Nested(_ReceiptTotalsOut, required=True)


@operation("/status/summary", "GET", "作業狀態摘要：各狀態件數、各班認證率、收訖明細確認", query=SummaryQuery,
           response=SummaryOut, errors=(403, 422), description=(
               "全校性處室：全校；導師：自己的班級；其他人：403。"))
def status_summary():
    args = parse(SummaryQuery, request.args.to_dict())
    with school_uow() as (uow, actor):
        data = status.summary(uow, actor, args["academic_year"], args.get("semester") or None, now=now())
    return jsonify(schema_instance(SummaryOut).dump(data))
