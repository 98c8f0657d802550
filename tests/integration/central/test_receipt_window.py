"""The receipt confirmation period (收訖明細確認期間) is at least the school's number of days — never
fewer than the national 3 — when it is set, and when receipts are issued into it; what is not
answered is deemed confirmed only after its end."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from persistence.tables import Receipt, Window
from tests.world import AFTER_SELECTION, YEAR, World
from workflows.school import calendar
from workflows.deadlines import run as deadlines
from workflows.central import receipts
from workflows.core.clock import end_of_day, start_of_day
from workflows.core.errors import RuleViolation
from workflows.core.policy import load_policy

THREE_DAYS = replace(load_policy("template"), name="three-days", receipt_confirmation_days=3)


def set_receipt_window(world, first: date, last: date) -> Window:
    staff = world.staff()
    with world.uow() as uow:
        window = calendar.define_window(uow, staff, "receipt_confirmation", YEAR, 0, first, last,
                                        now=AFTER_SELECTION)
        uow.commit()
        return window


def stored_window(world) -> tuple:
    with world.uow() as uow:
        w = uow.get(Window, world.receipt_window_id)
        return w.starts_at, w.ends_at


@pytest.mark.parametrize("policy, days", [(THREE_DAYS, 3), ("xinzhuang", 15)])
def test_a_window_shorter_than_the_schools_days_is_refused_when_it_is_set(db, files, policy, days):
    world = World(db, files, policy=policy)
    before = stored_window(world)
    first = date(2026, 10, 4)
    with pytest.raises(RuleViolation) as refused:
        set_receipt_window(world, first, first + timedelta(days=days - 2))
    error = refused.value
    assert (error.rule, error.field, error.limit) == ("receipt_window_too_short", "last_day", days)
    assert f"只有 {days - 1} 日" in error.message and "全國規定不得少於 3 日" in error.message
    assert stored_window(world) == before  # the window already published is untouched

    window = set_receipt_window(world, first, first + timedelta(days=days - 1))
    assert window.ends_at - window.starts_at == timedelta(days=days)


def test_the_national_minimum_holds_whatever_the_school_writes():
    from workflows.core.policy import PolicyError, check_policy
    with pytest.raises(PolicyError) as refused:
        check_policy(replace(THREE_DAYS, receipt_confirmation_days=2))
    assert "receipt.confirmation_days = 2" in str(refused.value)


def test_receipts_are_not_issued_into_a_period_that_has_too_little_left(db, files):
    world = World(db, files, policy=THREE_DAYS)
    set_receipt_window(world, date(2026, 10, 4), date(2026, 10, 6))
    with pytest.raises(RuleViolation) as refused:
        world.to_receipts((0,), now=start_of_day(date(2026, 10, 4)) + timedelta(seconds=1))
    assert refused.value.rule == "receipt_window_too_short"
    with world.uow() as uow:
        assert uow.session.scalars(select(Receipt)).all() == []


def test_a_three_day_period_is_answerable_to_its_last_minute_and_deemed_only_after(db, files):
    world = World(db, files, policy=THREE_DAYS, students=2)
    set_receipt_window(world, date(2026, 10, 4), date(2026, 10, 6))
    receipt_of = world.to_receipts((0, 1))
    end = end_of_day(date(2026, 10, 6))
    world.run(receipts.confirm, world.student(0), receipt_of[0], now=end - timedelta(microseconds=1))
    assert deadlines.run_due(db, files, end - timedelta(microseconds=1)).schools[0].changed["deem_confirmed"] == 0
    with pytest.raises(RuleViolation) as late:
        world.run(receipts.confirm, world.student(1), receipt_of[1], now=end)
    assert late.value.rule == "window_closed"
    assert deadlines.run_due(db, files, end).schools[0].changed["deem_confirmed"] == 1
    with world.uow() as uow:
        states = dict(uow.session.execute(select(Receipt.id, Receipt.state)).all())
    assert states == {receipt_of[0]: "confirmed", receipt_of[1]: "deemed_confirmed"}
