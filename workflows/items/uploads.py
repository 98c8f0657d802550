"""Upload 上傳, edit 編輯 and delete 刪除 of course outcomes and multiple performances.

A file is checked by its content (never its name), stored content-addressed and fsync'd before
the database commit records it; the item records each file's SHA-256.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from persistence.files import FileTooLarge, StorageError
from persistence.vocabulary import PERFORMANCE_CATEGORIES
from persistence.tables import Course, Item, Student
from workflows.school import calendar
from workflows.core.clock import now_or
from workflows.core.actors import Actor
from workflows.core.errors import ContentRuleViolation, InvalidInput, RuleViolation, StorageFailed
from workflows.school.filetypes import (HEAD_BYTES, SLOT_LABELS, TAIL_BYTES, FileRejected, check_file,
                                 safe_display_name, unsafe_name_reason)
from workflows.core.policy import KIND_LABELS, MB, FileRule
from workflows.core.fields import text_field
from workflows.items.rules import (EDITABLE_STATES, TITLE_MAX, UPLOADED_STATES, clear_certification, count_items,
                                   item_state_label, require_enrolled, require_enrolled_in, student_side)
from workflows.core.guards import require_current
from workflows.core.transitions import allowed_events, fire, record, require_allowed, start
from workflows.core.unit_of_work import UnitOfWork


class NotEditable(RuleViolation):
    """編輯 refused by the item's state: a conflict with the state, 409 like the machine's own
    refusals (InvalidTransition), naming the state and the events it allows."""

    status = 409
    code = "invalid_transition"

    def __init__(self, item: Item):
        allowed = allowed_events(item)
        allowed_text = "、".join(f"{label}（{event}）" for event, label in allowed) or "無"
        super().__init__(f"目前狀態為「{item_state_label(item)}」（{item.state}），不能編輯。此狀態可執行：{allowed_text}",
                         rule="not_editable", field="state", kind=item.kind, state=item.state, event="edit",
                         allowed_events=[event for event, _label in allowed])


@dataclass
class Upload:
    """A file as the user sent it. `filename` is for display only, never a path."""

    stream: BinaryIO
    filename: str

    @classmethod
    def of(cls, data: bytes, filename: str) -> "Upload":
        return cls(io.BytesIO(data), filename)

LINK_MAX = 500  # characters of an external link (外部連結)


@dataclass(frozen=True)
class _Stored:
    sha256: str
    kind: str
    size: int
    name: str


def _too_large(rule: FileRule, slot: str) -> RuleViolation:
    return ContentRuleViolation(f"{SLOT_LABELS[slot]}超過上限 {rule.max_bytes / MB:g} MB，請縮小檔案後再上傳。",
                         rule="file_too_large", field=slot, limit=rule.max_bytes)


def _vet_all(uow: UnitOfWork, kind: str, uploads: dict) -> None:
    """Every slot's file checked before any is stored, so a refusal of one (the media file over
    its limit) leaves no other (the document) behind in the store."""
    rule = uow.policy.item_rule(kind)
    for slot, upload in uploads.items():
        if upload is not None and upload is not _UNCHANGED:
            _vet(upload, getattr(rule, slot), slot)


def _vet(upload: Upload, rule: FileRule | None, slot: str) -> None:
    if rule is None:
        raise RuleViolation(f"此類項目不能附加{SLOT_LABELS[slot]}。", rule="slot_not_allowed", field=slot)
    unsafe = unsafe_name_reason(upload.filename)
    if unsafe is not None:
        raise ContentRuleViolation(f"{SLOT_LABELS[slot]}的檔名{unsafe}，請改用一般檔名後再上傳。",
                            rule="file_name_unsafe", field=slot)
    _check_before_storing(upload, rule, slot)


def _store(uow: UnitOfWork, upload: Upload, rule: FileRule, slot: str) -> _Stored:
    """Store a file _vet_all passed; a stream that cannot seek is checked here, once stored."""
    field = slot
    uow.hold_file_store()
    try:
        stored = uow.files.put(upload.stream, max_bytes=rule.max_bytes)
    except FileTooLarge as error:
        raise _too_large(rule, slot) from error
    except StorageError as error:
        raise StorageFailed(error.message, reason=error.reason, field=field) from error
    try:
        kind = check_file(stored.head, stored.size, stored.tail, rule, slot=slot, field=field)
    except FileRejected as error:
        # The bytes may stay in the store unreferenced; fsck reports such orphans.
        raise ContentRuleViolation(error.message, rule=error.rule, field=field, limit=error.limit) from error
    return _Stored(stored.sha256, kind, stored.size, safe_display_name(upload.filename))


def _check_before_storing(upload: Upload, rule: FileRule, slot: str) -> None:
    """Refuse bad content before any byte reaches the store (no orphan left behind): read the
    head, the tail and the size of a seekable stream (an in-memory or spooled upload), then
    rewind. A stream that cannot seek is checked after storing, as before."""
    stream = upload.stream
    try:
        if not stream.seekable():
            return
        start = stream.tell()
        head = stream.read(HEAD_BYTES)
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(max(start, start + size - TAIL_BYTES))
        tail = stream.read(TAIL_BYTES)
        stream.seek(start)
    except (AttributeError, OSError, ValueError):
        return
    if size > rule.max_bytes:
        raise _too_large(rule, slot)  # what the store's own limit answers while streaming
    try:
        check_file(head, size, tail, rule, slot=slot, field=slot)
    except FileRejected as error:
        raise ContentRuleViolation(error.message, rule=error.rule, field=slot, limit=error.limit) from error


def _attach(item: Item, slot: str, stored: _Stored | None) -> None:
    setattr(item, f"{slot}_sha256", stored.sha256 if stored else None)
    setattr(item, f"{slot}_kind", stored.kind if stored else None)
    setattr(item, f"{slot}_size", stored.size if stored else None)
    setattr(item, f"{slot}_name", stored.name if stored else None)


def _upload_window(uow, item_kind: str, academic_year: int, semester: int, now: datetime, doing: str):
    if item_kind == "course_outcome":
        return calendar.require_open(uow, "course_outcome_upload", academic_year, semester, now, doing=doing)
    return calendar.require_open(uow, "performance_upload", academic_year, 0, now, doing=doing)


def _check_cap(uow, student_id: int, kind: str, academic_year: int, semester: int) -> None:
    policy = uow.policy
    label = KIND_LABELS[kind]
    if kind == "course_outcome":
        used = count_items(uow, student_id, kind, academic_year, UPLOADED_STATES[kind], semester)
        if used >= policy.outcome_uploads_per_semester:
            raise RuleViolation(
                f"{academic_year} 學年度第 {semester} 學期已上傳 {used} 件{label}，"
                f"已達本校每學期上限 {policy.outcome_uploads_per_semester} 件；請先刪除不需要的草稿。",
                rule="outcome_uploads_per_semester", field="course_id",
                limit=policy.outcome_uploads_per_semester)
        yearly = policy.outcome_uploads_per_year
    else:
        yearly = policy.performance_uploads_per_year
    if yearly is not None:
        used = count_items(uow, student_id, kind, academic_year, UPLOADED_STATES[kind])
        if used >= yearly:
            raise RuleViolation(
                f"{academic_year} 學年度已上傳 {used} 件{label}，已達本校每學年上限 {yearly} 件。",
                rule=f"{'outcome' if kind == 'course_outcome' else 'performance'}_uploads_per_year",
                field="academic_year", limit=yearly)


def _texts(uow, kind: str, title: str | None, description: str | None) -> tuple[str, str]:
    rule = uow.policy.item_rule(kind)
    return (text_field(title, field="title", label="標題", max_chars=TITLE_MAX, required=True),
            text_field(description, field="description", label="簡述",
                       max_chars=rule.description_max_chars, required=False))


def _link(uow, kind: str, external_link: str | None) -> str | None:
    link = (external_link or "").strip() or None
    if link is None:
        return None
    if not uow.policy.item_rule(kind).external_link:
        raise RuleViolation("此類項目不能附加外部連結。", rule="link_not_allowed", field="external_link")
    if not link.startswith(("https://", "http://")) or len(link) > LINK_MAX or any(c.isspace() for c in link):
        raise InvalidInput(f"外部連結須為 http:// 或 https:// 開頭、{LINK_MAX} 字以內的網址。", field="external_link")
    return link


def upload_course_outcome(uow: UnitOfWork, actor: Actor, *, student_id: int, course_id: int,
                          title: str, description: str = "", document: Upload | None = None,
                          media: Upload | None = None, now: datetime | None = None) -> int:
    """上傳課程學習成果: a new draft for one of the student's courses."""
    now = now_or(now)
    actor = student_side(uow, actor, student_id)
    student = uow.lock_student(student_id)
    require_enrolled(student, doing="上傳課程學習成果")
    course = uow.get(Course, course_id, what="課程")
    require_enrolled_in(uow, student_id, course)
    _upload_window(uow, "course_outcome", course.academic_year, course.semester, now, "上傳課程學習成果")
    title, description = _texts(uow, "course_outcome", title, description)
    if document is None and media is None:
        raise InvalidInput("課程學習成果至少要有一個文件或影音檔案。", field="document")
    _check_cap(uow, student_id, "course_outcome", course.academic_year, course.semester)
    return _create(uow, actor, student, "course_outcome", course.academic_year, course.semester,
                   course_id=course.id, category=None, title=title, description=description,
                   external_link=None, document=document, media=media, now=now)


def upload_performance(uow: UnitOfWork, actor: Actor, *, student_id: int, academic_year: int,
                       category: str, title: str, description: str = "",
                       external_link: str | None = None, document: Upload | None = None,
                       media: Upload | None = None, now: datetime | None = None) -> int:
    """上傳多元表現 for an academic year whose performance window is open."""
    now = now_or(now)
    actor = student_side(uow, actor, student_id)
    student = uow.lock_student(student_id)
    require_enrolled(student, doing="上傳多元表現")
    if category not in PERFORMANCE_CATEGORIES:
        raise InvalidInput(f"多元表現類別「{category}」不存在；可選：{'、'.join(PERFORMANCE_CATEGORIES.values())}",
                           field="category")
    _upload_window(uow, "performance", academic_year, 0, now, "上傳多元表現")
    title, description = _texts(uow, "performance", title, description)
    link = _link(uow, "performance", external_link)
    if document is None and media is None and link is None:
        raise InvalidInput("多元表現至少要有證明文件、影音檔案或外部連結其中一項。", field="document")
    _check_cap(uow, student_id, "performance", academic_year, 0)
    return _create(uow, actor, student, "performance", academic_year, 0, course_id=None,
                   category=category, title=title, description=description, external_link=link,
                   document=document, media=media, now=now)


def _create(uow, actor, student: Student, kind, academic_year, semester, *, course_id, category,
            title, description, external_link, document, media, now) -> int:
    rule = uow.policy.item_rule(kind)
    _vet_all(uow, kind, {"document": document, "media": media})
    stored = {slot: _store(uow, upload, getattr(rule, slot), slot)
              for slot, upload in (("document", document), ("media", media)) if upload is not None}
    item = Item(school_id=uow.school_id, student_id=student.id, kind=kind,
                academic_year=academic_year, semester=semester, course_id=course_id,
                category=category, title=title, description=description,
                external_link=external_link, created_at=now, updated_at=now)
    for slot in ("document", "media"):
        _attach(item, slot, stored.get(slot))
    start(uow.session, item, event="upload", actor=actor, at=now)
    uow.commit()
    return item.id


_UNCHANGED = object()


@dataclass(frozen=True)
class Edited:
    """What an edit did: the item after it, and whether a changed file voided its certification
    (the student is told to submit it again)."""

    item: Item
    voided_certification: bool


def edit_item(uow: UnitOfWork, actor: Actor, item_id: int, *, title=_UNCHANGED, description=_UNCHANGED,
              external_link=_UNCHANGED, document: Upload | None | object = _UNCHANGED,
              media: Upload | None | object = _UNCHANGED, expected_version: int | None = None,
              now: datetime | None = None) -> Edited:
    """編輯: change text or files while the upload window is open. Passing None for a file slot
    removes that file. Replacing a certified outcome's file with different content voids the
    certification (back to draft); the identical file (same hash) keeps it."""
    now = now_or(now)
    item = uow.get(Item, item_id, for_update=True, what="學習歷程項目")
    actor = student_side(uow, actor, item.student_id)
    require_current(item, expected_version, what="這個項目")
    if item.state not in EDITABLE_STATES[item.kind]:
        raise NotEditable(item)
    _upload_window(uow, item.kind, item.academic_year, item.semester, now, "編輯")
    rule = uow.policy.item_rule(item.kind)
    if title is not _UNCHANGED or description is not _UNCHANGED:
        new_title, new_description = _texts(
            uow, item.kind, item.title if title is _UNCHANGED else title,
            item.description if description is _UNCHANGED else description)
        item.title, item.description = new_title, new_description
    if external_link is not _UNCHANGED:
        item.external_link = _link(uow, item.kind, external_link)
    files_changed = False
    _vet_all(uow, item.kind, {"document": document, "media": media})
    for slot, upload in (("document", document), ("media", media)):
        if upload is _UNCHANGED:
            continue
        stored = None if upload is None else _store(uow, upload, getattr(rule, slot), slot)
        if (stored.sha256 if stored else None) != getattr(item, f"{slot}_sha256"):
            files_changed = True
        _attach(item, slot, stored)
    if item.kind == "course_outcome" and item.document_sha256 is None and item.media_sha256 is None:
        # A rule on what the item would hold, not on the request alone (the API answers 409).
        raise RuleViolation("課程學習成果至少要有一個文件或影音檔案；不能移除唯一的檔案。", rule="files_required",
                            field="document")
    item.updated_at = now
    certified_files = (item.certified_document_sha256, item.certified_media_sha256)
    voided = (item.state in ("certified", "unselected") and item.kind == "course_outcome"
              and files_changed and (item.document_sha256, item.media_sha256) != certified_files)
    if voided:
        fire(uow.session, item, "void_certification", actor=actor, at=now,
             reason="學生更換檔案，原認證失效，需重新送出認證")
        clear_certification(item)
    else:
        record(uow.session, item, event="edit", from_state=item.state, actor=actor, at=now)
    uow.commit()
    return Edited(item, voided)


def delete_item(uow: UnitOfWork, actor: Actor, item_id: int, *, expected_version: int | None = None,
                now: datetime | None = None) -> None:
    """刪除 a draft (or a rejected outcome) while the upload window is open. The row stays, in
    state deleted, so its history is never lost; it no longer counts against the cap."""
    now = now_or(now)
    item = uow.get(Item, item_id, for_update=True, what="學習歷程項目")
    actor = student_side(uow, actor, item.student_id)
    require_current(item, expected_version, what="這個項目")
    require_allowed(item, "delete")
    _upload_window(uow, item.kind, item.academic_year, item.semester, now, "刪除")
    fire(uow.session, item, "delete", actor=actor, at=now)
    item.updated_at = now
    uow.commit()

