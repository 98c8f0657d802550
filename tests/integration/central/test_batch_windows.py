"""A submission batch's own confirmation window (批次確認期間, issue 5): a grade-12 batch of one
track gets confirmation dates of its own without moving the school's year window; its receipts
carry it; at its end the sweep deems that batch's receipts confirmed once and leaves the others
alone; defining it again moves it (audited); too short and the wrong person are refused; the
public calendar and its iCal feed name it by its batch."""
from __future__ import annotations

import re
import tempfile
from datetime import date, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from persistence.tables import AuditEntry, Item, Receipt, Staff, StaffRole, SubmissionBatch, Window
from tests.integration.central.test_receipt_import import csv_file, good_rows
from tests.world import AFTER_SELECTION, IN_SELECTION, IN_UPLOAD, RECEIPT_LAST_DAY, YEAR, World
from web.app import create_app
from workflows.central import batches
from workflows.school import calendar
from workflows.items import certification, selection
from workflows.deadlines import run as deadlines
from workflows.core.clock import end_of_day, start_of_day
from workflows.core.errors import Forbidden, RuleViolation
from workflows.central.receipt_import import import_receipts

FIRST_DAY, LAST_DAY = date(2026, 9, 21), date(2026, 10, 6)  # 16 days, before the year's window ends
BATCH_END = end_of_day(LAST_DAY)
RECEIPT_END = end_of_day(RECEIPT_LAST_DAY)
LABEL = "高三學術群第 1 梯次收訖明細確認"


def grade12_batch(world: World, n: int, track: str) -> int:
    """Student `n`, in grade 12 of `track`, with one selected course outcome in a submitted
    grade-12 batch of that track (round 1): the batch id."""
    world.set_student(n, grade=3, track=track)
    item_id = world.upload(n, title=f"作品{n}")
    world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)
    staff = world.staff()
    with world.uow() as uow:
        batch_id = batches.create_batch(uow, staff, "year_outcomes", YEAR, 0, track=track, round=1,
                                        student_ids=[world.student_ids[n]], now=AFTER_SELECTION).id
    with tempfile.TemporaryDirectory() as out:
        world.run(batches.export_batch, staff, batch_id, out, now=AFTER_SELECTION)
    world.run(batches.submit_batch, staff, batch_id, now=AFTER_SELECTION)
    return batch_id


def define(world: World, batch_id: int, first_day=FIRST_DAY, last_day=LAST_DAY, *, actor=None) -> int:
    actor = actor or world.staff()  # before the unit of work: SQLite has one writer
    with world.uow() as uow:
        window = calendar.define_batch_window(uow, actor, batch_id, first_day, last_day,
                                              now=AFTER_SELECTION)
        uow.commit()
        return window.id


def import_for(world: World, batch_id: int, n: int, window_id: int) -> None:
    with world.uow() as uow:
        item_id = uow.session.scalars(select(Item.id).where(Item.student_id == world.student_ids[n])).one()
    world.run(import_receipts, world.staff(), batch_id, csv_file(good_rows(world, {n: item_id})), "r.csv",
              confirmation_window_id=window_id, now=AFTER_SELECTION)


def window_dates(world: World, window_id: int) -> tuple:
    with world.uow() as uow:
        window = uow.get(Window, window_id)
        return window.starts_at, window.ends_at


def receipt_of(world: World, n: int) -> Receipt:
    with world.uow() as uow:
        return uow.session.scalars(select(Receipt).where(Receipt.student_id == world.student_ids[n])).one()


def office(world: World, staff_no: str, roles: list[str]):
    with world.uow() as uow:
        staff = Staff(school_id=world.school_id, staff_no=staff_no, name=f"{staff_no}組長")
        uow.session.add(staff)
        uow.session.flush()
        uow.session.add_all(StaffRole(school_id=world.school_id, staff_id=staff.id, role=r) for r in roles)
        uow.commit()
        return world.staff(staff.id)


def test_a_grade12_batch_confirms_on_its_own_dates_and_only_its_receipts_are_deemed_at_their_end(db, files):
    world = World(db, files)
    academic = grade12_batch(world, 0, "academic")
    professional = grade12_batch(world, 1, "professional")
    year_dates = window_dates(world, world.receipt_window_id)

    own = define(world, academic)
    assert window_dates(world, own) == (start_of_day(FIRST_DAY), BATCH_END)
    assert window_dates(world, world.receipt_window_id) == year_dates  # the year's window stays
    with world.uow() as uow:
        assert calendar.find(uow, "receipt_confirmation", YEAR).id == world.receipt_window_id
        assert calendar.find_batch_window(uow, academic).id == own
        assert calendar.labels(uow, [uow.get(Window, own)])[own].startswith(LABEL)

    import_for(world, academic, 0, own)
    import_for(world, professional, 1, world.receipt_window_id)
    assert receipt_of(world, 0).window_id == own
    assert receipt_of(world, 1).window_id == world.receipt_window_id
    with world.uow() as uow:
        assert uow.get(SubmissionBatch, academic).confirmation_window_id == own

    early = deadlines.run_due(db, files, BATCH_END - timedelta(seconds=1)).schools[0].changed
    assert early["deem_confirmed"] == 0
    due = deadlines.run_due(db, files, BATCH_END).schools[0].changed
    assert (due["deem_confirmed"], due["closed_batches"]) == (1, 1)
    assert (receipt_of(world, 0).state, receipt_of(world, 1).state) == ("deemed_confirmed", "issued")
    with world.uow() as uow:
        assert uow.get(SubmissionBatch, academic).state == "closed"
        assert uow.get(SubmissionBatch, professional).state == "confirmation_open"
    again = deadlines.run_due(db, files, BATCH_END + timedelta(days=1)).schools[0].changed
    assert (again["deem_confirmed"], again["closed_batches"]) == (0, 0)
    with world.uow() as uow:
        deemed = uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.subject_kind == "receipt", AuditEntry.event == "deem_confirmed"))
    assert deemed == 1  # exactly once, and only the academic batch's student

    last = deadlines.run_due(db, files, RECEIPT_END).schools[0].changed
    assert (last["deem_confirmed"], last["closed_batches"]) == (1, 1)  # the year's window in its turn


def test_defining_the_batch_window_again_moves_it_and_is_audited(db, files):
    world = World(db, files)
    academic = grade12_batch(world, 0, "academic")
    year_dates = window_dates(world, world.receipt_window_id)
    first = define(world, academic)
    moved = define(world, academic, date(2026, 9, 25), date(2026, 10, 12))
    assert moved == first
    assert window_dates(world, first) == (start_of_day(date(2026, 9, 25)), end_of_day(date(2026, 10, 12)))
    assert window_dates(world, world.receipt_window_id) == year_dates
    with world.uow() as uow:
        rows = list(uow.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_kind == "window", AuditEntry.subject_id == first).order_by(AuditEntry.id)))
        assert [r.event for r in rows] == ["define_window", "define_window"]
        assert rows[0].from_state is None and rows[1].from_state == rows[0].to_state
        assert LABEL in rows[1].reason and rows[1].actor_name == "陳組長"
        assert uow.session.scalar(select(func.count()).select_from(Window).where(
            Window.kind == "receipt_confirmation")) == 2  # the year's and the batch's, no third


def test_too_short_is_refused_with_the_minimum_and_nothing_is_created(db, files):
    world = World(db, files)
    academic = grade12_batch(world, 0, "academic")
    with pytest.raises(RuleViolation) as refused:
        define(world, academic, FIRST_DAY, FIRST_DAY + timedelta(days=13))  # 14 days
    assert refused.value.rule == "receipt_window_too_short" and refused.value.limit == 15
    assert "15 日" in refused.value.message
    with world.uow() as uow:
        assert calendar.find_batch_window(uow, academic) is None


def test_only_the_calendar_and_submission_offices_set_a_batch_window(db, files):
    world = World(db, files)
    academic = grade12_batch(world, 0, "academic")
    for who in (world.teacher, world.student(0), office(world, "C001", ["counselling"])):
        with pytest.raises(Forbidden) as refused:
            define(world, academic, actor=who)
        assert "設定提交批次的收訖明細確認期間" in refused.value.message
    with world.uow() as uow:
        assert calendar.find_batch_window(uow, academic) is None
    equipment = office(world, "E001", ["equipment_section"])  # a submission office, not the calendar's
    window_id = define(world, academic, actor=equipment)
    with world.uow() as uow:
        entry = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_kind == "window", AuditEntry.subject_id == window_id)).one()
    assert entry.actor_name == "E001組長"


def test_the_public_calendar_and_its_feed_name_the_batch_window_by_its_batch(db, files):
    world = World(db, files)
    academic = grade12_batch(world, 0, "academic")
    own = define(world, academic)
    client = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "test-secret",
                         "SESSION_COOKIE_SECURE": False}).test_client()
    page = client.get(f"/calendar/{world.code}?academic_year={YEAR}").get_data(as_text=True)
    rows = dict(re.findall(r'<tr id="window-(\d+)"[^>]*>\s*<th scope="row">([^<]*)<br>', page))
    assert rows[str(own)].startswith(LABEL)
    assert rows[str(world.receipt_window_id)] == "收訖明細確認"  # the year's row as it was
    feed = Calendar.from_ical(client.get(f"/calendar/{world.code}/students.ics?academic_year={YEAR}").data)
    summaries = [str(e["summary"]) for e in feed.walk("VEVENT")]
    assert f"{YEAR} 學年度收訖明細確認" in summaries
    assert any(LABEL in s for s in summaries)
