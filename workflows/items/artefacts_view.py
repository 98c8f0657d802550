"""Read models of artefacts (學習歷程項目: course outcomes and multiple performances, and
收訖明細 receipts) as one person may see them: listings filtered and paginated in SQL, one
item with the events its viewer may fire now and its audit history (歷程紀錄).

Who sees what is workflows/people/access.py's rule, expressed here as SQL so a page of a large school
costs a page. Which events a viewer is offered is the state diagram (states/) narrowed to the
viewer's side; windows, caps and the rest are checked when the event is fired.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import false, func, or_, select, true

from persistence.tables import AuditEntry, Course, Item, Receipt, Student, Window
from states import MACHINES, event_label, state_ids, state_label
from workflows.people.access import certifiable_courses, homeroom_class_names, require_item, require_receipt
from workflows.core.actors import Actor
from workflows.people.offices import SUBMISSION_ROLES, may_resolve
from workflows.core.errors import Forbidden
from workflows.core.policy import KIND_LABELS, receipt_category_label
from workflows.items.rules import acting_rights
from workflows.people.routing import certifiers
from workflows.people.working_group import sees_whole_school
from workflows.core.transitions import allowed_events
from persistence.vocabulary import PERFORMANCE_CATEGORIES

T = TypeVar("T")

# Which side fires each item event: the student (or a guardian for them), the course's
# certifier, or the office that handles disputes. Events not listed (lock, submit_central,
# deem_confirmed…) belong to the scheduler and to batches, never to one person on one item.
ITEM_EVENT_SIDES: dict[str, str] = {
    "submit": "student", "withdraw": "student", "resubmit": "student",
    "select": "student", "unselect": "student", "delete": "student",
    "certify": "certifier", "reject": "certifier", "revoke_certification": "certifier",
    "resolve": "office",
}
RECEIPT_EVENT_SIDES: dict[str, str] = {"confirm": "student", "dispute": "student"}

# Audit events that are not moves of a machine (creation, edits, notices…), as people read them.
OTHER_EVENT_LABELS = {
    "upload": "上傳", "edit": "編輯內容", "issue": "開立收訖明細", "create_account": "建立帳號",
    "paper_notice": "寄送紙本通知", "purge": "保存期限屆滿刪除", "freeze_selection": "勾選截止",
    "resolve_answered": "疑義已回覆學生", "resolve_resubmit": "疑義：更正後重新提交",
}


@dataclass(frozen=True)
class FileView:
    name: str | None
    kind: str
    size: int
    sha256: str


@dataclass(frozen=True)
class EventView:
    event: str
    label: str


@dataclass(frozen=True)
class ArtefactView:
    id: int
    kind: str
    kind_label: str
    student_id: int
    student_no: str
    student_name: str
    class_name: str
    academic_year: int
    semester: int
    course_id: int | None
    course_name: str | None
    category: str | None
    category_label: str | None
    title: str
    description: str
    external_link: str | None
    document: FileView | None
    media: FileView | None
    state: str
    state_label: str
    version: int
    rejection_reason: str | None
    receipt_id: int | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    certified_at: datetime | None
    selected_at: datetime | None


@dataclass(frozen=True)
class HistoryEntry:
    """One audit row as people read it: the event and the states it moved between, labelled."""

    event: str
    event_label: str
    from_state: str | None
    from_label: str | None
    to_state: str | None
    to_label: str | None
    actor_kind: str
    actor_name: str
    on_behalf_name: str | None
    at: datetime
    reason: str | None

    @classmethod
    def of(cls, entry: AuditEntry, other_events: dict[str, str] = OTHER_EVENT_LABELS, **extra):
        """`entry` labelled; `extra`: the fields a subclass adds."""
        kind = entry.subject_kind
        return cls(event=entry.event, event_label=label_event(kind, entry.event, other_events),
                   from_state=entry.from_state, from_label=label_state(kind, entry.from_state),
                   to_state=entry.to_state, to_label=label_state(kind, entry.to_state),
                   actor_kind=entry.actor_kind, actor_name=entry.actor_name,
                   on_behalf_name=entry.on_behalf_name, at=entry.at, reason=entry.reason, **extra)


@dataclass(frozen=True)
class ArtefactDetail(ArtefactView):
    available_events: tuple[EventView, ...]
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class ArtefactState:
    """What firing an event answers: the item's state and version after it and what its actor
    may fire next. The rest of the item and its history are artefact_detail's."""

    id: int
    kind: str
    kind_label: str
    state: str
    state_label: str
    version: int
    updated_at: datetime
    available_events: tuple[EventView, ...]


@dataclass(frozen=True)
class ReceiptItemView:
    id: int
    kind: str
    title: str
    state: str
    state_label: str


@dataclass(frozen=True)
class ReceiptView:
    id: int
    student_id: int
    student_no: str
    student_name: str
    class_name: str
    kind: str
    kind_label: str
    academic_year: int
    window_id: int
    confirm_from: datetime
    confirm_by: datetime
    state: str
    state_label: str
    version: int
    issued_at: datetime
    closed_at: datetime | None
    reason: str | None
    items: tuple[ReceiptItemView, ...]
    available_events: tuple[EventView, ...]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page


@dataclass(frozen=True)
class ArtefactFilter:
    student_id: int | None = None
    kind: str | None = None
    state: str | None = None
    academic_year: int | None = None
    course_id: int | None = None


@dataclass(frozen=True)
class ReceiptFilter:
    student_id: int | None = None
    window_id: int | None = None
    state: str | None = None
    kind: str | None = None
    academic_year: int | None = None


# -- labels -----------------------------------------------------------------------------------

def label_state(kind: str, state: str | None) -> str | None:
    """The state's label in the kind's machine; what an audit row stores that is not one (a
    student's status, a subject with no machine) as it is."""
    if state is None:
        return None
    machine = MACHINES.get(kind)
    return state_label(machine, state) if machine and state in state_ids(machine) else state


def label_event(kind: str, event: str, other_events: dict[str, str] = OTHER_EVENT_LABELS) -> str:
    """The event's label in the kind's machine, else in `other_events`, else the event as stored."""
    machine = MACHINES.get(kind)
    if machine is not None and event in {e.id for e in machine.events}:
        return event_label(machine, event)
    return other_events.get(event, event)


# -- items ------------------------------------------------------------------------------------

def _visible_items(uow, actor: Actor):
    """access.can_view_item as an SQL condition (with Student joined)."""
    if actor.kind == "student":
        return Item.student_id == actor.id
    if actor.kind == "guardian":
        return Item.student_id.in_(sorted(actor.student_ids)) if actor.student_ids else false()
    if not actor.is_staff:
        return false()
    if sees_whole_school(actor):
        return true()
    conditions = []
    classes = homeroom_class_names(uow, actor)
    if classes:
        conditions.append(Student.class_name.in_(sorted(classes)))
    courses = certifiable_courses(uow, actor)
    if courses:
        conditions.append(Item.course_id.in_(sorted(courses)))
    return or_(*conditions) if conditions else false()


def _item_statement(uow, *columns):
    return (select(*columns)
            .join(Student, (Student.school_id == Item.school_id) & (Student.id == Item.student_id))
            .outerjoin(Course, (Course.school_id == Item.school_id) & (Course.id == Item.course_id))
            .where(Item.school_id == uow.school_id))


def _file(item: Item, slot: str) -> FileView | None:
    sha256 = getattr(item, f"{slot}_sha256")
    if sha256 is None:
        return None
    return FileView(getattr(item, f"{slot}_name"), getattr(item, f"{slot}_kind"),
                    getattr(item, f"{slot}_size"), sha256)


def _view(item: Item, student_no: str, student_name: str, class_name: str,
          course_name: str | None) -> ArtefactView:
    return ArtefactView(
        id=item.id, kind=item.kind, kind_label=KIND_LABELS[item.kind], student_id=item.student_id,
        student_no=student_no, student_name=student_name, class_name=class_name,
        academic_year=item.academic_year, semester=item.semester, course_id=item.course_id,
        course_name=course_name, category=item.category,
        category_label=PERFORMANCE_CATEGORIES.get(item.category) if item.category else None,
        title=item.title, description=item.description or "", external_link=item.external_link,
        document=_file(item, "document"), media=_file(item, "media"), state=item.state,
        state_label=label_state(item.kind, item.state), version=item.version,
        rejection_reason=item.rejection_reason, receipt_id=item.receipt_id,
        created_at=item.created_at, updated_at=item.updated_at, submitted_at=item.submitted_at,
        certified_at=item.certified_at, selected_at=item.selected_at)


def list_artefacts(uow, actor: Actor, filters: ArtefactFilter = ArtefactFilter(), *, page: int = 1,
                   per_page: int = 50) -> Page[ArtefactView]:
    """The items `actor` may see, latest school year first, one page of them. Deleted items
    (kept for their history) are listed only when asked for by state."""
    uow.require_member(actor)
    where = [_visible_items(uow, actor)]
    if filters.student_id is not None:
        where.append(Item.student_id == filters.student_id)
    if filters.kind is not None:
        where.append(Item.kind == filters.kind)
    if filters.state is not None:
        where.append(Item.state == filters.state)
    else:
        where.append(Item.state != "deleted")
    if filters.academic_year is not None:
        where.append(Item.academic_year == filters.academic_year)
    if filters.course_id is not None:
        where.append(Item.course_id == filters.course_id)
    total = uow.session.scalar(_item_statement(uow, func.count(Item.id)).where(*where))
    rows = uow.session.execute(
        _item_statement(uow, Item, Student.student_no, Student.name, Student.class_name, Course.name)
        .where(*where)
        .order_by(Item.academic_year.desc(), Item.semester.desc(), Item.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    return Page([_view(*row) for row in rows], page, per_page, total)


def _sides(uow, actor: Actor, item: Item) -> set[str]:
    sides = set()
    if acting_rights(uow, actor, item.student_id)[0]:
        sides.add("student")
    if actor.is_staff and item.course_id is not None:
        course = uow.get(Course, item.course_id, what="課程")
        if actor.id in certifiers(uow, course).staff_ids:
            sides.add("certifier")
    if actor.is_staff and item.state == "disputed" and may_resolve(uow, actor, item):
        sides.add("office")  # the office the policy routes disputes to
    return sides


def item_events(uow, actor: Actor, item: Item) -> list[EventView]:
    """The events `actor` may fire on `item` now, by the diagram and by who they are. A
    certification is undone only by whoever made it (workflows/items/bulk.undo_certification)."""
    sides = _sides(uow, actor, item)
    return [EventView(event, label) for event, label in allowed_events(item)
            if ITEM_EVENT_SIDES.get(event) in sides
            and (event != "revoke_certification" or item.certified_by_id == actor.id)]


def history(uow, subject_kind: str, subject_id: int,
            other_events: dict[str, str] = OTHER_EVENT_LABELS) -> list[HistoryEntry]:
    """Every audited change of one artefact, oldest first."""
    entries = uow.session.scalars(uow.select(AuditEntry).where(
        AuditEntry.subject_kind == subject_kind, AuditEntry.subject_id == subject_id)
        .order_by(AuditEntry.at, AuditEntry.id))
    return [HistoryEntry.of(e, other_events) for e in entries]


def artefact_detail(uow, actor: Actor, item_id: int) -> ArtefactDetail:
    """One item as `actor` sees it (NotFound if they may not): its state, the events they may
    fire now, its history."""
    item = require_item(uow, actor, item_id)
    student = uow.get(Student, item.student_id, what="學生")
    course = uow.get(Course, item.course_id, what="課程") if item.course_id is not None else None
    view = _view(item, student.student_no, student.name, student.class_name,
                 course.name if course else None)
    return ArtefactDetail(**{f.name: getattr(view, f.name) for f in fields(ArtefactView)},
                          available_events=tuple(item_events(uow, actor, item)),
                          history=tuple(history(uow, item.kind, item.id)))


def artefact_state(uow, actor: Actor, item_id: int) -> ArtefactState:
    """One item's state as `actor` sees it (NotFound if they may not): after an event, from the
    rows the event read, so it usually costs no query."""
    item = require_item(uow, actor, item_id)
    return ArtefactState(id=item.id, kind=item.kind, kind_label=KIND_LABELS[item.kind], state=item.state,
                         state_label=label_state(item.kind, item.state), version=item.version,
                         updated_at=item.updated_at, available_events=tuple(item_events(uow, actor, item)))


# -- receipts ---------------------------------------------------------------------------------

def _visible_receipts(actor: Actor):
    if actor.kind == "student":
        return Receipt.student_id == actor.id
    if actor.kind == "guardian":
        return Receipt.student_id.in_(sorted(actor.student_ids)) if actor.student_ids else false()
    if actor.is_staff and actor.has(*SUBMISSION_ROLES):
        return true()
    raise Forbidden("只有學生本人、家長或提交負責單位（註冊組、設備組、訓育組）可以查看收訖明細清單。")


_RECEIPT_COLUMNS = (Receipt, Student.student_no, Student.name, Student.class_name,
                    Window.starts_at, Window.ends_at)


def _receipt_statement(uow, *columns):
    return (select(*columns)
            .join(Student, (Student.school_id == Receipt.school_id) & (Student.id == Receipt.student_id))
            .join(Window, (Window.school_id == Receipt.school_id) & (Window.id == Receipt.window_id))
            .where(Receipt.school_id == uow.school_id))


def _receipt_views(uow, actor: Actor, rows) -> list[ReceiptView]:
    ids = [row[0].id for row in rows]
    items: dict[int, list[ReceiptItemView]] = {rid: [] for rid in ids}
    if ids:
        for item_id, kind, title, state, receipt_id in uow.session.execute(
                select(Item.id, Item.kind, Item.title, Item.state, Item.receipt_id)
                .where(Item.school_id == uow.school_id, Item.receipt_id.in_(ids)).order_by(Item.id)):
            items[receipt_id].append(ReceiptItemView(item_id, kind, title, state, label_state(kind, state)))
    views = []
    for receipt, student_no, student_name, class_name, starts_at, ends_at in rows:
        offered = ()
        if acting_rights(uow, actor, receipt.student_id)[0]:
            offered = tuple(EventView(event, label) for event, label in allowed_events(receipt)
                            if event in RECEIPT_EVENT_SIDES)
        views.append(ReceiptView(
            id=receipt.id, student_id=receipt.student_id, student_no=student_no,
            student_name=student_name, class_name=class_name, kind=receipt.category,
            kind_label=receipt_category_label(receipt.category),
            academic_year=receipt.academic_year, window_id=receipt.window_id,
            confirm_from=starts_at, confirm_by=ends_at, state=receipt.state,
            state_label=label_state("receipt", receipt.state), version=receipt.version,
            issued_at=receipt.issued_at, closed_at=receipt.closed_at, reason=receipt.reason,
            items=tuple(items[receipt.id]), available_events=offered))
    return views


def list_receipts(uow, actor: Actor, filters: ReceiptFilter = ReceiptFilter(), *, page: int = 1,
                  per_page: int = 50) -> Page[ReceiptView]:
    """A student's (or a guardian's students') receipts; for the submission offices, the
    school's, to follow up by window, student and state. Anyone else: Forbidden."""
    uow.require_member(actor)
    where = [_visible_receipts(actor)]
    for column, value in ((Receipt.student_id, filters.student_id), (Receipt.window_id, filters.window_id),
                          (Receipt.state, filters.state), (Receipt.category, filters.kind),
                          (Receipt.academic_year, filters.academic_year)):
        if value is not None:
            where.append(column == value)
    total = uow.session.scalar(_receipt_statement(uow, func.count(Receipt.id)).where(*where))
    rows = uow.session.execute(
        _receipt_statement(uow, *_RECEIPT_COLUMNS).where(*where)
        .order_by(Receipt.issued_at.desc(), Receipt.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    return Page(_receipt_views(uow, actor, rows), page, per_page, total)


def receipt_view(uow, actor: Actor, receipt_id: int) -> ReceiptView:
    """One receipt as `actor` sees it (NotFound if they may not see its student)."""
    require_receipt(uow, actor, receipt_id)
    row = uow.session.execute(_receipt_statement(uow, *_RECEIPT_COLUMNS)
                              .where(Receipt.id == receipt_id)).one()
    return _receipt_views(uow, actor, [row])[0]
