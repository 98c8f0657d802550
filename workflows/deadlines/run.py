"""Everything a deadline does, for every school, as of an explicit `now`.

`run_due` is the one entry point: `portfolio sweep`, the scheduler's date triggers, its periodic
catch-up and its start-up run all call it. Each part is idempotent and holds its school's lock,
so running it twice, late, or from two processes at once changes nothing the second time:

| part | effect | module |
|---|---|---|
| transitions | drafts lock, not certified in time, deemed confirmed (set-based) | sweeps |
| batches | submission batches whose confirmation period is over close | receipt_import |
| boundaries | selection freeze, not-certified report, paper-notice prompt (ledger) | boundaries |
| reminders | reminders before deadlines, into the outbox | reminders |
| retention | departed students' data purged after the policy's years | retention |

Each part of each school runs in its own transaction: a failure is reported and the rest still
run, so a bad reminder never stops a deemed confirmation. Delivery of the outbox is separate
(workflows/deadlines/outbox.py) and never blocks a sweep.

`moments` lists when something may become due for a window: what the scheduler turns into
date triggers. Waking at a boundary where nothing is due costs one quick sweep.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from persistence import throttle_counts
from persistence.db import Database
from persistence.files import FileStore
from persistence.tables import School, Window
from workflows.deadlines import boundaries, reminders, retention, sweeps
from workflows.central import receipt_import
from workflows.people import sign_in_sessions
from workflows.core.actors import Actor
from workflows.core.clock import utc_now
from workflows.core.policy import Policy, school_policy
from workflows.core.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

PART_LABELS = {
    "lock_drafts": "草稿鎖定", "expire_certification": "逾期未認證", "deem_confirmed": "逾期視為確認",
    "closed_batches": "提交批次結束",
    "freeze_selection": "勾選凍結", "report_not_certified": "逾期未認證通報",
    "paper_notice_due": "紙本通知提醒", "reminders": "截止提醒", "purged_students": "離校生資料刪除",
}


@dataclass
class SchoolRun:
    code: str
    name: str
    changed: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.changed.values())

    def describe(self) -> str:
        done = "、".join(f"{PART_LABELS[k]} {n}" for k, n in self.changed.items() if n) or "沒有到期的作業"
        failed = "".join(f"；失敗：{e}" for e in self.errors)
        return f"{self.code} {self.name}：{done}{failed}"


@dataclass
class DueRun:
    now: datetime
    schools: list[SchoolRun] = field(default_factory=list)
    files_removed: int = 0
    sessions_purged: int = 0  # sign-in sessions and API tokens past their absolute lifetime
    throttle_purged: int = 0  # sign-in throttle counts with no failure for a day
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not any(s.errors for s in self.schools)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.schools)


def _close_batches(uow: UnitOfWork, now: datetime, actor: Actor | None) -> dict[str, int]:
    closed = receipt_import.close_finished_batches(uow, now, actor)
    uow.commit()
    return {"closed_batches": closed}


def _parts(actor: Actor | None):
    return (
        ("transitions", lambda uow, now: sweeps.run_all(uow, now, actor).changed),
        ("batches", lambda uow, now: _close_batches(uow, now, actor)),
        ("boundaries", boundaries.run),
        ("reminders", lambda uow, now: {"reminders": reminders.run(uow, now)}),
        ("retention", lambda uow, now: {"purged_students": retention.purge(uow, now, actor)}),
    )


def run_school(db: Database, files: FileStore | None, school: School, now: datetime,
               actor: Actor | None = None) -> SchoolRun:
    result = SchoolRun(school.code, school.name)
    for part, run in _parts(actor):
        try:
            with UnitOfWork(db, school.id, files) as uow:
                result.changed.update(run(uow, now))
        except Exception as error:  # noqa: BLE001 - one part's failure must not stop the others
            log.exception("deadline part %s failed for school %s", part, school.code)
            result.errors.append(f"{part}: {type(error).__name__}: {error}")
    return result


def run_due(db: Database, files: FileStore | None, now: datetime, *, actor: Actor | None = None,
            school_ids: set[int] | None = None) -> DueRun:
    """Every deadline effect due at `now`, for every school (or those in `school_ids`)."""
    result = DueRun(now)
    with db.session() as session:
        schools = list(session.scalars(select(School).order_by(School.code)))
    for school in schools:
        if school_ids is None or school.id in school_ids:
            result.schools.append(run_school(db, files, school, now, actor))
    if school_ids is None:  # the deployment-wide run (catch-up, `portfolio sweep`)
        try:
            # By the wall clock, as sessions live (a sweep's `now` may be a deadline being caught up).
            result.sessions_purged = sign_in_sessions.purge_expired(db, utc_now())
        except Exception as error:  # noqa: BLE001 - reported; the rows go on the next run
            log.exception("removing expired sign-in sessions failed")
            result.errors.append(f"sessions: {type(error).__name__}: {error}")
        try:
            result.throttle_purged = throttle_counts.purge_stale(db, utc_now())
        except Exception as error:  # noqa: BLE001 - reported; the rows go on the next run
            log.exception("removing stale sign-in throttle counts failed")
            result.errors.append(f"throttle: {type(error).__name__}: {error}")
    if files is not None:
        try:
            result.files_removed = retention.remove_files(db, files)
        except Exception as error:  # noqa: BLE001 - reported; the queue stays for the next run
            log.exception("removing purged files failed")
            result.errors.append(f"files: {type(error).__name__}: {error}")
    return result


@dataclass(frozen=True)
class Moment:
    """A moment something may fall due for one window: the scheduler's date trigger."""

    school_id: int
    window_id: int
    edge: str  # "open" | "close" | "remind"
    at: datetime

    @property
    def job_id(self) -> str:
        return f"window:{self.school_id}:{self.window_id}:{self.edge}"


def moments(window: Window, policy: Policy) -> list[Moment]:
    out = [Moment(window.school_id, window.id, "open", window.starts_at),
           Moment(window.school_id, window.id, "close", window.ends_at)]
    remind = policy.reminder_at(window.kind, window.starts_at, window.ends_at)
    if remind is not None:
        out.append(Moment(window.school_id, window.id, "remind", remind))
    return out


def upcoming(db: Database, now: datetime) -> list[Moment]:
    """Every moment after `now`, of every school's windows that have not closed yet."""
    with db.session() as session:
        policies = {s.id: school_policy(s) for s in session.scalars(select(School))}
        windows = list(session.scalars(select(Window).where(Window.ends_at > now)))
    return sorted((m for w in windows for m in moments(w, policies[w.school_id]) if m.at > now),
                  key=lambda m: (m.at, m.job_id))
