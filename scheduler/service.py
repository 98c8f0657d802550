"""The scheduler process's APScheduler setup.

Jobs:
- one date trigger per window moment (`workflows.deadlines.run.moments`: open, close, reminder),
  stored in the SQLAlchemy job store (table apscheduler_jobs, same database), id
  `window:<school>:<window>:<edge>`, `replace_existing=True`, `misfire_grace_time=None`
  (a trigger missed while the process was down still runs when it comes back), `coalesce=True`;
- `sync` (every `sync_seconds`): re-reads every school's calendar and adds, moves or removes
  those date triggers, so a window changed from the pages or the CLI moves its jobs;
- `catch_up` (every `catch_up_seconds`) and one run at start-up: every due effect of every
  school, so nothing depends on a trigger having fired;
- `deliver` (every `deliver_seconds`, and after every run): the outbox, over SMTP.
The three periodic jobs live in memory: each start creates them again.
"""
from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from persistence.db import Database
from persistence.files import FileStore
from persistence.tables import scheduler_jobs
from scheduler import jobs
from workflows.deadlines import outbox
from workflows.core.clock import TAIPEI, format_taipei, utc_now
from workflows.deadlines.run import DueRun, Moment, run_due, upcoming

log = logging.getLogger(__name__)

WINDOW_JOBS = "windows"  # the persistent store
PERIODIC_JOBS = "periodic"  # in memory


def _one_at_a_time(method):
    """Run under the service's work lock, and not at all once it is stopping: `shutdown` waits
    for the work in progress by taking the same lock."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        with self._work:
            if self._stopping:
                return None
            return method(self, *args, **kwargs)
    return guarded


@dataclass
class Sync:
    added: int = 0
    moved: int = 0
    removed: int = 0
    kept: int = 0


class Service:
    def __init__(self, db: Database, files: FileStore | None, mailer: outbox.Mailer | None = None, *,
                 catch_up_seconds: float = 300, sync_seconds: float = 60, deliver_seconds: float = 60,
                 report: Callable[[str], None] = log.info, clock: Callable[[], datetime] = utc_now):
        self.db, self.files, self.mailer = db, files, mailer
        self.catch_up_seconds, self.sync_seconds = catch_up_seconds, sync_seconds
        self.deliver_seconds = deliver_seconds
        self.report, self.clock = report, clock
        self._work = threading.RLock()
        self._stopping = False
        self.scheduler = BackgroundScheduler(
            jobstores={WINDOW_JOBS: SQLAlchemyJobStore(engine=db.engine, tablename=scheduler_jobs.name),
                       PERIODIC_JOBS: MemoryJobStore()},
            # One worker: runs never overlap inside this process (the sweeps' locks cover others).
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=TAIPEI)

    # -- what the jobs do ------------------------------------------------------------------

    @_one_at_a_time
    def run(self, why: str, school_ids: set[int] | None = None) -> DueRun:
        now = self.clock()
        result = run_due(self.db, self.files, now, school_ids=school_ids)
        for school in result.schools:
            if school.total or school.errors:
                self.report(f"{format_taipei(now)} {why}：{school.describe()}")
        for error in result.errors:
            self.report(f"{format_taipei(now)} {why}：失敗：{error}")
        self.deliver()
        return result

    @_one_at_a_time
    def deliver(self) -> outbox.Delivery | None:
        if self.mailer is None:
            return None
        try:
            result = outbox.deliver(self.db, self.mailer, self.clock())
        except Exception as error:  # noqa: BLE001 - delivery never stops the scheduler
            log.exception("outbox delivery failed")
            self.report(f"通知寄送失敗：{error}")
            return None
        if result.sent or result.retrying or result.failed:
            self.report(f"通知：{result}")
        return result

    @_one_at_a_time
    def sync(self, now: datetime | None = None) -> Sync:
        """Make the stored date triggers match every school's calendar from `now` on."""
        now = now or self.clock()
        wanted: dict[str, Moment] = {m.job_id: m for m in upcoming(self.db, now)}
        result = Sync()
        for job in self.scheduler.get_jobs(jobstore=WINDOW_JOBS):
            moment = wanted.pop(job.id, None)
            if moment is None:
                # A moment already passed is left to fire (it is due); only future ones that
                # no longer exist (window moved or deleted) go.
                if job.next_run_time is None or job.next_run_time > now:
                    job.remove()
                    result.removed += 1
            elif job.next_run_time != moment.at:
                self._add(moment)
                result.moved += 1
            else:
                result.kept += 1
        for moment in wanted.values():
            self._add(moment)
            result.added += 1
        if result.added or result.moved or result.removed:
            log.info("scheduler sync: %s", result)
        return result

    def _add(self, moment: Moment) -> None:
        self.scheduler.add_job(
            jobs.window_boundary, DateTrigger(run_date=moment.at), id=moment.job_id,
            name=f"{moment.edge} {format_taipei(moment.at)}",
            args=(moment.school_id, moment.window_id, moment.edge), jobstore=WINDOW_JOBS,
            replace_existing=True, misfire_grace_time=None, coalesce=True)

    # -- life cycle --------------------------------------------------------------------------

    def start(self, *, paused: bool = False, run_first: bool = True) -> DueRun | None:
        """The start-up run, then the scheduler with its jobs (paused: stored, not run)."""
        jobs.bind(self)
        first = self.run("start-up") if run_first else None
        self.scheduler.start(paused=paused)
        for function, seconds in ((jobs.sync, self.sync_seconds), (jobs.catch_up, self.catch_up_seconds),
                                  (jobs.deliver, self.deliver_seconds)):
            self.scheduler.add_job(function, "interval", seconds=seconds, id=function.__name__,
                                   jobstore=PERIODIC_JOBS, replace_existing=True)
        self.sync()
        return first

    def alive(self) -> bool:
        """Whether APScheduler's thread still runs: if it died, this process must not keep the
        leadership while nothing fires."""
        thread = getattr(self.scheduler, "_thread", None)
        return self.scheduler.running and thread is not None and thread.is_alive()

    def shutdown(self) -> None:
        """Finish the work in progress, start none, stop. APScheduler 3's shutdown(wait=True)
        waits for running jobs while holding its job-store lock, and `sync` needs that lock: the
        two would wait for each other forever. So wait for the work here, outside APScheduler's
        locks, and then stop it without waiting."""
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.pause()
            with self._work:
                # Its last pass over due jobs would fail on each stored trigger: detach them
                # first; they stay in the database, untouched, for the next start.
                self.scheduler.remove_jobstore(WINDOW_JOBS, shutdown=False)
            self.scheduler.shutdown(wait=False)
        jobs.bind(None)
