"""The teacher's certification queue 認證佇列: the course outcomes waiting for this staff member —
their own courses' and, marked as proxied with the absent teacher's name, those routed to them
(workflows/people/routing.py) — filtered, sorted by waiting time and paginated in SQL.

The cost follows the page, not the table: every query is bounded by `course_id IN (the
teacher's courses) AND state = ?` (an index on items (course_id, state, submitted_at) serves it)
and the page is cut with LIMIT/OFFSET. Pages and the JSON API both read from here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select

from persistence.tables import Enrolment, Item, Student, Window
from states import MACHINES, state_label
from workflows.items import artefacts_view
from workflows.school import calendar
from workflows.people.access import certifiable_courses
from workflows.core.actors import Actor
from workflows.core.clock import taipei_date
from workflows.core.errors import Forbidden, InvalidInput, NotFound
from workflows.people.routing import Certifiers

# Waiting for the teacher, or what the teacher already decided (to review their own work).
QUEUE_STATES = ("submitted", "certified", "rejected")
SORTS = {"waiting": "等候最久優先", "-waiting": "最近送出優先"}
PER_PAGE_MAX = 200


@dataclass(frozen=True)
class CourseOption:
    id: int
    name: str
    code: str
    academic_year: int
    semester: int
    proxied: bool
    absent_teacher: str | None  # the course teacher's name when proxied (代理)


@dataclass(frozen=True)
class CertificationWindow:
    """A certification window (認證期間) of a semester the queue's courses belong to."""

    academic_year: int
    semester: int
    starts_at: datetime
    ends_at: datetime
    is_open: bool


@dataclass(frozen=True)
class QueueRow:
    item_id: int
    version: int
    title: str
    state: str
    state_label: str
    student_id: int
    student_name: str
    student_no: str
    class_name: str
    course_id: int
    course_name: str
    course_code: str
    academic_year: int
    semester: int
    submitted_at: datetime | None
    waiting: timedelta | None  # since submission, for an item still waiting
    certified_at: datetime | None
    certified_by_id: int | None
    rejection_reason: str | None
    document_kind: str | None
    media_kind: str | None
    proxied: bool
    absent_teacher: str | None
    can_certify: bool  # waiting, and its certification window is open now
    can_undo: bool  # certified by this actor, not yet selected, window open

    @property
    def has_document(self) -> bool:
        return self.document_kind is not None

    @property
    def has_media(self) -> bool:
        return self.media_kind is not None


@dataclass(frozen=True)
class CertificationQueue:
    rows: list[QueueRow]
    total: int
    page: int
    per_page: int
    courses: list[CourseOption]
    classes: list[str]
    windows: list[CertificationWindow]
    course_id: int | None = None
    class_name: str | None = None
    state: str = "submitted"
    sort: str = "waiting"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    event: str
    event_label: str
    to_state_label: str | None
    actor_name: str
    on_behalf_name: str | None
    reason: str | None


@dataclass(frozen=True)
class QueueItem:
    """One item as the certifying teacher sees it: the row, its content and its history."""

    row: QueueRow
    description: str
    external_link: str | None
    document_name: str | None
    media_name: str | None
    history: list[HistoryEntry] = field(default_factory=list)


def _routes(uow, actor: Actor, now: datetime) -> dict[int, Certifiers]:
    if not actor.is_staff:
        raise Forbidden("只有教師可以使用認證佇列。")
    uow.require_member(actor)
    return certifiable_courses(uow, actor, on=taipei_date(now))


def _windows(uow) -> dict[tuple[int, int], Window]:
    """The school's certification windows by (academic year, semester): a handful of rows."""
    return {(w.academic_year, w.semester): w for w in uow.session.scalars(
        uow.select(Window).where(Window.kind == "certification"))}


_COLUMNS = (Item.id, Item.version, Item.title, Item.state, Item.student_id, Item.course_id,
            Item.academic_year, Item.semester, Item.submitted_at, Item.certified_at,
            Item.certified_by_id, Item.rejection_reason, Item.document_kind, Item.media_kind,
            Student.name, Student.student_no, Student.class_name)


def _rows_statement(uow, course_ids, *columns) -> Select:
    return (select(*(columns or _COLUMNS)).select_from(Item)
            .join(Student, (Student.school_id == Item.school_id) & (Student.id == Item.student_id))
            .where(Item.school_id == uow.school_id, Item.kind == "course_outcome",
                   Item.course_id.in_(course_ids)))


def _row(record, routes: dict[int, Certifiers], windows, actor: Actor, now: datetime) -> QueueRow:
    route = routes[record.course_id]
    course = route.course
    window_open = calendar.is_open(windows.get((record.academic_year, record.semester)), now)
    return QueueRow(
        item_id=record.id, version=record.version, title=record.title, state=record.state,
        state_label=state_label(MACHINES["course_outcome"], record.state),
        student_id=record.student_id, student_name=record.name, student_no=record.student_no,
        class_name=record.class_name, course_id=course.id, course_name=course.name,
        course_code=course.code, academic_year=record.academic_year, semester=record.semester,
        submitted_at=record.submitted_at,
        waiting=(now - record.submitted_at) if record.state == "submitted" and record.submitted_at else None,
        certified_at=record.certified_at, certified_by_id=record.certified_by_id,
        rejection_reason=record.rejection_reason, document_kind=record.document_kind,
        media_kind=record.media_kind, proxied=route.proxied,
        absent_teacher=route.teacher.name if route.proxied else None,
        can_certify=record.state == "submitted" and window_open,
        can_undo=record.state == "certified" and record.certified_by_id == actor.id and window_open)


def certification_queue(uow, actor: Actor, *, now: datetime, course_id: int | None = None,
                        class_name: str | None = None, state: str = "submitted",
                        sort: str = "waiting", page: int = 1, per_page: int = 50) -> CertificationQueue:
    """One page of the items waiting for `actor` (or, with state certified/rejected, those
    already decided), longest waiting first by default."""
    routes = _routes(uow, actor, now)
    if state not in QUEUE_STATES:
        raise InvalidInput(f"不支援的狀態篩選「{state}」；可用：已送出認證、認證通過、認證失敗。", field="state")
    if sort not in SORTS:
        raise InvalidInput(f"不支援的排序方式「{sort}」。", field="sort")
    if course_id is not None and course_id not in routes:
        raise NotFound(f"找不到課程（編號 {course_id}），或這門課不由你認證。")
    class_name = (class_name or "").strip() or None
    per_page = min(max(1, per_page), PER_PAGE_MAX)
    course_ids = [course_id] if course_id is not None else sorted(routes)
    windows = _windows(uow)

    rows, total = [], 0
    if course_ids:
        where = [Item.state == state]
        if class_name is not None:
            where.append(Student.class_name == class_name)
        total = uow.session.scalar(_rows_statement(uow, course_ids, func.count()).where(*where))
        last_page = max(1, -(-total // per_page))
        page = min(max(1, page), last_page)
        order = Item.submitted_at.asc() if sort == "waiting" else Item.submitted_at.desc()
        tie = Item.id.asc() if sort == "waiting" else Item.id.desc()
        records = uow.session.execute(_rows_statement(uow, course_ids).where(*where).order_by(order, tie)
                                      .limit(per_page).offset((page - 1) * per_page))
        rows = [_row(r, routes, windows, actor, now) for r in records]
    else:
        page = 1

    return CertificationQueue(
        rows=rows, total=total, page=page, per_page=per_page,
        courses=_course_options(routes), classes=_classes(uow, course_ids),
        windows=_relevant_windows(routes.values() if course_id is None else [routes[course_id]],
                                  windows, now),
        course_id=course_id, class_name=class_name, state=state, sort=sort)


def queue_rows(uow, actor: Actor, item_ids, *, now: datetime) -> list[QueueRow]:
    """The listed items as queue rows, in id order, leaving out any this actor does not certify
    (for the bulk confirmation and result pages)."""
    routes = _routes(uow, actor, now)
    ids = sorted(set(item_ids))  # ints: the pages parse them (web.params)
    if not ids or not routes:
        return []
    records = uow.session.execute(_rows_statement(uow, sorted(routes))
                                  .where(Item.id.in_(ids)).order_by(Item.id))
    windows = _windows(uow)
    return [_row(r, routes, windows, actor, now) for r in records]


def queue_item(uow, actor: Actor, item_id: int, *, now: datetime) -> QueueItem:
    """One item of a course this actor certifies; any other answers NotFound, as if absent."""
    routes = _routes(uow, actor, now)
    record = uow.session.execute(_rows_statement(uow, sorted(routes)).where(Item.id == item_id)
                                 ).one_or_none() if routes else None
    if record is None:
        raise NotFound(f"找不到學習歷程項目（編號 {item_id}），或這項成果不由你認證。")
    item = uow.get(Item, item_id, what="學習歷程項目")
    history = [HistoryEntry(h.at, h.event, h.event_label, h.to_label, h.actor_name, h.on_behalf_name,
                            h.reason)
               for h in artefacts_view.history(uow, "course_outcome", item_id)]
    return QueueItem(row=_row(record, routes, _windows(uow), actor, now),
                     description=item.description, external_link=item.external_link,
                     document_name=item.document_name, media_name=item.media_name, history=history)


def _course_options(routes: dict[int, Certifiers]) -> list[CourseOption]:
    options = [CourseOption(r.course.id, r.course.name, r.course.code, r.course.academic_year,
                            r.course.semester, r.proxied, r.teacher.name if r.proxied else None)
               for r in routes.values()]
    return sorted(options, key=lambda o: (-o.academic_year, -o.semester, o.name, o.id))


def _classes(uow, course_ids: list[int]) -> list[str]:
    """The classes of the students enrolled in these courses (enrolments, not items: bounded
    by the courses' size whatever the number of items)."""
    if not course_ids:
        return []
    return list(uow.session.scalars(
        select(Student.class_name).distinct()
        .join(Enrolment, (Enrolment.school_id == Student.school_id) & (Enrolment.student_id == Student.id))
        .where(Enrolment.school_id == uow.school_id, Enrolment.course_id.in_(course_ids))
        .order_by(Student.class_name)))


def _relevant_windows(routes, windows, now: datetime) -> list[CertificationWindow]:
    """The certification windows of the courses' semesters that have not ended yet."""
    periods = {(r.course.academic_year, r.course.semester) for r in routes}
    found = [windows[p] for p in periods if p in windows and windows[p].ends_at > now]
    return [CertificationWindow(w.academic_year, w.semester, w.starts_at, w.ends_at,
                                calendar.is_open(w, now))
            for w in sorted(found, key=lambda w: (w.ends_at, w.academic_year, w.semester))]
