"""The student's portfolio as a person reads it (學習歷程總覽): items by academic year and
semester with their states, what this person may do to each of them now, the remaining quotas,
the open windows and the upload limits — and the student's receipts (收訖明細).

Read only. Pages and the JSON API call these functions; every number comes from the same rules
the use cases enforce (workflows/items/rules.py, the school's Policy, the calendar), so a button shown
here is one the use case will accept, save for a race with someone else.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select

from persistence.tables import (CadreRecord, Course, Enrolment, GradeRecord, Item, Receipt, Student,
                                SubmissionBatch, Window)
from states import MACHINES, state_label
from workflows.school import calendar
from workflows.central import disputes, roster
from workflows.people.access import require_student
from workflows.core.actors import Actor
from workflows.core.errors import Forbidden, NotFound
from workflows.school.filetypes import format_size
from workflows.people.personal_data import mask_national_id
from workflows.core.policy import KIND_LABELS, FileRule, receipt_category_label
from workflows.core.roles import DIVISION_LABELS, Division
from workflows.central.receipts import receipts_of
from workflows.core.roles import EnrolmentStatus
from workflows.core.fields import REASON_MAX
from workflows.items.rules import (EDITABLE_STATES, SELECTED_STATES, TITLE_MAX, UPLOADED_STATES, acting_rights,
                                   count_items)
from workflows.core.transitions import allowed_events
from persistence.vocabulary import PERFORMANCE_CATEGORIES, CadreLevel

# What a student (or a guardian for them) does to an item; the teacher's, the school's and the
# scheduler's events (certify, reject, lock, submit_central, deem_confirmed…) are never offered.
STUDENT_ITEM_EVENTS = ("submit", "withdraw", "resubmit", "select", "unselect", "delete")
STUDENT_RECEIPT_EVENTS = ("confirm", "dispute")
# Windows a student acts in (the certification window is the teachers').
STUDENT_WINDOWS = ("course_outcome_upload", "performance_upload", "selection", "receipt_confirmation")
# What a browser's file picker should offer for each kind the content check accepts.
ACCEPT = {"pdf": (".pdf", "application/pdf"), "jpg": (".jpg", ".jpeg", "image/jpeg"),
          "png": (".png", "image/png"), "mp3": (".mp3", "audio/mpeg"), "mp4": (".mp4", "video/mp4")}


@dataclass(frozen=True)
class WindowView:
    kind: str
    label: str
    academic_year: int
    semester: int
    starts_at: datetime
    ends_at: datetime
    is_open: bool

    @classmethod
    def of(cls, window: Window, now: datetime) -> "WindowView":
        return cls(window.kind, calendar.WINDOW_LABELS[window.kind], window.academic_year,
                   window.semester, window.starts_at, window.ends_at, calendar.is_open(window, now))


@dataclass(frozen=True)
class Quota:
    """How many of a cap are used; cap None means the school sets no cap."""

    used: int
    cap: int | None

    @property
    def left(self) -> int | None:
        return None if self.cap is None else max(self.cap - self.used, 0)

    @property
    def full(self) -> bool:
        return self.cap is not None and self.used >= self.cap


@dataclass(frozen=True)
class ItemView:
    id: int
    kind: str
    kind_label: str
    academic_year: int
    semester: int
    title: str
    description: str
    state: str
    state_label: str
    version: int
    course_id: int | None
    course_name: str | None
    category: str | None
    category_label: str | None
    external_link: str | None
    document_name: str | None
    document_size: int | None
    media_name: str | None
    media_size: int | None
    rejection_reason: str | None
    submitted_at: datetime | None
    certified_at: datetime | None
    selected_at: datetime | None
    updated_at: datetime
    events: tuple[tuple[str, str], ...]  # (event id, zh-TW label) this person may do now
    editable: bool  # this person may edit it now (text and files)
    # How the school settled a dispute (疑義) about it: "answered" | "resubmit", and its reason.
    resolution: str | None = None
    resolution_note: str | None = None

    @property
    def has_document(self) -> bool:
        return self.document_name is not None

    @property
    def has_media(self) -> bool:
        return self.media_name is not None


@dataclass(frozen=True)
class CourseOption:
    id: int
    name: str
    code: str


@dataclass(frozen=True)
class SemesterView:
    """One semester's course outcomes (課程學習成果) and the courses they can be for."""

    academic_year: int
    semester: int
    outcomes: tuple[ItemView, ...]
    courses: tuple[CourseOption, ...]  # the student's enrolled courses of the semester
    uploads: Quota  # per semester (policy)
    upload_window: WindowView | None
    certification_window: WindowView | None
    can_upload: bool  # window open, a course to choose, quota left, and this person may act


@dataclass(frozen=True)
class YearView:
    academic_year: int
    semesters: tuple[SemesterView, ...]
    performances: tuple[ItemView, ...]
    outcome_uploads: Quota | None  # the yearly cap, when the school sets one
    performance_uploads: Quota
    outcome_selections: Quota
    performance_selections: Quota
    performance_window: WindowView | None
    selection_window: WindowView | None
    receipt_window: WindowView | None
    can_upload_performance: bool


@dataclass(frozen=True)
class SlotLimit:
    slot: str  # "document" | "media"
    label: str
    kinds: tuple[str, ...]
    max_bytes: int
    max_size: str  # "4 MB"
    accept: str  # the <input type=file accept=…> value


@dataclass(frozen=True)
class UploadLimits:
    """What one item of a kind may hold, shown before the file is chosen."""

    kind: str
    kind_label: str
    slots: tuple[SlotLimit, ...]
    title_max: int
    description_max: int
    external_link: bool


@dataclass(frozen=True)
class Portfolio:
    student: Student
    may_act: bool
    view_only_reason: str | None  # why this person only views (guardian under a view-only policy)
    years: tuple[YearView, ...]  # latest first
    open_windows: tuple[WindowView, ...]
    limits: dict[str, UploadLimits]
    categories: dict[str, str]  # performance category id -> zh-TW label
    now: datetime


@dataclass(frozen=True)
class ReceiptView:
    id: int
    kind: str
    kind_label: str
    academic_year: int
    state: str
    state_label: str
    version: int  # the stale-page guard's, sent back with the answer
    issued_at: datetime
    closed_at: datetime | None
    reason: str | None
    window: WindowView
    items: tuple[ItemView, ...]
    events: tuple[tuple[str, str], ...]
    # A semester receipt covers records, not items: what its batch sent, read from the records.
    term: str = ""
    basic: BasicDataView | None = None
    cadre: tuple[CadreView, ...] = ()
    grades: tuple[GradeView, ...] = ()
    # A settled receipt-level dispute: (resolution, the office's reason the student reads).
    resolution: str | None = None
    resolution_note: str | None = None


@dataclass(frozen=True)
class BasicDataView:
    """基本資料 as a basic-data batch sends it; the ID number masked."""

    national_id_masked: str
    student_no: str
    name: str
    class_name: str
    grade: int
    division_label: str


@dataclass(frozen=True)
class CadreView:
    level_label: str
    unit: str
    position: str
    starts_on: object
    ends_on: object


@dataclass(frozen=True)
class GradeView:
    semester: int
    kind_label: str
    course_code: str
    subject: str
    credits: int
    score: int | None
    passed: bool
    makeup_score: int | None


@dataclass(frozen=True)
class ReceiptsPage:
    student: Student
    may_act: bool
    view_only_reason: str | None
    receipts: tuple[ReceiptView, ...]  # latest first
    now: datetime
    reason_max: int = REASON_MAX  # a dispute's reason (疑義說明)


@dataclass(frozen=True)
class ChildSummary:
    """A guardian's student, with what waits for them."""

    student: Student
    items: int
    receipts_to_answer: int


# --------------------------------------------------------------------------- who may act


def require_student_item(uow, actor: Actor, student_id: int, item_id: int) -> None:
    """The item, reached through this student's pages, is the student's; otherwise NotFound,
    as for an item that does not exist."""
    require_student(uow, actor, student_id)
    owner = uow.session.scalar(select(Item.student_id).where(
        Item.school_id == uow.school_id, Item.id == item_id))
    if owner != student_id:
        raise NotFound(f"找不到學習歷程項目（編號 {item_id}）")


def require_student_receipt(uow, actor: Actor, student_id: int, receipt_id: int) -> None:
    require_student(uow, actor, student_id)
    owner = uow.session.scalar(select(Receipt.student_id).where(
        Receipt.school_id == uow.school_id, Receipt.id == receipt_id))
    if owner != student_id:
        raise NotFound(f"找不到收訖明細（編號 {receipt_id}）")


# --------------------------------------------------------------------------- the portfolio


class _Windows:
    def __init__(self, uow, now: datetime):
        self.now = now
        # The school's windows; a batch's own confirmation window is read through its receipts.
        self.rows = {(w.kind, w.academic_year, w.semester): w for w in calendar.windows(uow) if w.batch_id is None}

    def view(self, kind: str, year: int, semester: int = 0) -> WindowView | None:
        window = self.rows.get((kind, year, semester))
        return WindowView.of(window, self.now) if window else None

    def is_open(self, kind: str, year: int, semester: int = 0) -> bool:
        return calendar.is_open(self.rows.get((kind, year, semester)), self.now)

    def upload_open(self, kind: str, year: int, semester: int) -> bool:
        if kind == "course_outcome":
            return self.is_open("course_outcome_upload", year, semester)
        return self.is_open("performance_upload", year, 0)


def _item_events(item: Item, windows: _Windows, *, may_act: bool, selection_full: bool) -> tuple:
    if not may_act:
        return ()
    found = []
    for event, label in allowed_events(item):
        if event not in STUDENT_ITEM_EVENTS:
            continue
        if event in ("select", "unselect"):
            if not windows.is_open("selection", item.academic_year) or (event == "select" and selection_full):
                continue
        elif not windows.upload_open(item.kind, item.academic_year, item.semester):
            continue
        found.append((event, label))
    return tuple(found)


def _item_view(item: Item, course_names: dict[int, str], windows: _Windows, *, may_act: bool,
               selection_full: bool = False) -> ItemView:
    editable = may_act and item.state in EDITABLE_STATES[item.kind] \
        and windows.upload_open(item.kind, item.academic_year, item.semester)
    return ItemView(
        id=item.id, kind=item.kind, kind_label=KIND_LABELS[item.kind],
        academic_year=item.academic_year, semester=item.semester, title=item.title,
        description=item.description or "", state=item.state,
        state_label=state_label(MACHINES[item.kind], item.state), version=item.version,
        course_id=item.course_id, course_name=course_names.get(item.course_id),
        category=item.category, category_label=PERFORMANCE_CATEGORIES.get(item.category or ""),
        external_link=item.external_link, document_name=item.document_name,
        document_size=item.document_size, media_name=item.media_name, media_size=item.media_size,
        rejection_reason=item.rejection_reason if item.state == "rejected" else None,
        submitted_at=item.submitted_at, certified_at=item.certified_at, selected_at=item.selected_at,
        updated_at=item.updated_at,
        events=_item_events(item, windows, may_act=may_act, selection_full=selection_full),
        editable=editable, resolution=item.resolution, resolution_note=item.resolution_note)


def upload_limits(policy) -> dict[str, UploadLimits]:
    """Per item kind: the file kinds and sizes per slot and the text lengths, from the policy."""
    limits = {}
    for kind in ("course_outcome", "performance"):
        rule = policy.item_rule(kind)
        slots = tuple(_slot(kind, slot, getattr(rule, slot)) for slot in ("document", "media")
                      if getattr(rule, slot) is not None)
        limits[kind] = UploadLimits(kind, KIND_LABELS[kind], slots, TITLE_MAX,
                                    rule.description_max_chars, rule.external_link)
    return limits


def _slot(kind: str, slot: str, rule: FileRule) -> SlotLimit:
    label = {"document": "證明文件" if kind == "performance" else "文件", "media": "影音檔案"}[slot]
    accept = ",".join(part for file_kind in rule.kinds for part in ACCEPT.get(file_kind, ()))
    return SlotLimit(slot, label, tuple(rule.kinds), rule.max_bytes, format_size(rule.max_bytes), accept)


def _courses_of(uow, student_id: int) -> list[Course]:
    return list(uow.session.scalars(uow.select(Course).join(
        Enrolment, (Enrolment.school_id == Course.school_id) & (Enrolment.course_id == Course.id))
        .where(Enrolment.student_id == student_id)
        .order_by(Course.academic_year, Course.semester, Course.code)))


def student_portfolio(uow, actor: Actor, student_id: int, *, now: datetime) -> Portfolio:
    """The student's items by year and semester, with quotas, windows, limits and actions."""
    student = require_student(uow, actor, student_id)
    may_act, why_not = acting_rights(uow, actor, student_id)
    policy = uow.policy
    windows = _Windows(uow, now)
    items = list(uow.session.scalars(uow.select(Item).where(
        Item.student_id == student_id, Item.state != "deleted").order_by(Item.created_at, Item.id)))
    courses = _courses_of(uow, student_id)
    course_names = {c.id: c.name for c in courses}
    missing = {i.course_id for i in items if i.course_id is not None} - course_names.keys()
    if missing:  # an item whose enrolment has since gone still names its course
        course_names.update(uow.session.execute(uow.select(Course).where(Course.id.in_(missing))
                                                .with_only_columns(Course.id, Course.name)).all())
    enrolled = student.status == EnrolmentStatus.ENROLLED

    years = {i.academic_year for i in items} | {c.academic_year for c in courses}
    years |= {year for (kind, year, _), w in windows.rows.items()
              if kind in ("course_outcome_upload", "performance_upload") and calendar.is_open(w, now)}
    year_views = []
    for year in sorted(years, reverse=True):
        selections = {kind: Quota(count_items(uow, student_id, kind, year, SELECTED_STATES[kind]),
                                  policy.selection_cap(kind)) for kind in ("course_outcome", "performance")}
        semesters = []
        for semester in sorted({i.semester for i in items if i.academic_year == year and i.kind == "course_outcome"}
                               | {c.semester for c in courses if c.academic_year == year}):
            outcomes = tuple(_item_view(i, course_names, windows, may_act=may_act,
                                        selection_full=selections["course_outcome"].full)
                             for i in items if i.kind == "course_outcome" and i.academic_year == year
                             and i.semester == semester)
            options = tuple(CourseOption(c.id, c.name, c.code) for c in courses
                            if c.academic_year == year and c.semester == semester)
            uploads = Quota(count_items(uow, student_id, "course_outcome", year,
                                        UPLOADED_STATES["course_outcome"], semester),
                            policy.outcome_uploads_per_semester)
            semesters.append(SemesterView(
                year, semester, outcomes, options, uploads,
                windows.view("course_outcome_upload", year, semester),
                windows.view("certification", year, semester),
                can_upload=may_act and enrolled and bool(options) and not uploads.full
                and windows.is_open("course_outcome_upload", year, semester)))
        outcome_year = None
        if policy.outcome_uploads_per_year is not None:
            outcome_year = Quota(count_items(uow, student_id, "course_outcome", year,
                                             UPLOADED_STATES["course_outcome"]),
                                 policy.outcome_uploads_per_year)
        performance_uploads = Quota(count_items(uow, student_id, "performance", year,
                                                UPLOADED_STATES["performance"]),
                                    policy.performance_uploads_per_year)
        if outcome_year is not None and outcome_year.full:
            semesters = [_no_upload(s) for s in semesters]
        performances = tuple(_item_view(i, course_names, windows, may_act=may_act,
                                        selection_full=selections["performance"].full)
                             for i in items if i.kind == "performance" and i.academic_year == year)
        year_views.append(YearView(
            year, tuple(semesters), performances, outcome_year, performance_uploads,
            selections["course_outcome"], selections["performance"],
            windows.view("performance_upload", year), windows.view("selection", year),
            windows.view("receipt_confirmation", year),
            can_upload_performance=may_act and enrolled and not performance_uploads.full
            and windows.is_open("performance_upload", year)))

    open_windows = tuple(sorted((WindowView.of(w, now) for w in windows.rows.values()
                                 if w.kind in STUDENT_WINDOWS and calendar.is_open(w, now)),
                                key=lambda w: w.ends_at))
    return Portfolio(student, may_act, why_not, tuple(year_views), open_windows,
                     upload_limits(policy), dict(PERFORMANCE_CATEGORIES), now)


def _no_upload(semester: SemesterView) -> SemesterView:
    return replace(semester, can_upload=False)


def student_item(uow, actor: Actor, student_id: int, item_id: int, *, now: datetime) -> ItemView:
    """One of the student's items (for its edit page), with what this person may do now."""
    require_student_item(uow, actor, student_id, item_id)
    may_act, _ = acting_rights(uow, actor, student_id)
    item = uow.get(Item, item_id, what="學習歷程項目")
    names = {}
    if item.course_id is not None:
        names[item.course_id] = uow.get(Course, item.course_id, what="課程").name
    return _item_view(item, names, _Windows(uow, now), may_act=may_act)


# --------------------------------------------------------------------------- receipts


def student_receipts(uow, actor: Actor, student_id: int, *, now: datetime) -> ReceiptsPage:
    """The student's receipts (收訖明細), latest first, with their items, confirmation window
    and whether this person may confirm or dispute now."""
    student = require_student(uow, actor, student_id)
    may_act, why_not = acting_rights(uow, actor, student_id)
    windows = _Windows(uow, now)
    by_id = {w.id: w for w in windows.rows.values()}
    receipts = receipts_of(uow, student_id)
    items = list(uow.session.scalars(uow.select(Item).where(
        Item.receipt_id.in_([r.id for r in receipts])).order_by(Item.id))) if receipts else []
    course_ids = {i.course_id for i in items if i.course_id is not None}
    course_names = dict(uow.session.execute(uow.select(Course).where(Course.id.in_(course_ids))
                                            .with_only_columns(Course.id, Course.name)).all()) if course_ids else {}
    settled = disputes.receipt_resolutions(uow, [r.id for r in receipts if r.state == "disputed"])
    views = []
    for receipt in reversed(receipts):
        window = by_id.get(receipt.window_id) or uow.get(Window, receipt.window_id, what="收訖明細確認期間")
        window_view = WindowView.of(window, now)
        events = tuple((event, label) for event, label in allowed_events(receipt)
                       if event in STUDENT_RECEIPT_EVENTS) if may_act and window_view.is_open else ()
        resolution, resolution_note, _ = settled.get(receipt.id, (None, None, None))
        views.append(ReceiptView(
            receipt.id, receipt.category, receipt_category_label(receipt.category),
            receipt.academic_year, receipt.state, state_label(MACHINES["receipt"], receipt.state),
            receipt.version, receipt.issued_at, receipt.closed_at, receipt.reason, window_view,
            tuple(_item_view(i, course_names, windows, may_act=False)
                  for i in items if i.receipt_id == receipt.id), events,
            resolution=resolution, resolution_note=resolution_note,
            **_semester_records(uow, student, receipt)))
    return ReceiptsPage(student, may_act, why_not, tuple(views), now)


def _semester_records(uow, student: Student, receipt: Receipt) -> dict:
    """What a semester receipt covers: its batch's term's records of the student (the basic data
    and cadre rows, or the grade rows), as the batch's roster carries them."""
    if receipt.category not in disputes.RECEIPT_DISPUTE_CATEGORIES or receipt.batch_id is None:
        return {}
    batch = uow.get(SubmissionBatch, receipt.batch_id, what="提交批次")
    term = f"第 {batch.semester} 學期" if batch.semester else ""
    if receipt.category == "courses":
        semesters = roster.grade_semesters(batch.semester)
        kinds = {kind: n for n, kind in enumerate(roster.GRADE_KIND_CELLS)}
        records = sorted(uow.session.scalars(uow.select(GradeRecord).where(
            GradeRecord.student_id == student.id, GradeRecord.academic_year == batch.academic_year,
            GradeRecord.semester.in_(semesters))),
            key=lambda r: (r.semester == 0, kinds.get(r.record_kind, len(kinds)), r.course_code, r.id))
        return {"term": term, "grades": tuple(GradeView(
            r.semester, roster.GRADE_KIND_CELLS.get(r.record_kind, r.record_kind), r.course_code, r.subject,
            r.credits, r.score, bool(r.passed), r.makeup_score) for r in records)}
    records = uow.session.scalars(uow.select(CadreRecord).where(
        CadreRecord.student_id == student.id, CadreRecord.academic_year == batch.academic_year,
        CadreRecord.semester == batch.semester).order_by(CadreRecord.starts_on, CadreRecord.id))
    division = DIVISION_LABELS.get(Division(student.division), student.division) \
        if student.division in {d.value for d in Division} else student.division
    return {"term": term,
            "basic": BasicDataView(mask_national_id(student.national_id), student.student_no, student.name,
                                   student.class_name, student.grade, division),
            "cadre": tuple(CadreView(CadreLevel(r.level).label, r.unit, r.position,
                                     r.starts_on, r.ends_on) for r in records)}


# --------------------------------------------------------------------------- guardians


def guardian_children(uow, actor: Actor) -> list[ChildSummary]:
    """A guardian's (家長或法定代理人) linked students, with their items and unanswered receipts."""
    uow.require_member(actor)
    if actor.kind != "guardian":
        raise Forbidden("只有家長或法定代理人帳號可以使用這個頁面。")
    students = list(uow.session.scalars(uow.select(Student).where(
        Student.id.in_(actor.student_ids)).order_by(Student.student_no)))
    summaries = []
    for student in students:
        items = uow.session.scalar(uow.select(Item).where(
            Item.student_id == student.id, Item.state != "deleted").with_only_columns(func.count()))
        waiting = uow.session.scalar(uow.select(Receipt).where(
            Receipt.student_id == student.id, Receipt.state == "issued").with_only_columns(func.count()))
        summaries.append(ChildSummary(student, items, waiting))
    return summaries
