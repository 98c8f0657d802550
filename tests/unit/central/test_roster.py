"""Roster-type codes 名冊別 and the ROC birth date of the central database's roster layout."""
from datetime import date

import pytest

from persistence.tables import BATCH_KINDS, CADRE_LEVELS, GRADE_RECORD_KINDS
from persistence.vocabulary import CadreLevel
from workflows.central import roster
from workflows.core.errors import InvalidInput
from workflows.central.precheck import check_course


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
        for sheet in roster.sheets_for(kind):
            assert [label for label, _ in sheet.columns[:2]] == ["身分證號", "出生日期"]
    assert "SHA-256" in "".join(label for label, _ in roster.columns_for("year_outcomes"))
    assert not any("SHA" in label for label, _ in roster.columns_for("semester_basic_cadre"))


@pytest.mark.parametrize("day, text", [
    (date(2025, 8, 1), "1140801"),
    (date(2026, 1, 31), "1150131"),
    (date(2011, 1, 1), "1000101"),
    (date(1912, 1, 1), "0010101"),
    (date(2910, 12, 31), "9991231"),
])
def test_roc_dates_are_seven_digits(day, text):
    assert roster.roc_date(day) == text


def test_a_date_outside_the_roc_years_is_refused_naming_the_column():
    with pytest.raises(InvalidInput) as refused:
        roster.roc_date(date(1911, 12, 31), label="起始日期", field="starts_on")
    assert refused.value.message.startswith("起始日期 1911-12-31") and refused.value.details["field"] == "starts_on"
    with pytest.raises(InvalidInput):
        roster.roc_date(date(2911, 1, 1))
    with pytest.raises(InvalidInput, match="出生日期"):
        roster.roc_birth_date(date(1900, 1, 1))


def sheet_layout(kind):
    return [(sheet.name, [label for label, _ in sheet.columns]) for sheet in roster.sheets_for(kind)]


def test_basic_data_and_cadre_has_two_data_sheets_and_counts_both_on_the_cover():
    assert sheet_layout("semester_basic_cadre") == [
        ("名冊", ["身分證號", "出生日期", "班級", "學號", "姓名", "年級", "部別"]),
        ("幹部紀錄", ["身分證號", "出生日期", "學號", "姓名", "學年度", "學期", "幹部層級", "單位", "職稱",
                  "起始日期", "結束日期"]),
    ]
    cover = roster.cover_rows_for("semester_basic_cadre")
    assert cover[:len(roster.COVER_ROWS)] == roster.COVER_ROWS
    assert cover[len(roster.COVER_ROWS):] == (("幹部紀錄筆數", "cadre_rows"),)


def test_course_records_have_one_sheet_of_grade_rows():
    assert sheet_layout("semester_courses") == [
        ("名冊", ["身分證號", "出生日期", "學號", "姓名", "學年度", "學期", "成績類別", "課程代碼", "科目名稱", "年級",
                "學分數", "學期成績", "及格", "補考成績", "採計學分"]),
    ]
    assert roster.cover_rows_for("semester_courses") == roster.COVER_ROWS


def test_year_kinds_keep_the_item_sheet_and_plain_cover():
    for kind in ("year_outcomes", "year_performances"):
        assert [name for name, _ in sheet_layout(kind)] == ["名冊"]
        assert roster.columns_for(kind) == roster.ITEM_COLUMNS
        assert roster.cover_rows_for(kind) == roster.COVER_ROWS


def test_no_layout_carries_consultation_or_exploration_records():
    for kind in BATCH_KINDS:
        for sheet in roster.sheets_for(kind):
            assert sheet.rows_of in ("entries", "cadre", "grades")
            assert "諮詢" not in sheet.name and "探索" not in sheet.name


def test_stored_codes_have_a_label_for_every_value_the_tables_allow():
    assert set(CadreLevel.labels()) == set(CADRE_LEVELS)
    assert set(roster.GRADE_KIND_CELLS) == set(GRADE_RECORD_KINDS)
    assert CadreLevel.labels()["club"] == "社團" and roster.GRADE_KIND_CELLS["makeup"] == "補考"


def test_a_semester2_batch_also_carries_the_year_grades():
    assert roster.grade_semesters(1) == (1,)
    assert roster.grade_semesters(2) == (2, 0)


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
