"""The scheduler turns every school's calendar into date triggers in the database's job store,
follows the calendar when a window moves, and its jobs call the same sweeps as everyone else.
The scheduler runs paused here: these tests read the job store and call jobs directly, with an
explicit clock; nothing depends on a background thread (tests/e2e/test_scheduler_process.py
runs the real process across real deadlines)."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from persistence.tables import Item, Window, scheduler_jobs
from persistence.db import Database, make_engine
from scheduler import jobs
from scheduler.leader import PostgresLeadership, leadership_for
from scheduler.service import WINDOW_JOBS, Service
from tests.world import AFTER_CERTIFICATION, IN_UPLOAD, UPLOAD_LAST_DAY, YEAR, World
from workflows.school import calendar
from workflows.core.clock import end_of_day, start_of_day
from workflows.core.policy import load_policy


@pytest.fixture
def service_at(db, files):
    """A paused scheduler whose clock says `now`."""
    made = []

    def make(now):
        service = Service(db, files, clock=lambda: now)
        service.start(paused=True, run_first=False)
        made.append(service)
        return service
    yield make
    for service in made:
        service.shutdown()


def stored(service) -> dict[str, object]:
    return {job.id: job.next_run_time for job in service.scheduler.get_jobs(jobstore=WINDOW_JOBS)}


def window_id(world, kind, semester=0) -> int:
    with world.uow() as uow:
        return calendar.find(uow, kind, YEAR, semester).id


def test_every_window_boundary_and_reminder_becomes_a_stored_date_trigger(db, files, service_at):
    world = World(db, files)
    service = service_at(IN_UPLOAD)
    upload = window_id(world, "course_outcome_upload", 1)
    school = world.school_id

    jobs_now = stored(service)

    assert jobs_now[f"window:{school}:{upload}:close"] == end_of_day(UPLOAD_LAST_DAY)
    assert jobs_now[f"window:{school}:{upload}:remind"] == start_of_day(date(2026, 1, 27)) + timedelta(hours=8)
    assert f"window:{school}:{upload}:open" not in jobs_now  # opened before now: nothing to schedule
    receipt = world.receipt_window_id
    assert jobs_now[f"window:{school}:{receipt}:open"] == start_of_day(date(2026, 10, 4))
    with db.engine.connect() as connection:  # in the database, where a restarted process finds them
        ids = set(connection.execute(select(scheduler_jobs.c.id)).scalars())
    assert ids == set(jobs_now)
    assert service.sync(IN_UPLOAD).kept == len(jobs_now)  # a second sync changes nothing


def test_moving_a_window_moves_its_jobs_and_a_new_window_gets_its_own(db, files, service_at):
    world = World(db, files)
    service = service_at(IN_UPLOAD)
    before = stored(service)
    upload = window_id(world, "course_outcome_upload", 1)
    staff = world.staff()
    with world.uow() as uow:
        calendar.define_outcome_windows(uow, staff, YEAR, 1, date(2025, 9, 30), date(2026, 2, 10), now=IN_UPLOAD)
        calendar.define_window(uow, staff, "selection", YEAR + 1, 0, date(2027, 8, 1), date(2027, 9, 13),
                               now=IN_UPLOAD)
        uow.commit()

    change = service.sync(IN_UPLOAD)

    after = stored(service)
    close = f"window:{world.school_id}:{upload}:close"
    assert after[close] == end_of_day(date(2026, 2, 10)) != before[close]
    assert change.moved >= 2 and change.added == 3  # the new window: open, close, reminder
    assert len(after) == len(before) + 3


def test_one_scheduler_serves_every_school_with_its_own_reminder_days(db, files, service_at):
    base = load_policy("xinzhuang")
    first = World(db, files)
    second = World(db, files, code="013302",
                   policy=replace(base, name="late", reminder_days_before={**base.reminder_days_before,
                                                                           "course_outcome_upload": 1}))
    jobs_now = stored(service_at(IN_UPLOAD))
    remind = {w.code: jobs_now[f"window:{w.school_id}:{window_id(w, 'course_outcome_upload', 1)}:remind"]
              for w in (first, second)}
    assert remind == {"013301": start_of_day(date(2026, 1, 27)) + timedelta(hours=8),
                      "013302": start_of_day(date(2026, 2, 2)) + timedelta(hours=8)}


def test_a_window_job_sweeps_its_own_school_and_the_catch_up_sweeps_all(db, files, service_at):
    first, second = World(db, files), World(db, files, code="013302")
    drafts = {w.code: w.upload(0) for w in (first, second)}
    service_at(AFTER_CERTIFICATION)

    jobs.window_boundary(first.school_id, window_id(first, "course_outcome_upload", 1), "close")

    assert state(first, drafts["013301"]) == "locked" and state(second, drafts["013302"]) == "draft"
    jobs.catch_up()
    assert state(second, drafts["013302"]) == "locked"


def test_start_up_runs_every_missed_deadline_before_anything_else(db, files):
    world = World(db, files)
    draft = world.upload(0)
    service = Service(db, files, clock=lambda: AFTER_CERTIFICATION)
    try:
        first = service.start(paused=True)
        assert first.schools[0].changed["lock_drafts"] == 1
        assert state(world, draft) == "locked"
    finally:
        service.shutdown()


def state(world, item_id) -> str:
    with world.uow() as uow:
        return uow.get(Item, item_id).state


def test_windows_of_every_school_are_read_without_a_school_filter(db, files, service_at):
    """The scheduler is the platform's: it schedules for all schools at once."""
    a, b = World(db, files), World(db, files, code="013302")
    jobs_now = stored(service_at(IN_UPLOAD))
    with db.session() as session:
        open_windows = session.scalars(select(Window).where(Window.ends_at > IN_UPLOAD)).all()
    assert {j.split(":")[1] for j in jobs_now} == {str(a.school_id), str(b.school_id)}
    assert {int(j.split(":")[2]) for j in jobs_now} == {w.id for w in open_windows}


def test_stopping_the_scheduler_keeps_its_stored_triggers_for_the_next_start(db, files):
    """Every stored trigger here is already due by the wall clock (2026 windows): stopping must not
    run or drop them; the next start finds them all."""
    World(db, files)
    service = Service(db, files, clock=lambda: IN_UPLOAD)
    service.start(paused=True, run_first=False)
    before = stored(service)
    service.shutdown()
    with db.engine.connect() as connection:
        assert set(connection.execute(select(scheduler_jobs.c.id)).scalars()) == set(before)


def test_one_leader_at_a_time_and_the_next_takes_over_when_it_lets_go(db):
    first, second = leadership_for(db), leadership_for(db)
    try:
        assert first.try_acquire() and first.held()
        assert not second.try_acquire()
        first.release()
        assert second.try_acquire() and second.held()
    finally:
        first.release()
        second.release()


def test_waiting_to_lead_survives_a_database_outage():
    unreachable = Database(make_engine("postgresql+psycopg://postgres@127.0.0.1:9/portfolio",
                                       connect_args={"connect_timeout": 1}))
    waiting = PostgresLeadership(unreachable)
    assert waiting.try_acquire() is False and waiting.connection is None


def test_stopping_while_a_sync_runs_finishes_it_and_does_not_hang(db, files, monkeypatch):
    """APScheduler 3's own shutdown(wait=True) would wait for the running sync while holding the
    lock the sync needs: SIGTERM would hang the process (seen once in eight runs of the process
    tests). The sync in progress here is slowed down so that the stop request always meets it."""
    import scheduler.service as service_module

    in_sync, real_upcoming = threading.Event(), service_module.upcoming

    def slow_upcoming(*args, **kwargs):
        in_sync.set()
        time.sleep(1)
        return real_upcoming(*args, **kwargs)

    service = Service(db, files, sync_seconds=0.2, clock=lambda: IN_UPLOAD)
    service.start(run_first=False)  # the real scheduler thread and executor, an empty calendar
    monkeypatch.setattr(service_module, "upcoming", slow_upcoming)
    assert in_sync.wait(5)  # the periodic sync is now running in APScheduler's executor
    stopper = threading.Thread(target=service.shutdown, daemon=True)
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive(), "shutdown hung while a sync was running"
    assert not service.scheduler.running
