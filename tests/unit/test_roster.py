"""Roster-type codes 名冊別 and the ROC birth date of the central database's roster layout."""
from datetime import date

import pytest

from persistence.tables import BATCH_KINDS
from workflows import roster
from workflows.errors import InvalidInput
from workflows.precheck import check_course


@pytest.mark.parametrize("kind, division, code", [
    ("semester_basic_cadre", "day", "24"),
    ("year_performances", "day", "25"),
    ("year_outcomes", "day", "26"),
    ("year_outcomes", "continuing", "28"),
    ("semester_courses", "day", "41"),
    ("semester_courses", "continuing", "42"),
])
def test_ordinary_batches_use_the_vendor_codes(kind, division, code):
    assert roster.roster_type(kind, division=division).code == code


@pytest.mark.parametrize("kind, division, first, second", [
    ("semester_basic_cadre", "day", "34", "74"),
    ("year_performances", "day", "35", "75"),
    ("year_outcomes", "day", "36", "76"),
    ("year_outcomes", "continuing", "38", "78"),
])
def test_grade12_batches_use_the_first_and_second_round_codes(kind, division, first, second):
    assert roster.roster_type(kind, division=division, grade12_round=1).code == first
    assert roster.roster_type(kind, division=division, grade12_round=2).code == second


def test_grade12_course_records_keep_the_grades_code():
    assert roster.roster_type("semester_courses", grade12_round=2).code == "41"


def test_every_batch_kind_and_division_has_a_named_code():
    for kind in BATCH_KINDS:
        for division in ("day", "continuing"):
            for round_ in (None, 1, 2):
                found = roster.roster_type(kind, division=division, grade12_round=round_)
                assert found.name and found.label.startswith(found.code + " ")


def test_a_third_round_or_unknown_kind_is_refused():
    with pytest.raises(InvalidInput, match="第 3 梯次"):
        roster.roster_type("year_outcomes", grade12_round=3)
    with pytest.raises(InvalidInput):
        roster.roster_type("consultation_records")


@pytest.mark.parametrize("day, text", [
    (date(2008, 3, 1), "0970301"),
    (date(2009, 1, 1), "0980101"),
    (date(2011, 12, 31), "1001231"),
    (date(1912, 1, 9), "0010109"),
])
def test_birth_dates_are_seven_digit_roc_dates(day, text):
    assert roster.roc_birth_date(day) == text


def test_a_birth_date_before_the_roc_is_refused():
    with pytest.raises(InvalidInput):
        roster.roc_birth_date(date(1911, 12, 31))


def test_the_data_columns_are_keyed_by_id_number_and_birth_date():
    for kind in BATCH_KINDS:
        labels = [label for label, _ in roster.columns_for(kind)]
        assert labels[:2] == ["身分證號", "出生日期"]
    assert "SHA-256" in "".join(label for label, _ in roster.columns_for("year_outcomes"))
    assert not any("SHA" in label for label, _ in roster.columns_for("semester_basic_cadre"))


SCHOOL = "013301"
GOOD = "112013301H00100A1ML0101"


def _with_char(code: str, position: int, char: str) -> str:
    return code[:position - 1] + char + code[position:]


def test_a_valid_course_passes_the_precheck():
    assert check_course(1, "國語文", GOOD, school_code=SCHOOL, academic_year=114) == []


def test_group_activity_and_flexible_learning_codes_must_match_the_course_name():
    group = _with_char(GOOD, 17, "8")
    assert check_course(1, "班級活動", group, school_code=SCHOOL, academic_year=114) == []
    [problem] = check_course(2, "數學", group, school_code=SCHOOL, academic_year=114)
    assert problem.row == 2 and "第 17 碼" in problem.message and "團體活動時間" in problem.message
    [problem] = check_course(3, "彈性學習－自主學習", GOOD, school_code=SCHOOL, academic_year=114)
    assert "應為 9" in problem.message


def test_an_entry_year_after_the_course_year_is_a_problem():
    [problem] = check_course(1, "國語文", "115" + GOOD[3:], school_code=SCHOOL, academic_year=114)
    assert "入學年度" in problem.message
