"""The API's endpoints (artefacts, queues, receipts, status).

Each view parses its input with a schema (422 naming the field), checks that the caller may see
what it names (404 otherwise, exactly as for an id that does not exist), calls the same
workflows/ function the pages and the CLI call, and dumps the read model with a schema.
Someone who may see an artefact but not act on it gets the workflow's 403.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from typing import Callable

from flask import jsonify, request, url_for

from persistence.tables import Item
from states import MACHINES, state_label
from web.api.core import operation, parse, schema_instance
from web.api.schemas import (FILE_PARTS, ID_CONVERTER, ID_MAX, ArtefactDetailOut, ArtefactEditForm, ArtefactForm,
                             ArtefactPageOut, ArtefactQuery, ArtefactStateOut, DisputeBody, EventBody,
                             ReasonRequiredBody, ReceiptEventBody, ReceiptOut, ReceiptPageOut, ReceiptQuery)
from web.context import now, school_uow
from web.json_body import json_body
from workflows.items import artefacts_view, bulk, certification, selection, uploads
from workflows.central import disputes, receipts
from workflows.people.access import require_item, require_receipt, require_student
from workflows.items.artefacts_view import ITEM_EVENT_SIDES, RECEIPT_EVENT_SIDES
from workflows.core.transitions import allowed_events
from workflows.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from workflows.core.policy import KIND_LABELS

_ID = {"type": "integer", "minimum": 1, "maximum": ID_MAX}


@dataclass(frozen=True)
class _EventCall:
    """How one event reaches its workflow function: (uow, actor, id, body, now) → None."""

    call: Callable
    body: type
    # The workflow's first lock is the item's own: the access check may take it (saving a read).
    # Select and unselect lock the student first; taking the item's lock before would invert
    # the order against a concurrent selection of another item of the same student.
    locks_item_first: bool = True


# Every event's workflow takes the version the caller saw and checks it on the locked row.
def _reasoned(function):
    return lambda uow, actor, row_id, body, at: function(
        uow, actor, row_id, reason=body["reason"], expected_version=body.get("expected_version"), now=at)


def _versioned(function):
    return lambda uow, actor, row_id, body, at: function(
        uow, actor, row_id, expected_version=body.get("expected_version"), now=at)


ITEM_EVENTS: dict[str, _EventCall] = {
    "submit": _EventCall(_versioned(certification.submit), EventBody),
    "withdraw": _EventCall(_versioned(certification.withdraw), EventBody),
    "resubmit": _EventCall(_versioned(certification.resubmit), EventBody),
    "certify": _EventCall(_versioned(certification.certify), EventBody),
    "reject": _EventCall(_reasoned(certification.reject), ReasonRequiredBody),
    "select": _EventCall(_versioned(selection.select), EventBody, locks_item_first=False),
    "unselect": _EventCall(_versioned(selection.unselect), EventBody, locks_item_first=False),
    "delete": _EventCall(_versioned(uploads.delete_item), EventBody),
    # 撤銷認證: the teacher's undo, one item of workflows/items/bulk.py's.
    "revoke_certification": _EventCall(lambda uow, actor, item_id, body, at: bulk.undo_certification(
        uow, actor, [item_id], expected_versions={item_id: body.get("expected_version")}, now=at), EventBody),
    # 處理疑義: the office's note is the reason.
    "resolve": _EventCall(lambda uow, actor, item_id, body, at: disputes.resolve(
        uow, actor, item_id, kind="answered", reason=body["reason"], expected_version=body.get("expected_version"),
        now=at),
        ReasonRequiredBody),
}
RECEIPT_EVENTS: dict[str, _EventCall] = {
    "confirm": _EventCall(_versioned(receipts.confirm), ReceiptEventBody),
    "dispute": _EventCall(_reasoned(receipts.dispute), DisputeBody),
}
# The read model offers exactly the events this module can fire.
assert set(ITEM_EVENTS) == set(ITEM_EVENT_SIDES) and set(RECEIPT_EVENTS) == set(RECEIPT_EVENT_SIDES)

_KIND_EVENTS = {kind: {e.id for e in MACHINES[kind].events} for kind in ("course_outcome", "performance")}


class _NotOfKind(DomainError):
    """An event of the other kind's machine (withdraw on a performance): this item allows it in
    no state, so, like any event its state does not allow, 409 naming the state and the events
    it allows now."""

    status = 409
    code = "invalid_transition"

    def __init__(self, item: Item, event: str):
        known = sorted(_KIND_EVENTS[item.kind] & set(ITEM_EVENTS))
        allowed = allowed_events(item)
        super().__init__(
            f"{KIND_LABELS[item.kind]}沒有「{event}」這個事件（可用的事件：{'、'.join(known)}）；"
            f"目前狀態「{state_label(MACHINES[item.kind], item.state)}」可執行："
            f"{'、'.join(f'{label}（{eid}）' for eid, label in allowed) or '無'}。",
            field="event", rule="event_of_kind", kind=item.kind, state=item.state, event=event,
            allowed_events=[eid for eid, _label in allowed], known_events=known)


def _dump(schema, value, status: int = 200, headers: dict | None = None):
    return jsonify(schema_instance(schema).dump(value)), status, headers or {}


def _listed(query, filter_type, list_page, out):
    """A filtered page: the query's filters are the read model's filter fields, by name."""
    args = parse(query, request.args.to_dict())
    filters = filter_type(**{f.name: args.get(f.name) for f in fields(filter_type)})
    with school_uow() as (uow, actor):
        page = list_page(uow, actor, filters, page=args["page"], per_page=args["per_page"])
    return _dump(out, page)


# -- artefacts --------------------------------------------------------------------------------

@operation("/artefacts", "GET", "列出看得到的學習歷程項目（可篩選、分頁）", query=ArtefactQuery,
           response=ArtefactPageOut, errors=(422,), description=(
               "學生：自己的項目；家長：所連結學生的項目；教職員：依職務看得到的項目（全校性處室全部、"
               "導師本班、任課教師可認證課程的成果）。篩選只會縮小範圍，不會擴大。"))
def list_artefacts():
    return _listed(ArtefactQuery, artefacts_view.ArtefactFilter, artefacts_view.list_artefacts, ArtefactPageOut)


_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _multipart(schema) -> tuple[dict, dict[str, uploads.Upload | None]]:
    """The form's text fields (checked by `schema`) and its file parts, each named once: a part
    without a name, a name sent twice, a file under a text field's name or text under a file's
    name would otherwise be dropped or picked at random. 422 naming the part; over the request's
    limit, 413 (reading the body)."""
    if request.mimetype not in _FORM_TYPES:
        raise InvalidInput("請以 multipart/form-data 送出上傳表單。", field="body", rule="multipart_required")
    texts, parts = list(request.form.lists()), list(request.files.lists())
    if any(not name for name, _values in texts + parts):
        raise InvalidInput("上傳表單中有沒有名稱（name）的部分，無法判斷它是哪個欄位；每個部分都須有名稱。",
                           field="body", rule="unnamed_part")
    counts = Counter(name for name, values in texts + parts for _value in values)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise InvalidInput(f"欄位 {'、'.join(repeated)} 送了不只一次；每個欄位只能送一次。",
                           field=repeated[0], rule="duplicate_part")
    unknown = sorted(name for name, _values in parts if name not in FILE_PARTS)
    if unknown:
        raise InvalidInput(f"不明的檔案欄位：{'、'.join(unknown)}；只接受 document 與 media。",
                           field=unknown[0], rule="unknown_file_part")
    as_text = sorted(name for name, _values in texts if name in FILE_PARTS)
    if as_text:
        raise InvalidInput(f"{as_text[0]} 須以檔案送出（Content-Disposition 含 filename）。",
                           field=as_text[0], rule="file_part_expected")
    form = parse(schema, request.form.to_dict())
    files = {}
    for slot in FILE_PARTS:
        part = request.files.get(slot)
        # A browser's form with no file chosen sends an empty part with an empty filename.
        files[slot] = uploads.Upload(part.stream, part.filename) if part and part.filename else None
    return form, files


def _student_for_upload(actor, given: int | None) -> int:
    if given is not None:
        return given
    if actor.kind == "student":
        return actor.id
    if actor.kind == "guardian" and len(actor.student_ids) == 1:
        return next(iter(actor.student_ids))
    if actor.kind != "guardian":  # staff upload for nobody: the workflow's own refusal, whoever is named
        raise Forbidden("只能操作自己的學習歷程資料。")
    raise InvalidInput("請指定學生（student_id）。", field="student_id", rule="required",
                       fields={"student_id": ["必填欄位，不可省略。"]})


@operation("/artefacts", "POST", "上傳一件課程學習成果或多元表現（multipart/form-data）",
           multipart=ArtefactForm, files=FILE_PARTS, response=ArtefactDetailOut, status=201,
           errors=(403, 404, 409, 413, 422, 503, 507), description=(
               "學生為自己、家長為所連結的學生（本校規定允許時）上傳；於上傳期間內。檔案依內容檢查格式與大小"
               "（422：格式、大小、檔名、字數）；期間未開放、件數已達上限、不在學或未修習該課程等依目前狀態的規定回 409。"
               "檔案寫入磁碟並同步後才回 201；儲存空間不足回 507、磁碟寫入失敗回 503，兩者皆未儲存任何資料。"))
def create_artefact():
    form, files = _multipart(ArtefactForm)
    with school_uow() as (uow, actor):
        student_id = _student_for_upload(actor, form.get("student_id"))
        require_student(uow, actor, student_id)  # someone else's student: 404, as if absent
        texts = {"title": form["title"], "description": form["description"]}
        if form["kind"] == "course_outcome":
            item_id = uploads.upload_course_outcome(
                uow, actor, student_id=student_id, course_id=form["course_id"], **texts, **files, now=now())
        else:
            item_id = uploads.upload_performance(
                uow, actor, student_id=student_id, academic_year=form["academic_year"],
                category=form["category"], external_link=form.get("external_link"), **texts, **files,
                now=now())
        detail = artefacts_view.artefact_detail(uow, actor, item_id)
    return _dump(ArtefactDetailOut, detail, 201, {"Location": url_for("api.get_artefact", item_id=item_id)})


_ITEM_ID = {"item_id": {**_ID, "description": "學習歷程項目編號"}}


@operation(f"/artefacts/<{ID_CONVERTER}:item_id>", "PATCH",
           "修改一件學習歷程項目：標題、簡述、外部連結，更換或移除檔案（multipart/form-data）",
           multipart=ArtefactEditForm, files=FILE_PARTS, path_params=_ITEM_ID, response=ArtefactDetailOut,
           errors=(403, 404, 409, 413, 422, 503, 507), description=(
               "與網站的編輯頁規則相同：學生本人（或本校規定允許時的家長）"
               "於上傳期間內，在可編輯的狀態修改；只改送出的欄位。已認證（或未勾選）的課程學習成果更換為不同內容的"
               "檔案時，原認證失效，項目回到草稿，須重新送出認證；內容相同的檔案不影響認證。"
               "目前狀態不能編輯時回 409，details 含 state 與 allowed_events；expected_version 與目前版本不同時回 "
               "409 conflict，不會覆蓋。檔案依內容檢查格式與大小。"))
def edit_artefact(item_id: int):
    form, files = _multipart(ArtefactEditForm)
    changes = {name: form[name] for name in ("title", "description", "external_link") if name in form}
    for slot, upload in files.items():
        if upload is not None:  # with remove_<slot> too: the new file replaces the old one
            changes[slot] = upload
        elif form.get(f"remove_{slot}"):
            changes[slot] = None
    if not changes:
        raise InvalidInput("沒有要修改的內容：請送出 title、description、external_link、document、media、"
                           "remove_document 或 remove_media 其中至少一項。", field="body", rule="nothing_to_change")
    with school_uow() as (uow, actor):
        # Not theirs to see: 404, as if absent. The workflow takes the item's lock first.
        require_item(uow, actor, item_id, for_update=True)
        uploads.edit_item(uow, actor, item_id, expected_version=form.get("expected_version"), now=now(), **changes)
        detail = artefacts_view.artefact_detail(uow, actor, item_id)
    return _dump(ArtefactDetailOut, detail)


@operation(f"/artefacts/<{ID_CONVERTER}:item_id>", "GET", "一件學習歷程項目：狀態、呼叫者可送出的事件、歷程紀錄",
           path_params=_ITEM_ID, response=ArtefactDetailOut, errors=(404,))
def get_artefact(item_id: int):
    with school_uow() as (uow, actor):
        detail = artefacts_view.artefact_detail(uow, actor, item_id)
    return _dump(ArtefactDetailOut, detail)


# An event whose body must carry a reason has a path of its own, so that the document states the
# body each event takes (one templated path has one body).
_REASONED_ITEM_EVENTS = {"reject": "認證失敗（退回），reason 必填", "resolve": "處理疑義，reason 必填"}
_REASONED_RECEIPT_EVENTS = {"dispute": "提出疑義，reason 必填"}


@operation(f"/artefacts/<{ID_CONVERTER}:item_id>/events/<event>", "POST", "對一件學習歷程項目送出事件",
           path_params={**_ITEM_ID, "event": {"type": "string", "description": "事件（reject、resolve 見各自的路徑）",
                                              "enum": sorted(set(ITEM_EVENTS) - set(_REASONED_ITEM_EVENTS))}},
           body=EventBody, response=ArtefactStateOut, errors=(400, 403, 404, 409, 413, 422), description=(
               "學生（或家長代為）：submit 送出認證、withdraw 撤回、resubmit 重新送出、select 勾選、"
               "unselect 取消勾選、delete 刪除；任課教師（或代理人）：certify 認證通過、reject 認證失敗"
               "（reason 必填）、revoke_certification 撤銷自己的認證（認證期間內、學生勾選前）；"
               "提交負責單位：resolve 處理疑義（reason 必填）。"
               "成功時回傳事件後的狀態、版本與呼叫者接著可送出的事件；項目的完整內容與歷程紀錄請以 "
               "GET /artefacts/{item_id} 取得。"
               "目前狀態不允許時回 409，details 含 state 與 allowed_events；"
               "expected_version 與目前版本不同時回 409 conflict，不會覆蓋。"))
def fire_artefact_event(item_id: int, event: str):
    handler = ITEM_EVENTS.get(event)
    if handler is None:
        raise NotFound(f"沒有「{event}」這個事件；可用的事件：{'、'.join(sorted(ITEM_EVENTS))}。",
                       event=event, known_events=sorted(ITEM_EVENTS))
    body = parse(handler.body, json_body())
    with school_uow() as (uow, actor):
        # Not theirs to see: 404, as if absent. The workflow reads the item again, locked (a
        # lock this transaction already holds costs no query).
        item = require_item(uow, actor, item_id, for_update=handler.locks_item_first)
        if event not in _KIND_EVENTS[item.kind]:
            raise _NotOfKind(item, event)
        handler.call(uow, actor, item_id, body, now())
        after = artefacts_view.artefact_state(uow, actor, item_id)
    return _dump(ArtefactStateOut, after)


def _fixed_event(fire, event: str):
    def view(**kwargs):
        return fire(event=event, **kwargs)
    view.__name__ = f"{fire.__name__}_{event}"
    return view


for _event, _summary in _REASONED_ITEM_EVENTS.items():
    operation(f"/artefacts/<{ID_CONVERTER}:item_id>/events/{_event}", "POST", f"對一件學習歷程項目送出 {_event}：{_summary}",
              path_params=_ITEM_ID, body=ReasonRequiredBody, response=ArtefactStateOut,
              errors=(400, 403, 404, 409, 413, 422), description=(
                  "與 POST /artefacts/{item_id}/events/{event} 相同，reason 必填。"))(
        _fixed_event(fire_artefact_event, _event))


# -- receipts ---------------------------------------------------------------------------------

@operation("/receipts", "GET", "列出收訖明細", query=ReceiptQuery, response=ReceiptPageOut,
           errors=(403, 422), description=(
               "學生：自己的；家長：所連結學生的；提交負責單位（註冊組、設備組、訓育組、學校平臺管理者）："
               "全校，可依確認期間、學生、狀態篩選。其他教職員：403。"))
def list_receipts():
    return _listed(ReceiptQuery, artefacts_view.ReceiptFilter, artefacts_view.list_receipts, ReceiptPageOut)


@operation(f"/receipts/<{ID_CONVERTER}:receipt_id>/events/<event>", "POST", "確認收訖明細或提出疑義",
           path_params={"receipt_id": {**_ID, "description": "收訖明細編號"},
                        "event": {"type": "string", "description": "事件（dispute 見其路徑）",
                                  "enum": sorted(set(RECEIPT_EVENTS) - set(_REASONED_RECEIPT_EVENTS))}},
           body=ReceiptEventBody, response=ReceiptOut, errors=(400, 403, 404, 409, 413, 422), description=(
               "學生（或家長代為）於確認期間內：confirm 確認收訖、dispute 提出疑義（reason 必填）。"
               "expected_version 與目前版本不同時回 409 conflict，不會覆蓋。"))
def fire_receipt_event(receipt_id: int, event: str):
    handler = RECEIPT_EVENTS.get(event)
    if handler is None:
        raise NotFound(f"沒有「{event}」這個事件；可用的事件：{'、'.join(sorted(RECEIPT_EVENTS))}。",
                       event=event, known_events=sorted(RECEIPT_EVENTS))
    body = parse(handler.body, json_body())
    with school_uow() as (uow, actor):
        # Not theirs to see: 404. The workflow reads the receipt again, locked and afresh.
        require_receipt(uow, actor, receipt_id)
        handler.call(uow, actor, receipt_id, body, now())
        view = artefacts_view.receipt_view(uow, actor, receipt_id)
    return _dump(ReceiptOut, view)


for _event, _summary in _REASONED_RECEIPT_EVENTS.items():
    operation(f"/receipts/<{ID_CONVERTER}:receipt_id>/events/{_event}", "POST", f"收訖明細{_summary}",
              path_params={"receipt_id": {**_ID, "description": "收訖明細編號"}}, body=DisputeBody,
              response=ReceiptOut, errors=(400, 403, 404, 409, 413, 422), description=(
                  "學生（或家長代為）於確認期間內提出疑義；reason 必填。"))(_fixed_event(fire_receipt_event, _event))
