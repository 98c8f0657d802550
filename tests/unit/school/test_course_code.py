"""The 23-character course code (課程代碼)."""
from __future__ import annotations

import pytest

from workflows.school.course_code import (COURSE_TYPE_LABELS, CourseCode, CourseCodeError,
                                   parse_course_code)

# 111 學年度入學, school 013301, 普通型 (H), group 10, department 101, class group 0,
# course category 1, delivery 1, attribute A, domain 01, subject 02.
PARTS = ["111", "013301", "H", "10", "101", "0", "1", "1", "A", "01", "02"]
VALID = "".join(PARTS)


def with_char(position: int, char: str, code: str = VALID) -> str:
    """`code` with the 1-based `position` replaced by `char`."""
    return code[:position - 1] + char + code[position:]


def test_the_sample_code_is_23_characters():
    assert len(VALID) == 23


def test_a_valid_code_parses_into_its_parts():
    parsed = parse_course_code(VALID)
    assert parsed == CourseCode(code=VALID, entry_year=111, school_code="013301", course_type="H",
                                group_code="10", department_code="101", class_group="0",
                                course_category="1", delivery="1", subject_attribute="A",
                                domain="01", subject="02")
    assert parsed.course_type_label == "普通型"
    assert str(parsed) == VALID


def test_surrounding_whitespace_is_stripped_and_lowercase_upper_cased():
    code = with_char(19, "b")  # subject attribute in lower case
    parsed = parse_course_code(f"  {code}\t\r\n")
    assert parsed.code == code.upper()
    assert parsed.subject_attribute == "B"


def test_full_width_space_around_the_code_is_stripped():
    assert parse_course_code(f"\u3000{VALID}\u3000").code == VALID


def test_a_lowercase_course_type_is_accepted():
    assert parse_course_code(with_char(10, "v")).course_type == "V"


@pytest.mark.parametrize("letter,label", sorted(COURSE_TYPE_LABELS.items()))
def test_every_course_type_is_accepted_with_its_label(letter, label):
    parsed = parse_course_code(with_char(10, letter))
    assert parsed.course_type == letter
    assert parsed.course_type_label == label


def test_course_type_labels():
    assert COURSE_TYPE_LABELS == {"H": "普通型", "V": "技術型", "C": "綜合型", "M": "單科型",
                                  "S": "特殊教育", "E": "實用技能學程", "F": "進修部"}


def test_group_activity_and_flexible_learning_categories_are_labelled():
    assert parse_course_code(with_char(17, "8")).course_category_label == "團體活動時間"
    assert parse_course_code(with_char(17, "9")).course_category_label == "彈性學習時間"
    assert parse_course_code(with_char(17, "F")).course_category_label is None


def test_frozen():
    parsed = parse_course_code(VALID)
    with pytest.raises(AttributeError):
        parsed.code = "x"  # type: ignore[misc]


@pytest.mark.parametrize("raw,received", [(VALID[:-1], 22), (VALID + "1", 24), ("", 0)])
def test_wrong_length_is_refused(raw, received):
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(raw)
    assert str(caught.value) == f"課程代碼長度應為 23 碼，收到 {received} 碼"
    assert caught.value.position is None


def test_course_code_error_is_a_value_error():
    assert issubclass(CourseCodeError, ValueError)


def test_wrong_course_type_message():
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(with_char(10, "X"))
    assert str(caught.value) == "課程代碼第 10 碼（課程類型）「X」不是有效值（H、V、C、M、S、E、F）"
    assert caught.value.position == 10
    assert caught.value.part == "課程類型"


@pytest.mark.parametrize("position,bad,part,where", [
    (1, "A", "入學年度", "第 1–3 碼"),
    (3, "-", "入學年度", "第 1–3 碼"),
    (4, "X", "學校代碼", "第 4–9 碼"),
    (9, "B", "學校代碼", "第 4–9 碼"),
    (10, "1", "課程類型", "第 10 碼"),
    (11, "-", "群別代碼", "第 11–12 碼"),
    (12, "_", "群別代碼", "第 11–12 碼"),
    (13, "#", "科別代碼", "第 13–15 碼"),
    (15, ".", "科別代碼", "第 13–15 碼"),
    (16, "*", "班群代碼", "第 16 碼"),
    (17, "G", "課程類別", "第 17 碼"),
    (18, "/", "開課方式", "第 18 碼"),
    (19, "+", "科目屬性", "第 19 碼"),
    (20, "?", "領域", "第 20–21 碼"),
    (21, "!", "領域", "第 20–21 碼"),
    (22, "@", "科目", "第 22–23 碼"),
    (23, "%", "科目", "第 22–23 碼"),
])
def test_each_malformed_position_is_refused_naming_it(position, bad, part, where):
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(with_char(position, bad))
    message = str(caught.value)
    assert caught.value.position == position
    assert caught.value.part == part
    assert message.startswith(f"課程代碼{where}（{part}）")
    assert f"「{bad}」" in message
    if where.count("–"):  # a multi-character part also names the exact position
        assert f"第 {position} 碼「{bad}」不符" in message


def test_multi_character_part_message_shows_the_part_and_the_character():
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(with_char(8, "O"))  # letter O typed for zero
    assert str(caught.value) == "課程代碼第 4–9 碼（學校代碼）「0133O1」應為 6 位數字，第 8 碼「O」不符"


def test_full_width_characters_are_refused():
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(with_char(5, "１"))
    assert caught.value.position == 5
    assert "全形" in str(caught.value)
    assert "第 4–9 碼（學校代碼）" in str(caught.value)

    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(with_char(10, "Ｈ"))
    assert caught.value.position == 10
    assert "「Ｈ」為全形" in str(caught.value)


def test_a_full_width_code_is_refused_at_its_first_character():
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in VALID)
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(full_width)
    assert caught.value.position == 1
    assert "全形" in str(caught.value)


def test_a_space_inside_is_refused():
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(with_char(14, " "))
    assert caught.value.position == 14
    assert "第 13–15 碼（科別代碼）" in str(caught.value)
    assert "空白" in str(caught.value)


def test_a_missing_character_with_a_space_in_its_place_reports_the_length_and_the_space():
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(VALID[:10] + " " + VALID[12:])
    assert str(caught.value) == "課程代碼長度應為 23 碼，收到 22 碼（含有空白）"


@pytest.mark.parametrize("year", ["099", "200", "000"])
def test_entry_year_out_of_range(year):
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(year + VALID[3:])
    assert caught.value.position == 1
    assert str(caught.value) == f"課程代碼第 1–3 碼（入學年度）「{year}」應為民國 100–199 年"


@pytest.mark.parametrize("year", ["100", "199"])
def test_entry_year_bounds_accepted(year):
    assert parse_course_code(year + VALID[3:]).entry_year == int(year)


def test_own_school_code_accepted():
    assert parse_course_code(VALID, school_code="013301").school_code == "013301"


def test_another_schools_code_is_refused():
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(with_char(9, "2"), school_code="013301")
    assert str(caught.value) == "課程代碼第 4–9 碼（學校代碼）「013302」與本校代碼「013301」不符"
    assert caught.value.position == 9
    assert caught.value.part == "學校代碼"


def test_format_errors_come_before_the_school_code_comparison():
    with pytest.raises(CourseCodeError) as caught:
        parse_course_code(with_char(10, "X", with_char(9, "2")), school_code="013301")
    assert caught.value.position == 10
