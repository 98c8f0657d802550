"""workflows.core.clock: ROC academic years, Taipei days whatever the process TZ, working days."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

import pytest

from workflows.core import clock
from workflows.core.clock import (
    TAIPEI, academic_year_bounds, academic_year_of, add_working_days, as_utc, end_of_day,
    format_deadline, format_taipei, is_working_day, roc_date, semester_bounds, semester_of,
    start_of_day, taipei_date, to_taipei, year_label,
)

UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Taipei", "Pacific/Kiritimati"])
def process_tz(request, monkeypatch):
    """Run the test under a given process TZ; restored afterwards."""
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset not available on this platform")
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


# ---------------------------------------------------------------- academic year / semester


@pytest.mark.parametrize("day, year, semester", [
    (date(2025, 7, 31), 113, 2),
    (date(2025, 8, 1), 114, 1),
    (date(2025, 12, 31), 114, 1),
    (date(2026, 1, 1), 114, 1),
    (date(2026, 1, 31), 114, 1),
    (date(2026, 2, 1), 114, 2),
    (date(2026, 7, 31), 114, 2),
    (date(2026, 8, 1), 115, 1),
    (date(2024, 2, 29), 112, 2),
])
def test_academic_year_and_semester_boundaries(day, year, semester):
    assert academic_year_of(day) == year
    assert semester_of(day) == (year, semester)


def test_academic_year_bounds():
    assert academic_year_bounds(114) == (date(2025, 8, 1), date(2026, 7, 31))
    assert academic_year_bounds(113) == (date(2024, 8, 1), date(2025, 7, 31))


def test_semester_bounds():
    assert semester_bounds(114, 1) == (date(2025, 8, 1), date(2026, 1, 31))
    assert semester_bounds(114, 2) == (date(2026, 2, 1), date(2026, 7, 31))
    assert semester_bounds(112, 2) == (date(2024, 2, 1), date(2024, 7, 31))


@pytest.mark.parametrize("year", [110, 113, 114, 115])
def test_bounds_agree_with_year_of(year):
    first, last = academic_year_bounds(year)
    assert academic_year_of(first) == year
    assert academic_year_of(last) == year
    assert academic_year_of(first - timedelta(days=1)) == year - 1
    assert academic_year_of(last + timedelta(days=1)) == year + 1
    for semester in (1, 2):
        s_first, s_last = semester_bounds(year, semester)
        assert semester_of(s_first) == (year, semester)
        assert semester_of(s_last) == (year, semester)
    assert semester_bounds(year, 1)[0] == first
    assert semester_bounds(year, 2)[1] == last
    assert semester_bounds(year, 1)[1] + timedelta(days=1) == semester_bounds(year, 2)[0]


def test_year_label():
    assert year_label(114) == "114 學年度"


# ---------------------------------------------------------------- Taipei days in UTC


def _check_days():
    assert start_of_day(date(2026, 2, 3)) == utc(2026, 2, 2, 16, 0)
    assert end_of_day(date(2026, 2, 3)) == utc(2026, 2, 3, 16, 0)
    assert start_of_day(date(2026, 2, 3)).tzinfo is not None
    assert start_of_day(date(2026, 2, 3)).utcoffset() == timedelta(0)
    assert end_of_day(date(2026, 2, 3)).utcoffset() == timedelta(0)
    # Month, year and DST-elsewhere boundaries change nothing: Taipei is +08:00 all year.
    assert end_of_day(date(2025, 12, 31)) == utc(2025, 12, 31, 16, 0)
    assert start_of_day(date(2026, 3, 8)) == utc(2026, 3, 7, 16, 0)   # US DST starts
    assert end_of_day(date(2026, 3, 8)) == utc(2026, 3, 8, 16, 0)
    assert end_of_day(date(2026, 11, 1)) == utc(2026, 11, 1, 16, 0)   # US DST ends
    assert end_of_day(date(2026, 7, 31)) - start_of_day(date(2026, 7, 31)) == timedelta(days=1)


def test_start_and_end_of_day():
    _check_days()


def test_start_and_end_of_day_whatever_the_process_tz(process_tz):
    assert time.tzname  # tzset applied
    _check_days()
    assert taipei_date(utc(2026, 2, 3, 15, 59, 59)) == date(2026, 2, 3)
    assert taipei_date(utc(2026, 2, 3, 16, 0)) == date(2026, 2, 4)
    assert format_deadline(end_of_day(date(2026, 2, 3))) == "115/02/03 23:59"
    assert format_taipei(utc(2026, 2, 3, 1, 30)) == "115/02/03 09:30"
    assert as_utc(datetime(2026, 2, 3, 12, 0)) == utc(2026, 2, 3, 12, 0)


def test_tz_env_really_changes_local_time(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        assert time.localtime(0).tm_hour == 19  # 1970-01-01T00:00Z is 19:00 the day before in NY
    finally:
        monkeypatch.undo()
        time.tzset()


def test_to_taipei_and_taipei_date():
    moment = utc(2026, 2, 2, 16, 0)
    local = to_taipei(moment)
    assert local.utcoffset() == timedelta(hours=8)
    assert (local.year, local.month, local.day, local.hour, local.minute) == (2026, 2, 3, 0, 0)
    assert taipei_date(moment) == date(2026, 2, 3)
    assert taipei_date(moment - timedelta(microseconds=1)) == date(2026, 2, 2)
    # A naive value is UTC.
    assert taipei_date(datetime(2026, 2, 2, 16, 0)) == date(2026, 2, 3)


# ---------------------------------------------------------------- as_utc


def test_as_utc_naive_is_taken_as_utc():
    naive = datetime(2026, 2, 3, 12, 34, 56, 789)
    result = as_utc(naive)
    assert result.tzinfo is not None
    assert result.utcoffset() == timedelta(0)
    assert result.replace(tzinfo=None) == naive


def test_as_utc_naive_ignores_process_tz(process_tz):
    assert as_utc(datetime(2026, 2, 3, 0, 0)) == utc(2026, 2, 3, 0, 0)
    assert as_utc(datetime(2026, 2, 3, 0, 0)).hour == 0


def test_as_utc_aware_is_converted():
    taipei = datetime(2026, 2, 4, 0, 0, tzinfo=TAIPEI)
    result = as_utc(taipei)
    assert result == utc(2026, 2, 3, 16, 0)
    assert (result.day, result.hour) == (3, 16)
    assert result.utcoffset() == timedelta(0)
    plus2 = datetime(2026, 2, 3, 18, 0, tzinfo=timezone(timedelta(hours=2)))
    assert as_utc(plus2).hour == 16
    already = utc(2026, 2, 3, 16, 0)
    assert as_utc(already) == already
    assert as_utc(already).utcoffset() == timedelta(0)


def test_utc_now_is_aware_utc():
    now = clock.utc_now()
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


# ---------------------------------------------------------------- working days


@pytest.mark.parametrize("day, working", [
    (date(2026, 2, 9), True),     # Mon
    (date(2026, 2, 13), True),    # Fri before the New Year break
    (date(2026, 2, 14), False),   # Sat
    (date(2026, 2, 15), False),   # Sun, 除夕前一日
    (date(2026, 2, 16), False),   # Mon, 除夕
    (date(2026, 2, 17), False),   # Tue, 春節
    (date(2026, 2, 18), False),
    (date(2026, 2, 19), False),
    (date(2026, 2, 20), False),   # Fri, 補假
    (date(2026, 2, 21), False),   # Sat
    (date(2026, 2, 22), False),   # Sun
    (date(2026, 2, 23), True),    # Mon, back to work
    (date(2026, 2, 27), False),   # 和平紀念日 observed
    (date(2026, 1, 1), False),    # 開國紀念日
    (date(2026, 1, 2), True),
    (date(2026, 1, 3), False),    # Sat
    (date(2026, 1, 4), False),    # Sun
])
def test_is_working_day(day, working):
    assert is_working_day(day) is working


def test_every_day_of_the_2026_new_year_break_is_off():
    day = date(2026, 2, 14)
    while day <= date(2026, 2, 22):
        assert not is_working_day(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize("start, count, expected", [
    (date(2026, 2, 12), 1, date(2026, 2, 13)),
    (date(2026, 2, 12), 2, date(2026, 2, 23)),
    (date(2026, 2, 12), 3, date(2026, 2, 24)),   # skips the whole holiday week
    (date(2026, 2, 13), 1, date(2026, 2, 23)),
    (date(2026, 2, 16), 1, date(2026, 2, 23)),   # start inside the break
    (date(2026, 2, 23), 3, date(2026, 2, 26)),
    (date(2026, 2, 23), 4, date(2026, 3, 2)),    # 2/27 observed holiday, 2/28–3/1 weekend
    (date(2026, 1, 9), 1, date(2026, 1, 12)),    # Fri → Mon
    (date(2026, 1, 10), 1, date(2026, 1, 12)),   # Sat → Mon
    (date(2026, 1, 5), 5, date(2026, 1, 12)),    # a full week
    (date(2025, 12, 31), 1, date(2026, 1, 2)),   # across the year, skipping 1/1
    (date(2026, 2, 12), 0, date(2026, 2, 12)),   # zero: the day itself
])
def test_add_working_days(start, count, expected):
    assert add_working_days(start, count) == expected


def test_add_working_days_lands_on_a_working_day():
    for offset in range(0, 60):
        start = date(2026, 1, 1) + timedelta(days=offset)
        result = add_working_days(start, 3)
        assert result > start
        assert is_working_day(result)


# ---------------------------------------------------------------- display


@pytest.mark.parametrize("day, text", [
    (date(2025, 2, 3), "114/02/03"),
    (date(2026, 2, 3), "115/02/03"),
    (date(2026, 12, 31), "115/12/31"),
    (date(2011, 1, 1), "100/01/01"),
    (date(1921, 10, 10), "10/10/10"),
])
def test_roc_date(day, text):
    assert roc_date(day) == text


@pytest.mark.parametrize("moment, text", [
    (utc(2026, 2, 3, 1, 30), "115/02/03 09:30"),
    (utc(2026, 2, 3, 15, 59), "115/02/03 23:59"),
    (utc(2026, 2, 3, 16, 0), "115/02/04 00:00"),
    (utc(2025, 12, 31, 16, 0), "115/01/01 00:00"),   # new ROC year in Taipei, still 2025 in UTC
    (datetime(2026, 2, 3, 1, 30), "115/02/03 09:30"),  # naive = UTC
    (datetime(2026, 2, 3, 9, 30, tzinfo=TAIPEI), "115/02/03 09:30"),
])
def test_format_taipei(moment, text):
    assert format_taipei(moment) == text


@pytest.mark.parametrize("ends_at, text", [
    (utc(2026, 2, 3, 16, 0), "115/02/03 23:59"),          # exclusive midnight end
    (end_of_day(date(2026, 2, 3)), "115/02/03 23:59"),
    (end_of_day(date(2025, 12, 31)), "114/12/31 23:59"),  # across ROC year
    (end_of_day(date(2026, 2, 28)), "115/02/28 23:59"),
    (end_of_day(date(2024, 2, 29)), "113/02/29 23:59"),   # leap day
    (datetime(2026, 2, 3, 16, 0), "115/02/03 23:59"),     # naive = UTC
    (utc(2026, 2, 3, 9, 0), "115/02/03 17:00"),           # not midnight: shown as is
    (utc(2026, 2, 3, 16, 1), "115/02/04 00:01"),
])
def test_format_deadline(ends_at, text):
    assert format_deadline(ends_at) == text
