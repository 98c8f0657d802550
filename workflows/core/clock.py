"""Time as the school sees it.

Everything is stored in UTC; every window is defined and shown in Asia/Taipei (+08:00),
whatever the server's TZ. The academic year is the ROC 學年度: 114 學年度 runs from
1 Aug 2025 to 31 Jul 2026; semester 1 is Aug–Jan, semester 2 Feb–Jul.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

TAIPEI = ZoneInfo("Asia/Taipei")
ROC_OFFSET = 1911


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def now_or(now: datetime | None) -> datetime:
    """The use cases' `now`: the caller's (a test, the scheduler's sweep time) or the clock's."""
    return now or utc_now()


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive value is taken as UTC (that is how the database returns it)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def to_taipei(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(TAIPEI)


def taipei_date(moment: datetime) -> date:
    return to_taipei(moment).date()


def start_of_day(day: date) -> datetime:
    """00:00 Taipei of `day`, in UTC."""
    return datetime.combine(day, time.min, TAIPEI).astimezone(timezone.utc)


def end_of_day(day: date) -> datetime:
    """The exclusive end of `day` in Taipei (next day 00:00 Taipei), in UTC.

    A window "until 2026-02-03" is open through 23:59:59.999 Taipei of that day.
    """
    return start_of_day(day + timedelta(days=1))


def academic_year_of(day: date) -> int:
    """ROC academic year (學年度) a calendar day belongs to."""
    return (day.year if day.month >= 8 else day.year - 1) - ROC_OFFSET


def semester_of(day: date) -> tuple[int, int]:
    """(學年度, 學期) a calendar day belongs to: Aug–Jan is 1, Feb–Jul is 2."""
    return academic_year_of(day), (1 if day.month >= 8 or day.month == 1 else 2)


def academic_year_bounds(year: int) -> tuple[date, date]:
    """First and last day of ROC academic year `year` (114 → 2025-08-01 .. 2026-07-31)."""
    western = year + ROC_OFFSET
    return date(western, 8, 1), date(western + 1, 7, 31)


def semester_bounds(year: int, semester: int) -> tuple[date, date]:
    first, last = academic_year_bounds(year)
    if semester == 1:
        return first, date(first.year + 1, 1, 31)
    return date(first.year + 1, 2, 1), last


@lru_cache(maxsize=16)
def _tw_holidays(year: int) -> holidays.HolidayBase:
    return holidays.TW(years=year)


def is_working_day(day: date) -> bool:
    """Mon–Fri and not a Taiwanese public holiday.

    Make-up Saturdays (補班日) are not counted as working days: a deadline computed in working
    days can only come later than the official count, never earlier.
    """
    return day.weekday() < 5 and day not in _tw_holidays(day.year)


def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day` ("3 working days after the students' deadline")."""
    current = day
    remaining = count
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def roc_date(day: date) -> str:
    """114/02/03 style."""
    return f"{day.year - ROC_OFFSET}/{day.month:02d}/{day.day:02d}"


def format_taipei(moment: datetime) -> str:
    """How a moment is shown to people: ROC date and Taipei time."""
    local = to_taipei(moment)
    return f"{roc_date(local.date())} {local:%H:%M}"


def year_label(year: int) -> str:
    return f"{year} 學年度"


def format_deadline(ends_at: datetime) -> str:
    """An exclusive end shown as people read it: a window ending at 00:00 closes "23:59" the day before."""
    local = to_taipei(ends_at)
    if local.time() == time.min:
        return f"{roc_date(local.date() - timedelta(days=1))} 23:59"
    return format_taipei(ends_at)
