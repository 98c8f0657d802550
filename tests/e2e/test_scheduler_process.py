"""`portfolio scheduler` as a real process across real deadlines, on SQLite and PostgreSQL.

Calendar windows are whole Taipei days; to cross a deadline within a test, these tests move a
window's end to a few seconds from now directly in the database (what `calendar set` would do
with a whole day). The catch-up interval is set far beyond the test, so only the start-up run
and the date triggers can produce an effect. Effects are counted in the audit log.
"""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from persistence.tables import AuditEntry, Item, Receipt, Window, scheduler_jobs
from tests.e2e.test_cli import PORTFOLIO
from tests.world import World
from workflows.core.clock import utc_now

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Deadlines a few seconds ahead of real scheduler processes: under pytest-xdist these tests and
# tests/reliability/test_scheduler_kill9.py run on one worker, one after another, not against each other.
pytestmark = pytest.mark.xdist_group("scheduler-processes")


def _die_with_parent() -> None:
    """In the child: SIGKILL when the test run dies, so an interrupted run leaves no scheduler
    holding the database's lock for the next run."""
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Scheduler:
    """One `portfolio scheduler` process; its output lines are collected as they come."""

    def __init__(self, tmp_path, db_url: str):
        self.process = subprocess.Popen(
            [*PORTFOLIO, "--db", db_url, "--data-dir", str(tmp_path / "files"), "scheduler",
             "--poll-seconds", "0.2", "--sync-seconds", "0.5", "--catch-up-seconds", "3600"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1"},
            preexec_fn=_die_with_parent)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30) -> bool:
        """Whether the process has printed `text`, waiting up to `timeout` seconds for it."""
        end = time.monotonic() + timeout
        while True:
            while not self.lines.empty():
                self.seen.append(self.lines.get())
            if any(text in line for line in self.seen):
                return True
            if time.monotonic() >= end or (self.process.poll() is not None and self.lines.empty()):
                return False
            time.sleep(0.05)

    @property
    def active(self) -> bool:
        return self.wait_for("排程器作用中", timeout=0)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # its threads' stacks, for the report
            time.sleep(1)
            self.kill()
            self.wait_for("never printed", timeout=1)
            raise AssertionError("the scheduler did not stop on SIGTERM:\n" + "\n".join(self.seen)) from None


@pytest.fixture
def schedulers(tmp_path, cli_db):
    started: list[Scheduler] = []

    def start() -> Scheduler:
        started.append(Scheduler(tmp_path, cli_db))
        return started[-1]
    yield start
    for process in started:
        if process.process.poll() is None:
            process.kill()


def eventually(check, timeout: float = 30) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.1)
    return check()


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - utc_now()).total_seconds()))


def move_window(world, window_id: int, *, ends_at: datetime, starts_at: datetime | None = None) -> None:
    with world.uow() as uow:
        values = {"ends_at": ends_at, **({"starts_at": starts_at} if starts_at else {})}
        uow.session.execute(update(Window).where(Window.id == window_id).values(**values))
        uow.session.commit()


def audited(world, event: str) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.event == event)))


def receipts_in(world, state: str) -> int:
    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Receipt).where(Receipt.state == state))


def stored_job(world, job_id: str) -> bool:
    with world.db.engine.connect() as connection:
        return connection.execute(select(scheduler_jobs.c.id).where(scheduler_jobs.c.id == job_id)).first() is not None


def receipts_closing_in(world, seconds: float) -> datetime:
    """Two students' receipts in a confirmation window that ends `seconds` from now."""
    world.to_receipts((0, 1))
    deadline = (utc_now() + timedelta(seconds=seconds)).replace(microsecond=0)
    move_window(world, world.receipt_window_id, ends_at=deadline)
    return deadline


def draft_in_open_window(world, closes_in: float) -> tuple[int, int, datetime]:
    """A draft in a semester-2 upload window open now, closing `closes_in` seconds from now."""
    with world.uow() as uow:
        window = uow.session.scalars(select(Window).where(
            Window.kind == "course_outcome_upload", Window.semester == 2)).one()
    deadline = (utc_now() + timedelta(seconds=closes_in)).replace(microsecond=0)
    move_window(world, window.id, starts_at=utc_now() - timedelta(days=1), ends_at=deadline)
    item = world.upload(0, course_id=world.course_sem2_id, now=utc_now())
    return window.id, item, deadline


def test_killed_before_a_deadline_and_restarted_after_it_the_effect_happens_once(db, files, schedulers):
    world = World(db, files)
    deadline = receipts_closing_in(world, 12)
    close_job = f"window:{world.school_id}:{world.receipt_window_id}:close"

    first = schedulers()
    assert first.wait_for("排程器作用中"), first.seen
    assert eventually(lambda: stored_job(world, close_job), 10)
    first.kill()
    assert utc_now() < deadline, "the scheduler took too long to start for this test to mean anything"

    sleep_until(deadline + timedelta(seconds=1))
    assert receipts_in(world, "issued") == 2  # nobody was running at the deadline

    second = schedulers()
    assert second.wait_for("排程器作用中"), second.seen
    assert eventually(lambda: receipts_in(world, "deemed_confirmed") == 2, 20)
    time.sleep(1.5)  # the stored trigger, missed while down, fires now too: it must change nothing
    rows = audited(world, "deem_confirmed")
    assert len(rows) == 4  # two receipts and their two items, once each
    assert {r.at for r in rows} == {deadline}
    assert second.stop() == 0 and second.wait_for("排程器已停止")


def test_a_running_scheduler_fires_at_the_deadline_and_follows_a_moved_window(db, files, schedulers):
    world = World(db, files)
    window_id, draft, _ = draft_in_open_window(world, closes_in=3600)
    deadline = receipts_closing_in(world, 8)

    running = schedulers()
    assert running.wait_for("排程器作用中"), running.seen
    assert eventually(lambda: receipts_in(world, "deemed_confirmed") == 2, 25)
    with world.uow() as uow:
        item = uow.session.scalars(select(Item).where(Item.receipt_id.is_not(None))).first()
    assert item.updated_at - deadline < timedelta(seconds=3)  # by the trigger, at the moment

    moved = (utc_now() + timedelta(seconds=4)).replace(microsecond=0)  # the school closes early
    move_window(world, window_id, ends_at=moved)
    assert eventually(lambda: [r.subject_id for r in audited(world, "lock")] == [draft], 20)
    assert audited(world, "lock")[0].at == moved
    assert running.stop() == 0


def test_two_schedulers_one_acts_and_the_other_takes_over_when_it_dies(db, files, schedulers):
    world = World(db, files)
    _, draft, later = draft_in_open_window(world, closes_in=25)
    deadline = receipts_closing_in(world, 10)

    pair = [schedulers(), schedulers()]
    assert eventually(lambda: sum(p.active for p in pair) == 1 and
                      any(p.wait_for("等待接手", 0) for p in pair), 20), [p.seen for p in pair]
    leader = next(p for p in pair if p.active)
    standby = next(p for p in pair if p is not leader)

    sleep_until(deadline)
    assert eventually(lambda: receipts_in(world, "deemed_confirmed") == 2, 20)
    time.sleep(1)
    assert len(audited(world, "deem_confirmed")) == 4  # one acted
    assert not standby.active

    leader.kill()
    assert standby.wait_for("排程器作用中", 10), standby.seen
    assert utc_now() < later
    sleep_until(later)
    assert eventually(lambda: len(audited(world, "lock")) == 1, 20)
    assert audited(world, "lock")[0].subject_id == draft
    assert len(audited(world, "deem_confirmed")) == 4
    assert standby.stop() == 0


def test_the_scheduler_refuses_a_database_that_is_not_upgraded(tmp_path):
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    result = subprocess.run([*PORTFOLIO, "--db", empty, "scheduler"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 2 and "portfolio db upgrade" in result.stderr
