"""The policy's "until when" answers for deadlines: when reminders go, when a departed student's
data may be purged, and the `[reminders]` table of the policy file."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from tests.unit.core.test_policy import BASE, only_message, parse
from workflows.deadlines import reminders
from workflows.core.clock import end_of_day, start_of_day
from workflows.core.policy import REMINDER_DEFAULT_DAYS, load_policy, parse_policy, policy_to_toml

XINZHUANG = load_policy("xinzhuang")
UTC = timezone.utc


def test_reminders_go_at_the_schools_hour_n_days_before_the_last_day_in_taipei():
    starts, ends = start_of_day(date(2025, 9, 30)), end_of_day(date(2026, 2, 3))
    at = XINZHUANG.reminder_at("course_outcome_upload", starts, ends)
    assert at == datetime(2026, 1, 27, 0, 0, tzinfo=UTC)  # 2026-01-27 08:00 Asia/Taipei
    assert XINZHUANG.reminder_at("certification", starts, end_of_day(date(2026, 2, 6))) == \
        datetime(2026, 2, 3, 0, 0, tzinfo=UTC)


def test_a_reminder_never_goes_before_its_window_opens():
    starts, ends = start_of_day(date(2026, 10, 4)), end_of_day(date(2026, 10, 6))  # a 3-day window
    assert XINZHUANG.reminder_at("receipt_confirmation", starts, ends) == starts


def test_zero_days_means_the_morning_of_the_last_day_and_unlisted_windows_have_none():
    policy = parse(BASE + "\n[reminders]\nselection = 0\nhour = 7\n")
    ends = end_of_day(date(2026, 9, 13))
    assert policy.reminder_at("selection", start_of_day(date(2026, 8, 1)), ends) == \
        datetime(2026, 9, 12, 23, 0, tzinfo=UTC)  # 2026-09-13 07:00 Taipei
    assert policy.reminder_at("performance_upload", start_of_day(date(2025, 8, 1)), ends) is None


def test_every_reminded_window_kind_has_a_reminder_builder():
    assert set(reminders._BUILDERS) == set(REMINDER_DEFAULT_DAYS)


@pytest.mark.parametrize("departed, years, first_moment", [
    (date(2027, 7, 31), 2, date(2029, 8, 1)),
    (date(2024, 2, 29), 1, date(2025, 3, 2)),   # no 29 February in 2025: after 1 March
    (date(2024, 2, 29), 4, date(2028, 3, 1)),   # a leap year again: after 29 February
    (date(2026, 1, 31), 5, date(2031, 2, 1)),
])
def test_a_departed_students_data_is_kept_through_the_whole_anniversary_day(departed, years, first_moment):
    policy = parse(BASE.replace("departed_years = 2", f"departed_years = {years}"))
    assert policy.purge_due(departed) == start_of_day(first_moment)
    assert policy.purge_due(departed) - timedelta(microseconds=1) < start_of_day(first_moment)


def test_the_reminders_table_is_optional_and_round_trips():
    policy = parse(BASE)
    assert dict(policy.reminder_days_before) == dict(REMINDER_DEFAULT_DAYS) and policy.reminder_hour == 8
    custom = parse(BASE + "\n[reminders]\nhour = 17\ncertification = 1\n")
    assert custom.reminder_hour == 17 and custom.reminder_days_before["certification"] == 1
    assert custom.reminder_days_before["selection"] == REMINDER_DEFAULT_DAYS["selection"]
    assert parse_policy(policy_to_toml(custom), source="round trip") == custom


@pytest.mark.parametrize("line, problem", [
    ("hour = 24", "reminders.hour = 24：不在 0–23 時之間"),
    ("selection = -1", "reminders.selection = -1：不在 0–60 日之間"),
    ("selection = 61", "reminders.selection = 61：不在 0–60 日之間"),
    ("performance_upload = 3", "reminders.performance_upload = 3：未知的設定項"),
    ('certification = "3"', 'reminders.certification = "3"：型別錯誤'),
])
def test_bad_reminder_settings_are_refused_naming_the_key(line, problem):
    assert only_message(BASE + f"\n[reminders]\n{line}\n").startswith(problem)
