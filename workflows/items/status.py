"""Status read models 作業狀態: what the working group (工作小組) and homeroom teachers (導師)
look at (seed 002, 「成效評核及獎勵」): counts per state by grade, class and course; the class
certification rate (班級認證率) with its 80 % / 60 % bands; days from a student's submission to
the teacher's certification; the daily receipt-confirmation rate (收訖明細確認率); the teachers
with the longest queues; students who have not selected or confirmed, per homeroom class; one
student's timeline from the audit log.

Every figure is a GROUP BY in the database: Python only sees groups (states × classes × courses,
days, buckets), never the items themselves; counts, rates and queues share one scan of the
period's items. The database reads only the school's items of the period when it has an index
leading with (school_id, academic_year) on items (see the issue-4 report); without it PostgreSQL
still avoids the table through the (student_id, kind, academic_year) index.

Who sees what (the same for the pages and the JSON API):
- the working group's offices (workflows/people/working_group.sees_whole_school) and the
  platform/scheduler: the whole school;
- a homeroom teacher: their own class(es) only (access.homeroom_class_names) — every figure is then
  restricted to the students of those classes;
- anyone else (a subject teacher without a class, a student, a guardian): Forbidden.

Grade and class are the student's current ones (the roster keeps no history of past classes).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction

from sqlalchemy import and_, case, exists, extract, func, not_, or_, select, true

from persistence.tables import (ITEM_KINDS, AuditEntry, Course, Item, Receipt, SchoolClass, Staff,
                                Student)
from persistence.vocabulary import ActorKind, SubjectKind
from states import MACHINES, state_label
from workflows.school import calendar
from workflows.people.access import homeroom_class_names, require_student
from workflows.people.working_group import sees_whole_school
from workflows.core.actors import Actor
from workflows.items.artefacts_view import HistoryEntry
from workflows.core.clock import now_or, taipei_date, year_label
from workflows.core.errors import Forbidden, InvalidInput
from workflows.core.numbers import echoed, whole
from workflows.core.policy import KIND_LABELS
from workflows.core.roles import EnrolmentStatus
from workflows.people.routing import certifiers_for
from workflows.items.rules import SELECTED_STATES, reachable

GRADE_LABELS = {1: "一年級", 2: "二年級", 3: "三年級"}
SEMESTER_LABELS = {0: "全學年", 1: "第 1 學期", 2: "第 2 學期"}
NAMES_PER_CLASS = 50  # follow-up lists name at most this many students per class; the count is exact


# The certification rate 班級認證率 = certified-or-later ÷ submitted-for-certification, over the
# class's course outcomes of the period, both read from the course-outcome machine:
# - "certified or later" (CERTIFIED_STATES): `certified` and every state reachable from it without
#   the events that undo a certification (revoke_certification, void_certification) — certified,
#   selected, unselected, submitted_central, receipt_confirmed, deemed_confirmed, disputed,
#   resolved;
# - "submitted for certification" (SUBMITTED_STATES): `submitted` and every state reachable from it
#   without withdraw (back to a draft), the undoing events, or delete — i.e. the certified ones
#   plus those still waiting (submitted), rejected (認證失敗) and not certified in time
#   (逾期未認證). Drafts, withdrawn, locked and deleted outcomes are in neither.
_UNDO = {"revoke_certification", "void_certification"}
CERTIFIED_STATES = reachable("course_outcome", "certified", skipping=_UNDO)
SUBMITTED_STATES = reachable("course_outcome", "submitted", skipping=_UNDO | {"withdraw", "delete"})

# Seed 002 「獎勵規劃」: 班級認證率 達80%以上 / 達60%以上 — bands of the class rate (the seed
# names no per-teacher rate). (code, lower bound, label), best first.
# Exact fractions: 4 of 5 is in the 80 % band, whatever floating point makes of 0.8.
BANDS = (("good", Fraction(4, 5), "達 80% 以上"), ("warn", Fraction(3, 5), "達 60% 以上"),
         ("low", Fraction(0), "未達 60%"))

# Days from submission to certification, in whole 24-hour days elapsed: (exclusive upper bound in
# days or None, label).
DAY_BUCKETS = ((1, "未滿 1 日"), (2, "1 日"), (3, "2 日"), (4, "3 日"), (8, "4–7 日"),
               (15, "8–14 日"), (None, "15 日以上"))


# -- who and when -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """What the viewer may count: the whole school (class_names None) or some classes."""

    class_names: frozenset[str] | None

    @property
    def whole_school(self) -> bool:
        return self.class_names is None

    @property
    def label(self) -> str:
        if self.class_names is None:
            return "全校"
        return "導師班級：" + "、".join(sorted(self.class_names))


@dataclass(frozen=True)
class Period:
    """An academic year (學年度) and a semester (0: the whole year)."""

    academic_year: int
    semester: int = 0

    @property
    def label(self) -> str:
        return f"{year_label(self.academic_year)}{SEMESTER_LABELS[self.semester]}"


def scope_of(uow, actor: Actor) -> Scope:
    """The part of the school `actor` may see on the status pages, or Forbidden."""
    uow.require_member(actor)
    if actor.kind in ("platform", "system") or sees_whole_school(actor):
        return Scope(None)
    if not actor.is_staff:
        raise Forbidden("作業狀態頁面只開放給教職員。")
    names = homeroom_class_names(uow, actor)
    if not names:
        raise Forbidden("作業狀態頁面只開放給學習歷程工作小組各處室與導師；你沒有導師班級，也沒有全校檢視的職務。")
    return Scope(frozenset(names))


# The years a status page may show (ROC 學年度); the API's SummaryQuery states the same range.
YEAR_MIN, YEAR_MAX = 1, 300


def period_of(academic_year, semester=0) -> Period:
    """A Period from user input (query string, JSON): InvalidInput on anything else."""
    year = whole(str(academic_year), beyond=YEAR_MAX + 1)
    term = whole(str(semester or 0), beyond=3)
    if year is None or term is None:
        raise InvalidInput("學年度與學期須為數字。", field="academic_year")
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput(f"學年度「{echoed(academic_year)}」不正確（民國年，例如 114）。", field="academic_year")
    if term not in SEMESTER_LABELS:
        raise InvalidInput("學期須為 1、2，或 0（全學年）。", field="semester")
    return Period(year, term)


def _in_scope(scope: Scope):
    return true() if scope.class_names is None else Student.class_name.in_(sorted(scope.class_names))


def _student_join(model):
    return and_(Student.school_id == model.school_id, Student.id == model.student_id)


def _items_of(uow, period: Period):
    """Items of the period: a course outcome by its semester, a performance by its year (it has
    no semester)."""
    # kind IN (…) lets PostgreSQL find the year's items through the index on (student_id, kind,
    # academic_year) instead of reading every year's rows.
    condition = and_(Item.school_id == uow.school_id, Item.kind.in_(ITEM_KINDS),
                     Item.academic_year == period.academic_year)
    if period.semester:
        condition = and_(condition, or_(Item.kind != "course_outcome", Item.semester == period.semester))
    return condition


def _dialect(uow) -> str:
    return uow.session.get_bind().dialect.name


# -- counts per state ---------------------------------------------------------------------------

@dataclass(frozen=True)
class StateRow:
    key: object  # grade (int), class name (str) or course id (int)
    label: str
    counts: dict[str, int]
    note: str = ""  # e.g. a course's code and semester

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def count(self, state: str) -> int:
        return self.counts.get(state, 0)


@dataclass(frozen=True)
class StateTable:
    """Rows (grades, classes or courses) × the kind's states, in the machine's order."""

    kind: str
    dimension: str  # "grade" | "class" | "course"
    states: tuple[str, ...]
    rows: list[StateRow]

    @property
    def state_labels(self) -> list[str]:
        return [state_label(MACHINES[self.kind], s) for s in self.states]

    @property
    def totals(self) -> dict[str, int]:
        return {s: sum(r.count(s) for r in self.rows) for s in self.states}

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows)

    def row(self, key) -> StateRow | None:
        return next((r for r in self.rows if r.key == key), None)


@dataclass(frozen=True)
class KindCounts:
    kind: str
    by_grade: StateTable
    by_class: StateTable
    by_course: StateTable | None  # course outcomes only

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def totals(self) -> dict[str, int]:
        return self.by_class.totals


@dataclass(frozen=True)
class _Group:
    kind: str
    grade: int
    class_name: str
    course_id: int | None
    state: str
    n: int
    oldest_submitted_at: datetime | None  # the earliest submitted_at in the group


def _groups(uow, scope: Scope, period: Period) -> list[_Group]:
    """One scan: items of the period counted by (kind, grade, class, course, state). Counts,
    rates and the queues are all read from these groups."""
    statement = (select(Item.kind, Student.grade, Student.class_name, Item.course_id, Item.state,
                        func.count(), func.min(Item.submitted_at))
                 .select_from(Item).join(Student, _student_join(Item))
                 .where(_items_of(uow, period), _in_scope(scope))
                 .group_by(Item.kind, Student.grade, Student.class_name, Item.course_id, Item.state))
    return [_Group(*row) for row in uow.session.execute(statement)]


def _table(kind: str, dimension: str, groups: list[_Group], key, label, note=lambda k: "") -> StateTable:
    counts: dict[object, dict[str, int]] = {}
    for g in groups:
        if g.kind == kind:
            row = counts.setdefault(key(g), {})
            row[g.state] = row.get(g.state, 0) + g.n
    states = tuple(s.id for s in MACHINES[kind].states)
    rows = [StateRow(k, label(k), c, note(k)) for k, c in counts.items()]
    return StateTable(kind, dimension, states, rows)


@dataclass(frozen=True)
class _CourseInfo:
    id: int
    name: str
    code: str
    semester: int
    teacher: str

    @property
    def label(self) -> str:
        return f"{self.name}（{self.teacher}）"


def _courses(uow, ids) -> dict[int, _CourseInfo]:
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    rows = uow.session.execute(
        select(Course.id, Course.name, Course.code, Course.semester, Staff.name)
        .join(Staff, and_(Staff.school_id == Course.school_id, Staff.id == Course.teacher_id))
        .where(Course.school_id == uow.school_id, Course.id.in_(ids)))
    return {r[0]: _CourseInfo(*r) for r in rows}


def _kind_counts(uow, groups: list[_Group]) -> dict[str, KindCounts]:
    courses = _courses(uow, (g.course_id for g in groups if g.kind == "course_outcome"))
    out = {}
    for kind in ITEM_KINDS:
        by_grade = _table(kind, "grade", groups, lambda g: g.grade, lambda k: GRADE_LABELS.get(k, f"{k} 年級"))
        by_class = _table(kind, "class", groups, lambda g: g.class_name, str)
        by_course = None
        if kind == "course_outcome":
            by_course = _table(kind, "course", groups, lambda g: g.course_id,
                               lambda k: courses[k].label if k in courses else f"課程 {k}",
                               lambda k: (f"{courses[k].code}・{SEMESTER_LABELS[courses[k].semester]}"
                                          if k in courses else ""))
            by_course.rows.sort(key=lambda r: (courses[r.key].semester, courses[r.key].name, r.label)
                                if r.key in courses else (9, "", r.label))
        by_grade.rows.sort(key=lambda r: r.key)
        by_class.rows.sort(key=lambda r: r.key)
        out[kind] = KindCounts(kind, by_grade, by_class, by_course)
    return out


def state_counts(uow, actor: Actor, academic_year: int, semester: int = 0) -> dict[str, KindCounts]:
    """{kind: counts per state by grade, by class and (course outcomes) by course} for the
    period, within what the actor may see. Every state of the kind's machine is a column."""
    return _kind_counts(uow, _groups(uow, scope_of(uow, actor), period_of(academic_year, semester)))


# -- certification rate per class --------------------------------------------------------------

def band_of(rate: Fraction | float | None) -> tuple[str, str] | None:
    """(code, label) of seed 002's band for a rate in [0, 1]: good ≥ 80 %, warn ≥ 60 %, low."""
    if rate is None:
        return None
    for code, lower, label in BANDS:
        if rate >= lower:
            return code, label
    return BANDS[-1][0], BANDS[-1][2]


def percent_label(rate: Fraction | float | None) -> str:
    """A rate as people read it, rounded half up to a whole percent — but never rounded up into
    a band it has not reached (79.6 % stays "79.6 %", not "80 %")."""
    if rate is None:
        return "—"
    shown = math.floor(rate * 100 + Fraction(1, 2))
    for _, lower, _ in BANDS:
        if lower and rate < lower <= Fraction(shown, 100):
            return f"{math.floor(rate * 1000) / 10:.1f} %"
    return f"{shown} %"


@dataclass(frozen=True)
class ClassRate:
    """班級認證率 of one class: certified ÷ submitted (see CERTIFIED_STATES / SUBMITTED_STATES)."""

    class_name: str
    grade: int
    certified: int
    submitted: int
    waiting: int  # still in `submitted`
    rejected: int  # rejected or not certified in time

    @property
    def exact(self) -> Fraction | None:
        return Fraction(self.certified, self.submitted) if self.submitted else None

    @property
    def rate(self) -> float | None:
        return float(self.exact) if self.submitted else None

    @property
    def percent(self) -> str:
        return percent_label(self.exact)

    @property
    def band(self) -> str | None:
        found = band_of(self.exact)
        return found[0] if found else None

    @property
    def band_label(self) -> str:
        found = band_of(self.exact)
        return found[1] if found else "尚無送出認證的成果"


def _class_rates(groups: list[_Group]) -> list[ClassRate]:
    """The certification rate 班級認證率 of each class with any course outcome among `groups`,
    with seed 002's band.

    rate = certified ÷ submitted over the class's course outcomes of the period, where
    certified = outcomes in CERTIFIED_STATES (certified, selected, unselected, submitted_central,
    receipt_confirmed, deemed_confirmed, disputed, resolved) and submitted = outcomes in
    SUBMITTED_STATES (those, plus submitted, rejected, not_certified). Drafts, withdrawn, locked
    and deleted outcomes count in neither. No submitted outcome: rate None, no band.
    Bands (seed 002 「班級認證率 達80%以上 / 達60%以上」, per class; the seed has no per-teacher
    rate): good ≥ 80 %, warn ≥ 60 %, low below."""
    tally: dict[str, list[int]] = {}
    grades: dict[str, int] = {}
    for g in groups:
        if g.kind != "course_outcome":
            continue
        grades[g.class_name] = g.grade
        row = tally.setdefault(g.class_name, [0, 0, 0, 0])
        if g.state in SUBMITTED_STATES:
            row[1] += g.n
        if g.state in CERTIFIED_STATES:
            row[0] += g.n
        if g.state == "submitted":
            row[2] += g.n
        if g.state in ("rejected", "not_certified"):
            row[3] += g.n
    return [ClassRate(name, grades[name], *tally[name]) for name in sorted(tally)]


# -- days from submission to certification -----------------------------------------------------

@dataclass(frozen=True)
class DaysToCertify:
    """How long certified outcomes waited: from the student's last (re)submission
    (items.submitted_at) to the teacher's certification (items.certified_at)."""

    buckets: list[tuple[str, int]]
    total: int
    mean_days: float | None


def _elapsed_days(uow, start, end):
    if _dialect(uow) == "sqlite":  # stored as ISO text in UTC
        return func.julianday(end) - func.julianday(start)
    return extract("epoch", end - start) / 86400.0


def _days_to_certify(uow, scope: Scope, period: Period) -> DaysToCertify:
    """Distribution of days from submission to certification (seed 002 「學生送出認證後 教師
    完成認證日數 統計」), in whole 24-hour days elapsed."""
    # submitted_at is overwritten by a resubmission: we measure from the submission the teacher
    # actually certified (the teacher's own response time), which the items row holds — no
    # audit-log scan needed. A revoked-then-recertified item counts once, to its last certification.
    # (A query of its own: folded into _groups, its per-row arithmetic tips PostgreSQL's plan
    # from the index to a sequential scan of the whole table.)
    days = _elapsed_days(uow, Item.submitted_at, Item.certified_at)
    bucket = case(*((days < upper, index) for index, (upper, _) in enumerate(DAY_BUCKETS) if upper),
                  else_=len(DAY_BUCKETS) - 1)
    statement = (select(bucket, func.count(), func.sum(days)).select_from(Item)
                 .join(Student, _student_join(Item))
                 .where(_items_of(uow, period), _in_scope(scope), Item.kind == "course_outcome",
                        Item.state.in_(sorted(CERTIFIED_STATES)), Item.submitted_at.is_not(None),
                        Item.certified_at.is_not(None))
                 .group_by(bucket))
    counts = [0] * len(DAY_BUCKETS)
    total_days = 0.0
    for index, n, summed in uow.session.execute(statement):
        counts[int(index)] += n
        total_days += float(summed or 0)
    total = sum(counts)
    return DaysToCertify([(label, counts[i]) for i, (_, label) in enumerate(DAY_BUCKETS)], total,
                         total_days / total if total else None)


# -- receipt confirmation by day ----------------------------------------------------------------

@dataclass(frozen=True)
class ReceiptDay:
    day: date  # Taipei
    confirmed: int  # confirmed by the student that day
    cumulative: int
    share: float  # cumulative ÷ all receipts of the year


@dataclass(frozen=True)
class ReceiptConfirmation:
    """Receipts (收訖明細) of the year's central submissions: confirmed per Taipei day and the
    cumulative share; deemed confirmed (逾期視為確認) and disputed shown apart."""

    total: int
    by_state: dict[str, int]
    days: list[ReceiptDay]
    window_starts_at: datetime | None  # the school's window of the year
    window_ends_at: datetime | None
    # Grade-12 batches confirm on dates of their own (批次確認期間): (label, starts, ends) each.
    batch_windows: tuple[tuple[str, datetime, datetime], ...] = ()

    @property
    def confirmed(self) -> int:
        return self.by_state.get("confirmed", 0)

    @property
    def deemed_confirmed(self) -> int:
        return self.by_state.get("deemed_confirmed", 0)

    @property
    def disputed(self) -> int:
        return self.by_state.get("disputed", 0)

    @property
    def waiting(self) -> int:
        return self.by_state.get("issued", 0)

    @property
    def confirmed_share(self) -> float | None:
        return self.confirmed / self.total if self.total else None


def _taipei_day(uow, column):
    if _dialect(uow) == "sqlite":  # Taipei is UTC+8 all year (no summer time since 1979)
        return func.date(column, "+8 hours")
    return func.date(func.timezone("Asia/Taipei", column))


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _receipt_confirmation(uow, scope: Scope, academic_year: int, now: datetime) -> ReceiptConfirmation:
    base = and_(Receipt.school_id == uow.school_id, Receipt.academic_year == academic_year, _in_scope(scope))
    by_state = {state: n for state, n in uow.session.execute(
        select(Receipt.state, func.count()).select_from(Receipt).join(Student, _student_join(Receipt))
        .where(base).group_by(Receipt.state))}
    day = _taipei_day(uow, Receipt.closed_at)
    per_day = {_as_date(d): n for d, n in uow.session.execute(
        select(day, func.count()).select_from(Receipt).join(Student, _student_join(Receipt))
        .where(base, Receipt.state == "confirmed", Receipt.closed_at.is_not(None)).group_by(day))}
    windows = calendar.windows_of_year(uow, "receipt_confirmation", academic_year)
    span: set[date] = set(per_day)
    for window in windows:  # the school's and every batch's own: the days someone could confirm
        first = taipei_date(window.starts_at)
        last = min(taipei_date(window.ends_at - timedelta(microseconds=1)), taipei_date(now))
        span.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    total = sum(by_state.values())
    days, running = [], 0
    for d in sorted(span):
        running += per_day.get(d, 0)
        days.append(ReceiptDay(d, per_day.get(d, 0), running, running / total if total else 0.0))
    school = next((w for w in windows if w.batch_id is None and w.semester == 0), None)
    own = [w for w in windows if w.batch_id is not None]
    labels = calendar.labels(uow, own) if own else {}
    return ReceiptConfirmation(total, by_state, days, school.starts_at if school else None,
                               school.ends_at if school else None,
                               tuple((labels[w.id], w.starts_at, w.ends_at) for w in own))


def receipt_confirmation(uow, actor: Actor, academic_year: int, *,
                         now: datetime | None = None) -> ReceiptConfirmation:
    """Daily receipt-confirmation rate (seed 002 「2月1日確認率」…) for the year's receipts: the
    days of the year's confirmation window up to today (Taipei), plus any day with a confirmation."""
    return _receipt_confirmation(uow, scope_of(uow, actor), period_of(academic_year).academic_year,
                                 now_or(now))


# -- longest queues ------------------------------------------------------------------------------

@dataclass
class TeacherQueue:
    """Submitted outcomes waiting for one certifier (their own courses and those they proxy for)."""

    staff_id: int
    name: str
    waiting: int = 0
    proxied: int = 0  # of which for an absent teacher (代理)
    oldest_submitted_at: datetime | None = None
    courses: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UnroutedQueue:
    """Waiting outcomes of a course nobody can certify now (absent teacher, no proxy named)."""

    course: str
    who: str  # routing.Certifiers.describe()
    waiting: int


@dataclass(frozen=True)
class Queues:
    top: list[TeacherQueue]
    unrouted: list[UnroutedQueue]
    waiting: int  # every waiting outcome in scope


def _queues(uow, groups: list[_Group], limit: int, now: datetime | None = None) -> Queues:
    """The `limit` certifiers with the most submitted outcomes among `groups` waiting, counting
    for each the courses routing.certifiers_for gives them (own and proxied; a course routed to
    an office counts for each holder of that office, since any of them may certify it)."""
    waiting: dict[int, tuple[int, datetime | None]] = {}
    for g in groups:
        if g.kind == "course_outcome" and g.state == "submitted":
            n, oldest = waiting.get(g.course_id, (0, None))
            if g.oldest_submitted_at is not None and (oldest is None or g.oldest_submitted_at < oldest):
                oldest = g.oldest_submitted_at
            waiting[g.course_id] = (n + g.n, oldest)
    courses = list(uow.session.scalars(uow.select(Course).where(Course.id.in_(sorted(waiting))))) if waiting else []
    routes = certifiers_for(uow, courses, on=taipei_date(now_or(now)))
    names = {s.id: s.name for s in uow.session.scalars(uow.select(Staff).where(
        Staff.id.in_(sorted({i for r in routes.values() for i in r.staff_ids}))))} if routes else {}
    people: dict[int, TeacherQueue] = {}
    unrouted = []
    for course in courses:
        n, oldest = waiting[course.id]
        route = routes[course.id]
        if not route.staff_ids:
            unrouted.append(UnroutedQueue(course.name, route.describe(), n))
            continue
        for staff_id in route.staff_ids:
            queue = people.setdefault(staff_id, TeacherQueue(staff_id, names.get(staff_id, str(staff_id))))
            queue.waiting += n
            queue.proxied += n if route.proxied else 0
            if oldest is not None and (queue.oldest_submitted_at is None or oldest < queue.oldest_submitted_at):
                queue.oldest_submitted_at = oldest
            queue.courses.append(course.name + (f"（代理{route.teacher.name}）" if route.proxied else ""))
    # Most waiting first; on a tie, whoever has waited longest.
    top = sorted(people.values(), key=lambda q: (
        -q.waiting, q.oldest_submitted_at.timestamp() if q.oldest_submitted_at else float("inf"), q.name))
    return Queues(top[:limit], sorted(unrouted, key=lambda u: -u.waiting),
                  sum(n for n, _ in waiting.values()))


# -- students to follow up, per homeroom class -------------------------------------------------

@dataclass(frozen=True)
class StudentRef:
    id: int
    student_no: str
    name: str
    class_name: str


@dataclass(frozen=True)
class ClassFollowUp:
    class_name: str
    homeroom_teacher: str | None
    count: int
    students: list[StudentRef]  # the first NAMES_PER_CLASS by student number

    @property
    def more(self) -> int:
        return self.count - len(self.students)


@dataclass(frozen=True)
class FollowUp:
    """Students to follow up per homeroom class. status: why the list is (or is not) shown —
    "not_defined" (no window), "not_open" (window not started), "open", "closed"."""

    status: str
    classes: list[ClassFollowUp]
    window_starts_at: datetime | None = None
    window_ends_at: datetime | None = None

    @property
    def count(self) -> int:
        return sum(c.count for c in self.classes)


def _homeroom_teachers(uow, class_names) -> dict[str, str]:
    """{class name: homeroom teacher's name}, from each class's latest year."""
    if not class_names:
        return {}
    rows = uow.session.execute(
        select(SchoolClass.name, SchoolClass.academic_year, Staff.name)
        .join(Staff, and_(Staff.school_id == SchoolClass.school_id, Staff.id == SchoolClass.homeroom_staff_id))
        .where(SchoolClass.school_id == uow.school_id, SchoolClass.name.in_(sorted(class_names)))
        .order_by(SchoolClass.academic_year))
    return {name: teacher for name, _, teacher in rows}


def _students_per_class(uow, scope: Scope, condition, limit: int, *, enrolled_only: bool) -> list[ClassFollowUp]:
    """Students in scope matching `condition` (enrolled ones only, if asked), counted per class,
    with the first `limit` of each class named (a window function, so the names cost the page,
    not the school)."""
    who = and_(Student.school_id == uow.school_id, _in_scope(scope), condition)
    if enrolled_only:
        who = and_(who, Student.status == EnrolmentStatus.ENROLLED.value)
    counts = dict(uow.session.execute(select(Student.class_name, func.count()).where(who)
                                      .group_by(Student.class_name)).all())
    if not counts:
        return []
    ranked = (select(Student.id, Student.student_no, Student.name, Student.class_name,
                     func.row_number().over(partition_by=Student.class_name,
                                            order_by=(Student.student_no, Student.id)).label("n"))
              .where(who).subquery())
    named: dict[str, list[StudentRef]] = {}
    for sid, number, name, class_name, _ in uow.session.execute(
            select(ranked).where(ranked.c.n <= limit).order_by(ranked.c.class_name, ranked.c.n)):
        named.setdefault(class_name, []).append(StudentRef(sid, number, name, class_name))
    teachers = _homeroom_teachers(uow, counts)
    return [ClassFollowUp(name, teachers.get(name), counts[name], named.get(name, []))
            for name in sorted(counts)]


def _not_selected(uow, scope: Scope, academic_year: int, now: datetime, limit: int) -> FollowUp:
    window = calendar.find(uow, "selection", academic_year, 0)
    if window is None:
        return FollowUp("not_defined", [])
    if now < window.starts_at:
        return FollowUp("not_open", [], window.starts_at, window.ends_at)
    selected = or_(*(and_(Item.kind == kind, Item.state.in_(sorted(states)))
                     for kind, states in SELECTED_STATES.items()))
    has_selection = exists(select(Item.id).where(
        Item.school_id == Student.school_id, Item.student_id == Student.id,
        Item.kind.in_(ITEM_KINDS), Item.academic_year == academic_year, selected))
    return FollowUp("open" if calendar.is_open(window, now) else "closed",
                    _students_per_class(uow, scope, not_(has_selection), limit, enrolled_only=True),
                    window.starts_at, window.ends_at)


def not_selected(uow, actor: Actor, academic_year: int, *, now: datetime | None = None,
                 limit: int = NAMES_PER_CLASS) -> FollowUp:
    """Enrolled students with no item of the year selected (勾選) — course outcomes and multiple
    performances together — per homeroom class, once the year's selection window has opened
    (while it is open, and after it closed: the list homeroom teachers follow up, seed 002)."""
    return _not_selected(uow, scope_of(uow, actor), period_of(academic_year).academic_year,
                         now_or(now), limit)


def _not_confirmed(uow, scope: Scope, academic_year: int, limit: int) -> FollowUp:
    window = calendar.find(uow, "receipt_confirmation", academic_year, 0)
    waiting = exists(select(Receipt.id).where(
        Receipt.school_id == Student.school_id, Receipt.student_id == Student.id,
        Receipt.academic_year == academic_year, Receipt.state == "issued"))
    return FollowUp("not_defined" if window is None else "open",
                    _students_per_class(uow, scope, waiting, limit, enrolled_only=False),
                    window.starts_at if window else None, window.ends_at if window else None)


def not_confirmed(uow, actor: Actor, academic_year: int, *, limit: int = NAMES_PER_CLASS) -> FollowUp:
    """Students with a receipt of the year issued and neither confirmed nor disputed (nor yet
    deemed confirmed), per homeroom class — departed ones too: the school still has to reach
    them (by paper mail, workflows/deadlines/notices.py)."""
    return _not_confirmed(uow, scope_of(uow, actor), period_of(academic_year).academic_year, limit)


# -- one student's timeline ----------------------------------------------------------------------

@dataclass(frozen=True)
class TimelineEvent(HistoryEntry):
    subject_kind: str
    subject_label: str  # 課程學習成果「作品」, 收訖明細（課程學習成果）…

    @property
    def actor_label(self) -> str:
        kind = ActorKind.labels().get(self.actor_kind, self.actor_kind)
        return self.actor_name if self.actor_name == kind else f"{self.actor_name}（{kind}）"


@dataclass(frozen=True)
class Timeline:
    student: Student
    events: list[TimelineEvent]
    truncated: bool  # more than `limit` events: the latest are shown


def student_timeline(uow, actor: Actor, student_id: int, *, limit: int = 1000) -> Timeline:
    """Every audited event about one student, oldest first: what happened to which item or
    receipt, from which state to which, who acted and for whom (a guardian or a proxy), why.
    Staff only; a student outside the actor's view answers NotFound (as for a missing one)."""
    scope_of(uow, actor)  # students, guardians and subject teachers without a class: Forbidden
    student = require_student(uow, actor, student_id)
    rows = list(uow.session.scalars(uow.select(AuditEntry).where(AuditEntry.student_id == student.id)
                                    .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit + 1)))
    truncated = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    item_ids = {r.subject_id for r in rows if r.subject_kind in ITEM_KINDS}
    titles = dict(uow.session.execute(select(Item.id, Item.title).where(
        Item.school_id == uow.school_id, Item.id.in_(sorted(item_ids)))).all()) if item_ids else {}
    receipt_ids = {r.subject_id for r in rows if r.subject_kind == "receipt"}
    categories = dict(uow.session.execute(select(Receipt.id, Receipt.category).where(
        Receipt.school_id == uow.school_id, Receipt.id.in_(sorted(receipt_ids)))).all()) if receipt_ids else {}
    events, subject_labels = [], SubjectKind.labels()
    for r in rows:
        subject = subject_labels.get(r.subject_kind, r.subject_kind)
        if r.subject_kind in ITEM_KINDS and r.subject_id in titles:
            subject = f"{subject}「{titles[r.subject_id]}」"
        elif r.subject_kind == "receipt" and r.subject_id in categories:
            subject = f"{subject}（{KIND_LABELS.get(categories[r.subject_id], categories[r.subject_id])}）"
        events.append(TimelineEvent.of(r, subject_kind=r.subject_kind, subject_label=subject))
    return Timeline(student, events, truncated)


# -- everything for one page, and the API's summary --------------------------------------------

@dataclass(frozen=True)
class StatusReport:
    scope: Scope
    period: Period
    counts: dict[str, KindCounts]
    rates: list[ClassRate]
    days: DaysToCertify
    receipts: ReceiptConfirmation
    queues: Queues
    not_selected: FollowUp
    not_confirmed: FollowUp
    proxied_acts: list["ProxiedAct"] = field(default_factory=list)


PROXIED_DAYS = 30
PROXIED_LIMIT = 20


@dataclass(frozen=True)
class ProxiedAct:
    """One act a proxy did for an absent colleague (代理執行), from the audit log."""

    at: datetime
    actor_name: str
    on_behalf_name: str
    event: str
    subject_kind: str
    subject_id: int
    reason: str | None


def _proxied_acts(uow, scope: Scope, now: datetime) -> list[ProxiedAct]:
    """The latest acts done on behalf of a staff member, whole-school viewers only (a homeroom
    teacher's scope is his class's students, not the offices' work)."""
    if not scope.whole_school:
        return []
    rows = uow.session.execute(
        select(AuditEntry.at, AuditEntry.actor_name, AuditEntry.on_behalf_name, AuditEntry.event,
               AuditEntry.subject_kind, AuditEntry.subject_id, AuditEntry.reason)
        .where(AuditEntry.school_id == uow.school_id, AuditEntry.on_behalf_kind == "staff",
               AuditEntry.at >= now - timedelta(days=PROXIED_DAYS))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(PROXIED_LIMIT)).all()
    return [ProxiedAct(*row) for row in rows]


def status_report(uow, actor: Actor, academic_year: int, semester: int = 0, *,
                  now: datetime | None = None, queue_limit: int = 10,
                  names_per_class: int = NAMES_PER_CLASS) -> StatusReport:
    """Everything the status page shows, for the period, within the actor's scope. Counts,
    rates and queues share one GROUP BY scan of the period's items."""
    now = now_or(now)
    scope = scope_of(uow, actor)
    period = period_of(academic_year, semester)
    groups = _groups(uow, scope, period)
    year = period.academic_year
    return StatusReport(scope, period, _kind_counts(uow, groups), _class_rates(groups),
                        _days_to_certify(uow, scope, period), _receipt_confirmation(uow, scope, year, now),
                        _queues(uow, groups, queue_limit, now),
                        _not_selected(uow, scope, year, now, names_per_class),
                        _not_confirmed(uow, scope, year, names_per_class),
                        _proxied_acts(uow, scope, now))


def summary(uow, actor: Actor, academic_year: int, semester: int | None = None, *,
            now: datetime | None = None) -> dict:
    """A JSON-serialisable summary for the API: counts per state per kind, the certification
    rate per class with its band, and the receipts' confirmation totals, for one year (and one
    semester for course outcomes, when given)."""
    now = now_or(now)
    scope = scope_of(uow, actor)
    period = period_of(academic_year, semester or 0)
    groups = _groups(uow, scope, period)
    counts = _kind_counts(uow, groups)
    receipts = _receipt_confirmation(uow, scope, period.academic_year, now)
    return {
        "academic_year": period.academic_year,
        "semester": period.semester or None,
        "scope": {"whole_school": scope.whole_school,
                  "classes": None if scope.whole_school else sorted(scope.class_names)},
        "counts": {kind: {"total": c.by_class.total, "states": c.totals} for kind, c in counts.items()},
        "certification_rate": [
            {"class_name": r.class_name, "grade": r.grade, "certified": r.certified,
             "submitted": r.submitted, "waiting": r.waiting,
             "rate": round(r.rate, 4) if r.rate is not None else None, "band": r.band}
            for r in _class_rates(groups)],
        "receipts": {"total": receipts.total, "confirmed": receipts.confirmed,
                     "deemed_confirmed": receipts.deemed_confirmed, "disputed": receipts.disputed,
                     "waiting": receipts.waiting,
                     "confirmed_share": round(receipts.confirmed_share, 4)
                     if receipts.confirmed_share is not None else None},
    }
