"""The school's calendar (作業期程): named windows, defined in Taipei dates, stored in UTC.

Answers every "until when" question of the workflows; the policy answers "how many".
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from persistence.vocabulary import BATCH_KIND_LABELS, ITEM_KIND_OF_BATCH, TRACK_LABELS, WINDOW_LABELS
from workflows.people.offices import require_submission_office
from persistence.tables import WINDOW_KINDS, SubmissionBatch, Window
from workflows.core.actors import Actor
from workflows.core.clock import add_working_days, end_of_day, format_deadline, format_taipei, start_of_day
from workflows.core.errors import Forbidden, InvalidInput, RuleViolation
from workflows.core.roles import Role
from workflows.core.transitions import note

# Windows that belong to a semester; the others cover a whole academic year (semester 0).
SEMESTER_WINDOWS = frozenset({"course_outcome_upload", "certification", "grade_check"})
CALENDAR_ROLES = (Role.EXECUTIVE_SECRETARY, Role.ADMIN, Role.REGISTRY)


# Batches whose receipts students confirm item by item: only these get a window of their own.
RECEIPT_BATCH_KINDS = frozenset(ITEM_KIND_OF_BATCH)
FINISHED_BATCH_STATES = ("cancelled", "closed")


def describe(window: Window, label: str | None = None) -> str:
    """The window and its dates; `label` (from `labels`) names a batch's own window."""
    return (f"{label or WINDOW_LABELS[window.kind]}（{format_taipei(window.starts_at)} 起，"
            f"至 {format_deadline(window.ends_at)} 止）")


def batch_label(batch: SubmissionBatch, kind: str = "receipt_confirmation") -> str:
    """What a batch's own window is called, e.g. 高三學術群第 1 梯次收訖明細確認（學年提交－課程學習成果）."""
    who = (f"高三{TRACK_LABELS[batch.track]}第 {batch.round} 梯次" if batch.track
           else f"提交批次 #{batch.id}")
    return f"{who}{WINDOW_LABELS[kind]}（{BATCH_KIND_LABELS[batch.kind]}）"


def labels(uow, windows: list[Window]) -> dict[int, str]:
    """{window id: label} for `windows`: the kind's label, or for a batch's own window the
    batch's (one query for all the batches)."""
    batch_ids = {w.batch_id for w in windows if w.batch_id is not None}
    found = {b.id: b for b in uow.session.scalars(
        uow.select(SubmissionBatch).where(SubmissionBatch.id.in_(batch_ids)))} if batch_ids else {}
    return {w.id: batch_label(found[w.batch_id], w.kind) if w.batch_id in found else WINDOW_LABELS[w.kind]
            for w in windows}


def is_open(window: Window | None, now: datetime) -> bool:
    return window is not None and window.starts_at <= now < window.ends_at


def find(uow, kind: str, academic_year: int, semester: int = 0) -> Window | None:
    """The school's window of `kind` for the period — never a batch's own window."""
    return uow.session.scalars(uow.select(Window).where(
        Window.kind == kind, Window.academic_year == academic_year,
        Window.semester == semester, Window.batch_id.is_(None))).one_or_none()


def find_batch_window(uow, batch_id: int, kind: str = "receipt_confirmation") -> Window | None:
    """A submission batch's own window of `kind`, if it has one."""
    return uow.session.scalars(uow.select(Window).where(
        Window.batch_id == batch_id, Window.kind == kind)).one_or_none()


def windows_of_year(uow, kind: str, academic_year: int) -> list[Window]:
    """Every window of `kind` for the year: the school's first (any semester), then the batches'
    own by their first day."""
    return list(uow.session.scalars(uow.select(Window).where(
        Window.kind == kind, Window.academic_year == academic_year)
        .order_by(Window.batch_id.is_not(None), Window.semester, Window.starts_at, Window.id)))


def require_open(uow, kind: str, academic_year: int, semester: int, now: datetime,
                 *, doing: str) -> Window:
    """The window, if `now` is inside it; otherwise a RuleViolation saying when it is/was."""
    window = find(uow, kind, academic_year, semester)
    if window is None:
        raise RuleViolation(f"{_period(academic_year, semester)}{WINDOW_LABELS[kind]}期間尚未公告，"
                            f"目前不能{doing}。", rule="window_not_defined", field="window", window=kind)
    return require_inside(window, now, doing=doing)


def _period(academic_year: int, semester: int) -> str:
    return f"{academic_year} 學年度" + (f"第 {semester} 學期" if semester else "")


def require_inside(window: Window, now: datetime, *, doing: str) -> Window:
    """`window` itself if `now` is inside it; otherwise a RuleViolation saying when it is/was."""
    kind = window.kind
    label = WINDOW_LABELS[kind]
    period = _period(window.academic_year, window.semester)
    if now < window.starts_at:
        raise RuleViolation(f"{period}{label}期間自 {format_taipei(window.starts_at)} 開始，"
                            f"目前還不能{doing}。", rule="window_not_open", field="window",
                            window=kind, limit=window.starts_at.isoformat())
    if now >= window.ends_at:
        raise RuleViolation(f"{period}{label}期間已於 {format_deadline(window.ends_at)} 截止，"
                            f"目前不能{doing}。", rule="window_closed", field="window",
                            window=kind, limit=window.ends_at.isoformat())
    return window


def require_confirmation_days(uow, starts_at: datetime, ends_at: datetime, *, field: str) -> None:
    """A receipt confirmation period (收訖明細確認期間) of at least the policy's days (national
    rule: at least 3). `starts_at` is when students can begin to confirm."""
    days = uow.policy.receipt_confirmation_days
    if ends_at - starts_at < timedelta(days=days):
        have = (ends_at - starts_at) / timedelta(days=1)
        raise RuleViolation(
            f"收訖明細確認期間自 {format_taipei(starts_at)} 至 {format_deadline(ends_at)}，只有 {have:g} 日，"
            f"少於本校規定的 {days} 日（全國規定不得少於 3 日）。", rule="receipt_window_too_short",
            field=field, limit=days)


def require_confirmation_window(uow, window_id: int, now: datetime, *, field: str) -> Window:
    """The receipt confirmation window `window_id`, refused unless it is one and students still
    have the policy's whole period from `now` (a receipt issued late shortens nobody's time)."""
    window = uow.get(Window, window_id, what="收訖明細確認期間")
    if window.kind != "receipt_confirmation":
        raise InvalidInput(f"期程 {window.id} 不是收訖明細確認期間（{describe(window)}）。", field=field)
    require_confirmation_days(uow, max(now, window.starts_at), window.ends_at, field=field)
    return window


def define_window(uow, actor: Actor, kind: str, academic_year: int, semester: int,
                  first_day: date, last_day: date, *, now: datetime) -> Window:
    """Create or move a window: open from 00:00 of first_day to the end of last_day (Taipei)."""
    uow.require_member(actor)
    if actor.kind not in ("system", "platform") and not (actor.kind == "staff" and actor.has(*CALENDAR_ROLES)):
        raise Forbidden("只有教務處（執行秘書、註冊組）或學校管理者可以設定作業期程。")
    if kind not in WINDOW_KINDS:
        raise InvalidInput(f"未知的期程種類「{kind}」；可用：{'、'.join(WINDOW_KINDS)}", field="kind")
    if (semester != 0) != (kind in SEMESTER_WINDOWS):
        raise InvalidInput(f"「{WINDOW_LABELS[kind]}」期程"
                           + ("須指定學期（1 或 2）" if kind in SEMESTER_WINDOWS else "以學年度為單位，學期請填 0"),
                           field="semester")
    if last_day < first_day:
        raise InvalidInput(f"結束日 {last_day} 早於開始日 {first_day}", field="last_day")
    starts_at, ends_at = start_of_day(first_day), end_of_day(last_day)
    if kind == "receipt_confirmation":
        require_confirmation_days(uow, starts_at, ends_at, field="last_day")
    window = find(uow, kind, academic_year, semester)
    before = None
    if window is None:
        window = Window(school_id=uow.school_id, kind=kind, academic_year=academic_year,
                        semester=semester, starts_at=starts_at, ends_at=ends_at)
        uow.session.add(window)
    else:
        before = f"{window.starts_at.isoformat()}/{window.ends_at.isoformat()}"
        window.starts_at, window.ends_at = starts_at, ends_at
    uow.session.flush()
    note(uow.session, school_id=uow.school_id, subject_kind="window", subject_id=window.id,
         event="define_window", from_state=before,
         to_state=f"{starts_at.isoformat()}/{ends_at.isoformat()}", actor=actor, at=now,
         reason=f"{academic_year}-{semester} {WINDOW_LABELS[kind]}")
    return window


def define_batch_window(uow, actor: Actor, batch_id: int, first_day: date, last_day: date, *,
                        now: datetime) -> Window:
    """Create or move a submission batch's own receipt confirmation window (批次確認期間): grade-12
    batches (學術群 / 專業群, each round) confirm on dates of their own, and defining them leaves
    the school's year window — and everybody else's receipts — where they are.

    The calendar offices or the submission offices (or their proxies) only."""
    acting = _batch_window_actor(uow, actor, now)
    batch = uow.get(SubmissionBatch, batch_id, what="提交批次")
    if batch.kind not in RECEIPT_BATCH_KINDS:
        raise InvalidInput(f"{BATCH_KIND_LABELS[batch.kind]}沒有逐項的收訖明細，不設定確認期間。",
                           field="batch_id")
    if batch.state in FINISHED_BATCH_STATES:
        raise RuleViolation(f"提交批次 #{batch.id} 已結束（{'已取消' if batch.state == 'cancelled' else '已結案'}），"
                            "不能再設定確認期間。", rule="batch_finished", field="batch_id")
    if last_day < first_day:
        raise InvalidInput(f"結束日 {last_day} 早於開始日 {first_day}", field="last_day")
    starts_at, ends_at = start_of_day(first_day), end_of_day(last_day)
    require_confirmation_days(uow, starts_at, ends_at, field="last_day")
    kind = "receipt_confirmation"
    window = find_batch_window(uow, batch.id, kind)
    before = None
    if window is None:
        window = Window(school_id=uow.school_id, kind=kind, academic_year=batch.academic_year, semester=0,
                        batch_id=batch.id, starts_at=starts_at, ends_at=ends_at)
        uow.session.add(window)
    else:
        if batch.confirmation_window_id == window.id:  # receipts issued: moving shortens nobody's time
            require_confirmation_days(uow, max(now, starts_at), ends_at, field="last_day")
        before = f"{window.starts_at.isoformat()}/{window.ends_at.isoformat()}"
        window.starts_at, window.ends_at = starts_at, ends_at
    uow.session.flush()
    note(uow.session, school_id=uow.school_id, subject_kind="window", subject_id=window.id,
         event="define_window", from_state=before,
         to_state=f"{starts_at.isoformat()}/{ends_at.isoformat()}", actor=acting, at=now,
         reason=f"{batch.academic_year}-0 {batch_label(batch, kind)}（批次 #{batch.id}）")
    return window


def _batch_window_actor(uow, actor: Actor, now: datetime) -> Actor:
    """Who sets a batch's dates, as audited: a calendar office as himself, else a submission
    office (or its proxy, acting for the holder)."""
    uow.require_member(actor)
    if actor.kind == "staff" and actor.has(*CALENDAR_ROLES):
        return actor
    try:
        return require_submission_office(uow, actor, "設定提交批次的收訖明細確認期間", now=now)
    except Forbidden:
        raise Forbidden("只有教務處（執行秘書、註冊組）、提交中央資料庫的處室（註冊組、設備組、訓育組，"
                        "或其代理人）或學校管理者可以設定提交批次的收訖明細確認期間。") from None


def define_outcome_windows(uow, actor: Actor, academic_year: int, semester: int,
                           first_day: date, last_day: date, *, now: datetime) -> tuple[Window, Window]:
    """The students' upload window and the certification window that follows it: teachers
    certify until N working days (policy) after the students' last day — the teacher-only tail."""
    upload = define_window(uow, actor, "course_outcome_upload", academic_year, semester,
                           first_day, last_day, now=now)
    tail_end = add_working_days(last_day, uow.policy.certification_tail_working_days)
    certification = define_window(uow, actor, "certification", academic_year, semester,
                                  first_day, tail_end, now=now)
    return upload, certification


def windows(uow, academic_year: int | None = None) -> list[Window]:
    """The school's windows and the batches' own windows (name them with `labels`)."""
    statement = uow.select(Window).order_by(Window.academic_year, Window.starts_at, Window.kind)
    if academic_year is not None:
        statement = statement.where(Window.academic_year == academic_year)
    return list(uow.session.scalars(statement))
