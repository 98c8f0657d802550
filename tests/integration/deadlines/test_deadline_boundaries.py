"""Every deadline effect with an explicit `now` just before, exactly at and just after its
boundary, on SQLite and PostgreSQL, with the server far from Taipei: the process's TZ is
America/Los_Angeles and PostgreSQL sessions run in Pacific/Kiritimati (UTC+14). Windows are
Taipei days: a window "until 2026-02-03" closes at 2026-02-04 00:00 Taipei (2026-02-03 16:00 UTC).
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select, text

from persistence.tables import AuditEntry, DeadlineRun, Item, OutboxMessage, Receipt, Student
from tests.world import (IN_SELECTION, IN_TAIL, IN_UPLOAD, RECEIPT_LAST_DAY,
                         UPLOAD_LAST_DAY, YEAR, World)
from workflows.school import calendar
from workflows.items import certification, selection
from workflows.deadlines import run as deadlines
from workflows.central import receipts
from workflows.core.clock import add_working_days, end_of_day, start_of_day
from workflows.core.errors import InvalidTransition, RuleViolation
from workflows.core.policy import load_policy

EDGES = {"before": -timedelta(microseconds=1), "at": timedelta(0), "after": timedelta(seconds=1)}
UPLOAD_CLOSE = end_of_day(UPLOAD_LAST_DAY)
CERTIFICATION_CLOSE = end_of_day(add_working_days(UPLOAD_LAST_DAY, 3))
SELECTION_CLOSE = end_of_day(date(2026, 9, 13))
RECEIPT_OPEN = start_of_day(date(2026, 10, 4))
RECEIPT_CLOSE = end_of_day(RECEIPT_LAST_DAY)


@pytest.fixture(autouse=True)
def far_from_taipei(db, monkeypatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()

    def _session_zone(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'Pacific/Kiritimati'")
        dbapi_connection.commit()

    if db.dialect == "postgresql":
        event.listen(db.engine, "connect", _session_zone)
        db.dispose()  # connections made before the listener: gone, the test's all get the zone
    yield
    if db.dialect == "postgresql":  # the engine serves the tests that follow (db disposes its connections)
        event.remove(db.engine, "connect", _session_zone)
    monkeypatch.undo()
    time.tzset()


def sweep(world, now):
    """What the scheduler and `portfolio sweep` run, for this world's school."""
    result = deadlines.run_due(world.db, world.files, now, school_ids={world.school_id})
    assert result.ok, result
    return result.schools[0].changed


def state(world, item_id) -> str:
    with world.uow() as uow:
        return uow.get(Item, item_id).state


def audit(world, event_name):
    with world.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.event == event_name)
                                        .order_by(AuditEntry.id)))


def outbox(world, kind):
    with world.uow() as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                        .order_by(OutboxMessage.recipient_id)))


def test_the_server_really_is_elsewhere(db):
    assert time.strftime("%Z", time.localtime(0)) in ("PST", "PDT")
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            assert connection.execute(text("SHOW TIME ZONE")).scalar() == "Pacific/Kiritimati"
    assert UPLOAD_CLOSE == datetime(2026, 2, 3, 16, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("edge", EDGES)
def test_drafts_lock_when_the_students_window_closes(db, files, edge):
    world = World(db, files)
    draft = world.upload(0, title="草稿")
    waiting = world.upload(1, title="待認證")
    world.run(certification.submit, world.student(1), waiting, now=IN_UPLOAD)

    changed = sweep(world, UPLOAD_CLOSE + EDGES[edge])

    locked = edge != "before"
    assert state(world, draft) == ("locked" if locked else "draft")
    assert state(world, waiting) == "submitted"  # teachers still have their tail
    assert changed["lock_drafts"] == int(locked)
    if locked:
        (row,) = audit(world, "lock")
        assert (row.at, row.actor_kind, row.from_state, row.to_state) == (UPLOAD_CLOSE, "system", "draft", "locked")
        with pytest.raises(InvalidTransition) as refused:
            world.run(certification.submit, world.student(0), draft, now=UPLOAD_CLOSE + EDGES[edge])
        assert refused.value.status == 409 and "逾期未送出" in refused.value.message


@pytest.mark.parametrize("edge", EDGES)
def test_items_still_waiting_are_not_certified_in_time_and_the_working_group_hears(db, files, edge):
    world = World(db, files)
    waiting = world.upload(0, title="等認證")
    rejected = world.upload(1, title="被退回")
    for n, item in ((0, waiting), (1, rejected)):
        world.run(certification.submit, world.student(n), item, now=IN_UPLOAD)
    # In the teacher-only tail a rejection is final: the student can no longer resubmit.
    world.run(certification.reject, world.teacher, rejected, reason="缺少心得", now=IN_TAIL)
    with pytest.raises(RuleViolation) as final:
        world.run(certification.resubmit, world.student(1), rejected, now=IN_TAIL)
    assert final.value.rule == "teacher_only_tail"

    changed = sweep(world, CERTIFICATION_CLOSE + EDGES[edge])

    closed = edge != "before"
    assert state(world, waiting) == ("not_certified" if closed else "submitted")
    assert state(world, rejected) == "rejected"
    assert changed["expire_certification"] == int(closed)
    reports = outbox(world, "report_not_certified")
    assert len(reports) == int(closed)
    if closed:
        (report,) = reports
        assert report.recipient_id == world.staff_id and report.due_at == CERTIFICATION_CLOSE
        assert "逾期未認證，共 1 件" in report.body and "國語文" in report.body
        sweep(world, CERTIFICATION_CLOSE + timedelta(days=1))
        assert len(outbox(world, "report_not_certified")) == 1  # once per deadline
        assert len(audit(world, "expire_certification")) == 1


@pytest.mark.parametrize("edge", EDGES)
def test_selections_freeze_when_the_selection_window_closes(db, files, edge):
    world = World(db, files)
    item = world.upload(0)
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item, now=IN_UPLOAD)
    world.run(selection.select, world.student(0), item, now=IN_SELECTION)
    now = SELECTION_CLOSE + EDGES[edge]

    changed = sweep(world, now)

    frozen = edge != "before"
    assert changed["freeze_selection"] == int(frozen)
    rows = audit(world, "freeze_selection")
    assert len(rows) == int(frozen)
    if frozen:
        assert rows[0].at == SELECTION_CLOSE and "課程學習成果 1 件（1 名學生）" in rows[0].reason
        with pytest.raises(RuleViolation) as refused:
            world.run(selection.unselect, world.student(0), item, now=now)
        assert refused.value.rule == "window_closed"
    else:
        world.run(selection.unselect, world.student(0), item, now=now)  # still open: allowed
        assert state(world, item) == "unselected"


def test_a_moved_selection_deadline_freezes_again_at_its_new_end(db, files):
    world = World(db, files)
    sweep(world, SELECTION_CLOSE)
    staff = world.staff()
    with world.uow() as uow:
        calendar.define_window(uow, staff, "selection", YEAR, 0, date(2026, 8, 1),
                               date(2026, 9, 20), now=SELECTION_CLOSE)
        uow.commit()
    sweep(world, SELECTION_CLOSE + timedelta(days=1))
    assert len(audit(world, "freeze_selection")) == 1  # the new deadline has not come yet
    sweep(world, end_of_day(date(2026, 9, 20)))
    rows = audit(world, "freeze_selection")
    assert [r.at for r in rows] == [SELECTION_CLOSE, end_of_day(date(2026, 9, 20))]


@pytest.mark.parametrize("edge", EDGES)
def test_receipts_not_answered_are_deemed_confirmed_at_the_end_of_the_period(db, files, edge):
    world = World(db, files)
    receipt_of = world.to_receipts((0, 1))
    world.run(receipts.confirm, world.student(0), receipt_of[0],
              now=RECEIPT_OPEN + timedelta(days=1))

    changed = sweep(world, RECEIPT_CLOSE + EDGES[edge])

    deemed = edge != "before"
    assert changed["deem_confirmed"] == int(deemed)
    with world.uow() as uow:
        states = dict(uow.session.execute(select(Receipt.id, Receipt.state)).all())
        items = dict(uow.session.execute(select(Item.receipt_id, Item.state)).all())
    assert states == {receipt_of[0]: "confirmed",
                      receipt_of[1]: "deemed_confirmed" if deemed else "issued"}
    assert items[receipt_of[1]] == ("deemed_confirmed" if deemed else "submitted_central")
    rows = audit(world, "deem_confirmed")
    assert len(rows) == (2 if deemed else 0)  # the receipt and its item, once each
    assert all(r.at == RECEIPT_CLOSE and r.actor_kind == "system" and "逾期視為確認" in r.reason
               for r in rows)


@pytest.mark.parametrize("edge", EDGES)
def test_reminders_go_at_the_schools_hour_n_days_before_the_last_day(db, files, edge):
    world = World(db, files)  # 新莊: drafts reminded 7 days before, at 08:00 Taipei
    world.upload(0)
    moment = start_of_day(UPLOAD_LAST_DAY - timedelta(days=7)) + timedelta(hours=8)
    assert moment == datetime(2026, 1, 27, 0, 0, tzinfo=timezone.utc)

    sweep(world, moment + EDGES[edge])

    sent = outbox(world, "remind_drafts")
    assert [m.recipient_id for m in sent] == ([world.student_ids[0]] if edge != "before" else [])


@pytest.mark.parametrize("edge", EDGES)
def test_departed_students_are_told_on_paper_when_their_receipt_window_opens(db, files, edge):
    world = World(db, files)
    world.to_receipts((0, 1))
    world.depart(1, mailing_address="高雄市楠梓區中山路 1 號")

    changed = sweep(world, RECEIPT_OPEN + EDGES[edge])

    opened = edge != "before"
    assert changed["paper_notice_due"] == int(opened)
    prompts = outbox(world, "paper_notice_due")
    assert len(prompts) == int(opened)
    if opened:
        assert "學生1" in prompts[0].body and "學生0" not in prompts[0].body
        assert f"--window {world.receipt_window_id}" in prompts[0].body
        assert prompts[0].recipient_id == world.staff_id  # the registry (註冊組)


@pytest.mark.parametrize("edge", EDGES)
def test_departed_students_data_is_purged_when_the_retention_years_end(db, files, edge):
    world = World(db, files)  # 新莊: kept 2 years after leaving
    gone = world.upload(1, title="離校生作品")
    world.depart(1, date(2027, 7, 31))
    purge_at = end_of_day(date(2029, 7, 31))

    changed = sweep(world, purge_at + EDGES[edge])

    purged = edge != "before"
    assert changed["purged_students"] == int(purged)
    with world.uow() as uow:
        assert (uow.session.get(Item, gone) is None) == purged
        assert (uow.session.get(Student, world.student_ids[1]) is None) == purged


def test_each_school_keeps_its_own_windows_and_reminder_days(db, files):
    late = replace(load_policy("xinzhuang"), name="late-reminders",
                   reminder_days_before={**load_policy("xinzhuang").reminder_days_before,
                                         "course_outcome_upload": 1})
    early, other = World(db, files), World(db, files, code="013302", policy=late)
    staff = other.staff()
    with other.uow() as uow:  # the other school's students may upload one week longer
        calendar.define_outcome_windows(uow, staff, YEAR, 1, date(2025, 9, 30),
                                        UPLOAD_LAST_DAY + timedelta(days=7), now=IN_UPLOAD)
        uow.commit()
    drafts = {w: w.upload(0) for w in (early, other)}
    six_days_before = start_of_day(UPLOAD_LAST_DAY - timedelta(days=6)) + timedelta(hours=9)

    deadlines.run_due(db, files, six_days_before)
    assert len(outbox(early, "remind_drafts")) == 1 and not outbox(other, "remind_drafts")

    deadlines.run_due(db, files, UPLOAD_CLOSE)
    assert state(early, drafts[early]) == "locked" and state(other, drafts[other]) == "draft"

    other_close = end_of_day(UPLOAD_LAST_DAY + timedelta(days=7))
    deadlines.run_due(db, files, other_close - timedelta(hours=16))  # 08:00 of its last day - 1
    assert len(outbox(other, "remind_drafts")) == 1
    deadlines.run_due(db, files, other_close)
    assert state(other, drafts[other]) == "locked"
    with early.uow() as uow:  # neither school's sweep touched the other's rows
        assert uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.event == "lock")) == 1


def test_running_every_deadline_twice_changes_nothing_the_second_time(db, files):
    world = World(db, files)
    world.to_receipts((0,))
    world.upload(1)
    late = datetime(2030, 1, 1, tzinfo=timezone.utc)
    first = sweep(world, late)
    with world.uow() as uow:
        counts = (uow.session.scalar(select(func.count()).select_from(AuditEntry)),
                  uow.session.scalar(select(func.count()).select_from(OutboxMessage)),
                  uow.session.scalar(select(func.count()).select_from(DeadlineRun)))
    second = sweep(world, late + timedelta(minutes=5))
    with world.uow() as uow:
        again = (uow.session.scalar(select(func.count()).select_from(AuditEntry)),
                 uow.session.scalar(select(func.count()).select_from(OutboxMessage)),
                 uow.session.scalar(select(func.count()).select_from(DeadlineRun)))
    assert sum(first.values()) > 0 and sum(second.values()) == 0
    assert again == counts


def test_two_sweeps_of_everything_at_once_do_each_thing_once(db, files):
    """Two processes (here threads with their own connections) catch up at the same moment."""
    world = World(db, files, students=3)
    world.to_receipts((0, 1))
    world.upload(2)
    world.depart(1, date(2026, 7, 31))  # and purge her after the policy's two years
    late = datetime(2028, 8, 2, tzinfo=timezone.utc)
    barrier, results, errors = threading.Barrier(2), [], []

    def catch_up():
        try:
            barrier.wait()
            results.append(deadlines.run_due(db, files, late))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=catch_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors and all(r.ok for r in results), (errors, results)
    with world.uow() as uow:
        events = dict(uow.session.execute(select(AuditEntry.event, func.count()).group_by(AuditEntry.event)).all())
        ledger = uow.session.scalar(select(func.count()).select_from(DeadlineRun))
    # Both receipts and their items are deemed; that closes student 1's business, then she is purged.
    assert events["deem_confirmed"] == 4
    assert events["lock"] == 1 and events["purge"] == 1 and events["freeze_selection"] == 1
    assert ledger == 3  # the selection freeze and both semesters' not-certified reports, once each
    combined = [sum(r.schools[0].changed.get(k, 0) for r in results)
                for k in ("deem_confirmed", "lock_drafts", "purged_students", "freeze_selection")]
    # Receipts deemed, drafts locked, students purged, selected items frozen: one sweep did each,
    # the other found nothing left to do.
    assert combined == [2, 1, 1, 2]
