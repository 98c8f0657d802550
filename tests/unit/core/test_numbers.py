"""Whole numbers people type (workflows/core/numbers.py, issue 15): ASCII digits only, no longer than a
database integer, refused in words everywhere a workflow reads one from a form or a file — never a
ValueError from int() ('²' passes isdigit(), 10,000 digits pass it too) or a number that overflows
SQLite ('١' was read as 1)."""
from __future__ import annotations

import pytest

from workflows.school import self_check, trainings
from workflows.school.csv_rows import parse_academic_year
from workflows.core.errors import DomainError, InvalidInput
from workflows.records.grade_corrections import _whole
from workflows.core.numbers import integer_text, whole
from workflows.central.receipt_import import parse_receipt_file
from workflows.records.engine import whole_number

HOSTILE = ("\u00b2", "\u0661", "1" * 10_000, "9" * 30, "\x00", "\u202e", "\U0001f600", "1.5", "0x10")


def test_the_rule():
    assert integer_text(" 114 ") == "114" and integer_text("-3") == "-3" and integer_text("-3", signed=False) is None
    assert [integer_text(v) for v in HOSTILE[:2]] == [None, None]
    assert whole("1" * 10_000, beyond=1000) == 1000 and whole("2147483647", beyond=0) == 2147483647
    assert all(whole(v, beyond=0) in (None, 0) for v in HOSTILE)


@pytest.mark.parametrize("value", HOSTILE[1:])
def test_typed_numbers_are_refused_in_words(value):
    refusals = (lambda: _whole(value, "exam_no", "考試次別", 1, 9), lambda: whole_number(0, 100, rule="r")(value),
                lambda: parse_academic_year(value), lambda: self_check._year(value), lambda: self_check._month(value),
                lambda: trainings._attendees(value))
    for refuse in refusals:
        with pytest.raises((DomainError, ValueError)) as refused:
            refuse()
        assert "Exceeds the limit" not in str(refused.value) and "invalid literal" not in str(refused.value)


def test_a_refusal_quotes_what_was_typed_not_a_number_made_up_for_it():
    for refuse, made_up in ((self_check._year, "201"), (self_check._month, "13"),
                            (trainings._attendees, str(trainings.ATTENDEES_MAX + 1))):
        with pytest.raises(InvalidInput) as refused:
            refuse("9" * 10_000)
        assert f"收到 {made_up}" not in refused.value.message and "「99999999999999999999…」" in refused.value.message


def test_full_width_digits_still_count():
    """Typed with a Chinese input method: NFKC makes them (and '²') ASCII digits first."""
    assert _whole("１", "exam_no", "考試次別", 1, 9) == 1 and parse_academic_year("１１４") == 114
    assert _whole("\u00b2", "exam_no", "考試次別", 1, 9) == 2


@pytest.mark.parametrize("value", ("\u00b2", "\u0661", "1" * 10_000, "9" * 30, "0", "-1"))
def test_a_receipt_file_item_number_that_is_no_id_is_a_row_error(value):
    data = ("身分證號,類別,項目編號,檔案雜湊\r\nA123456789,課程學習成果," + value + ",\r\n").encode()
    rows, errors = parse_receipt_file(data, "r.csv")
    assert [e.field for e in errors] == ["項目編號"], errors
    assert all(row.item_id is None for row in rows)


def test_a_status_period_is_written_in_ascii_digits():
    from workflows.items.status import Period, period_of

    assert period_of("114", "1") == Period(114, 1) and period_of(114) == Period(114, 0)
    for year, semester in (("١١٤", 1), ("114", "١"), ("²", 0), ("9" * 10_000, 0), ("301", 0)):
        with pytest.raises(InvalidInput) as refused:
            period_of(year, semester)
        assert len(refused.value.message) < 80  # a 10,000-digit year is not quoted whole
