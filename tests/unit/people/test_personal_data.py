"""ID numbers (身分證號 / 居留證號): validation, masking, who may see them, and logs."""
from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.people.personal_data import (NationalIdError, RedactNationalIds, can_see_national_id,
                                     check_digit, mask_national_id, redact_national_ids,
                                     show_national_id, validate_national_id)
from workflows.core.roles import ID_NUMBER_ROLES, Role

# The checksum, written out again independently of the module under test.
CODES = dict(zip("ABCDEFGHJKLMNPQRSTUV", range(10, 30))) | {
    "I": 34, "O": 35, "W": 32, "X": 30, "Y": 31, "Z": 33}
WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)


def with_check_digit(prefix: str) -> str:
    """Append the digit that makes `prefix` (letter + 8 characters) a valid ID number."""
    first = CODES[prefix[0]]
    second = CODES[prefix[1]] % 10 if prefix[1].isalpha() else int(prefix[1])
    digits = [first // 10, first % 10, second, *(int(c) for c in prefix[2:])]
    total = sum(d * w for d, w in zip(digits, WEIGHTS))  # last weight (1) is the check digit
    return prefix + str((10 - total % 10) % 10)


# Real-looking valid examples (checksums computed by hand and by with_check_digit):
#   A123456789  the textbook example: 1*1 + 0*9 + 1*8 + 2*7 + 3*6 + 4*5 + 5*4 + 6*3 + 7*2
#               + 8*1 + 9*1 = 130, a multiple of 10
#   F131104093  citizen, male, New Taipei
#   B220304156  citizen, female, Taichung
#   A800000014  new-style resident certificate (2021), second digit 8
#   Y912345672  new-style resident certificate, second digit 9
#   AC01234567  old-style resident certificate, second letter C (counts as 2)
VALID_EXAMPLES = ["A123456789", "F131104093", "B220304156", "A800000014", "Y912345672",
                  "AC01234567", "FA12345670", "BD09876542", "I111111115", "O212345672"]


def test_helper_agrees_with_the_textbook_example():
    assert with_check_digit("A12345678") == "A123456789"


@pytest.mark.parametrize("number", VALID_EXAMPLES)
def test_valid_examples(number):
    assert with_check_digit(number[:9]) == number
    assert validate_national_id(number) == number


def test_normalised_strip_and_upper():
    assert validate_national_id("  a123456789\t") == "A123456789"
    assert validate_national_id("ac01234567") == "AC01234567"


@pytest.mark.parametrize("letter", sorted(CODES))
@pytest.mark.parametrize("second", ["1", "2", "8", "9", "A", "B", "C", "D"])
def test_every_letter_and_every_accepted_second_character(letter, second):
    number = with_check_digit(letter + second + "3141592")
    assert validate_national_id(number) == number


@given(letter=st.sampled_from(sorted(CODES)), second=st.sampled_from("1289ABCD"),
       body=st.text(alphabet="0123456789", min_size=7, max_size=7))
def test_exactly_one_check_digit_is_valid(letter, second, body):
    prefix = letter + second + body
    good = with_check_digit(prefix)
    assert check_digit(prefix) == good[-1]
    for digit in "0123456789":
        candidate = prefix + digit
        if candidate == good:
            assert validate_national_id(candidate) == good
        else:
            with pytest.raises(NationalIdError):
                validate_national_id(candidate)


@pytest.mark.parametrize("number", ["A123456788", "F131104094", "AC01234568", "A800000015"])
def test_wrong_check_digit_is_refused_without_echoing_the_number(number):
    with pytest.raises(NationalIdError) as caught:
        validate_national_id(number)
    message = str(caught.value)
    assert message == f"身分證號「{mask_national_id(number)}」檢查碼不正確，請核對是否輸入錯誤"
    assert number not in message
    assert number not in repr(caught.value)
    assert caught.value.masked == mask_national_id(number)


def test_historical_letter_order_matters():
    # I is 34, not 18: a number made with the alphabetical code must fail.
    naive = "I1" + "3141592"
    digits = [1, 8, 1, 3, 1, 4, 1, 5, 9, 2]
    check = (10 - sum(d * w for d, w in zip(digits, WEIGHTS)) % 10) % 10
    assert with_check_digit(naive) != naive + str(check)
    with pytest.raises(NationalIdError):
        validate_national_id(naive + str(check))


@pytest.mark.parametrize("raw,fragment", [
    ("A323456789", "格式不正確"),      # second digit must be 1, 2, 8 or 9
    ("A023456789", "格式不正確"),
    ("1123456789", "格式不正確"),      # first character must be a letter
    ("AE00000009", "格式不正確"),      # old resident: second letter only A–D
    ("A12345678", "長度應為 10 碼，收到 9 碼"),
    ("A1234567890", "長度應為 10 碼，收到 11 碼"),
    ("A12345678９", "全形"),
    ("A1234 6789", "格式不正確"),
])
def test_malformed_numbers(raw, fragment):
    with pytest.raises(NationalIdError) as caught:
        validate_national_id(raw)
    assert fragment in str(caught.value)
    assert raw not in str(caught.value)


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_empty(raw):
    with pytest.raises(NationalIdError, match="身分證號未填寫"):
        validate_national_id(raw)


def test_national_id_error_is_a_value_error():
    assert issubclass(NationalIdError, ValueError)


@pytest.mark.parametrize("raw,masked", [
    ("A123456789", "A12****789"),
    ("AC01234567", "AC0****567"),
    (" A123456789 ", "A12****789"),
    ("A1234", "A****"),
    ("A", "*"),
    ("", ""),
    (None, ""),
])
def test_mask(raw, masked):
    assert mask_national_id(raw) == masked


def test_mask_never_shows_more_than_six_characters_of_a_full_number():
    masked = mask_national_id("A123456789")
    assert masked.count("*") == 4
    assert "3456" not in masked


def test_who_may_see_the_full_number():
    assert ID_NUMBER_ROLES == {Role.REGISTRY, Role.EQUIPMENT_SECTION, Role.STUDENT_ACTIVITIES}
    for role in Role:
        assert can_see_national_id([role]) is (role in ID_NUMBER_ROLES)
    assert can_see_national_id({Role.SUBJECT_TEACHER, Role.REGISTRY})
    assert can_see_national_id(["registry"])  # role codes as stored
    assert not can_see_national_id([Role.HOMEROOM_TEACHER, Role.PRINCIPAL, Role.ADMIN])
    assert not can_see_national_id([])
    assert not can_see_national_id(["no_such_role"])


def test_show_national_id():
    assert show_national_id("A123456789", [Role.REGISTRY]) == "A123456789"
    assert show_national_id("A123456789", [Role.HOMEROOM_TEACHER]) == "A12****789"


def test_redact_text():
    text = "學生 A123456789、b220304156 與 AC01234567；學號 110001；電話 0912345678"
    assert redact_national_ids(text) == ("學生 A12****789、b22****156 與 AC0****567；"
                                         "學號 110001；電話 0912345678")


# --- logs -----------------------------------------------------------------------------------


@pytest.fixture
def log():
    """A logger whose only handler carries the filter; yields (logger, stream)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactNationalIds())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.personal_data.redaction")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, stream
    logger.handlers = []


RAW = "A123456789"


def test_id_in_the_message_is_masked(log):
    logger, stream = log
    logger.info("imported student A123456789 into 101")
    assert stream.getvalue() == "INFO imported student A12****789 into 101\n"


def test_id_in_positional_args_is_masked(log):
    logger, stream = log
    logger.warning("duplicate %s on line %d", RAW, 3)
    assert stream.getvalue() == "WARNING duplicate A12****789 on line 3\n"


def test_id_in_mapping_args_is_masked(log):
    logger, stream = log
    logger.error("student %(id)s", {"id": RAW})
    assert RAW not in stream.getvalue()
    assert "A12****789" in stream.getvalue()


def test_id_inside_an_object_args_str_is_masked(log):
    class Student:
        def __str__(self):
            return f"Student({RAW})"

    logger, stream = log
    logger.info("saving %s", Student())
    logger.info(Student())
    assert RAW not in stream.getvalue()
    assert stream.getvalue().count("Student(A12****789)") == 2


def test_lowercase_and_glued_ids_are_masked(log):
    logger, stream = log
    logger.info("id=a123456789 key:%s", "studentA123456789")
    assert "123456" not in stream.getvalue()


def test_id_in_an_exception_traceback_is_masked(log):
    logger, stream = log
    try:
        raise RuntimeError(f"cannot import {RAW}")
    except RuntimeError:
        logger.exception("import failed for %s", RAW)
    output = stream.getvalue()
    assert RAW not in output
    assert "RuntimeError: cannot import A12****789" in output
    assert "Traceback" in output


def test_id_in_extra_fields_is_masked():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactNationalIds())
    handler.setFormatter(logging.Formatter("%(message)s [%(student)s]"))
    logger = logging.getLogger("test.personal_data.extra")
    logger.handlers = [handler]
    logger.propagate = False
    logger.warning("checked", extra={"student": RAW})
    assert stream.getvalue() == "checked [A12****789]\n"


def test_child_loggers_records_are_masked_by_the_handler_filter(log):
    logger, stream = log
    logging.getLogger("test.personal_data.redaction.child").info("child %s", RAW)
    assert stream.getvalue() == "INFO child A12****789\n"


def test_filter_never_drops_a_record(log):
    logger, stream = log
    for number in VALID_EXAMPLES:
        logger.info("n=%s", number)
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(VALID_EXAMPLES)
    for number in VALID_EXAMPLES:
        assert number not in stream.getvalue()


def test_a_broken_format_string_still_never_leaks(log):
    logger, stream = log
    logger.info("%d students", RAW)  # wrong placeholder type
    assert RAW not in stream.getvalue()


def test_without_the_filter_the_number_would_leak():
    """Control: the filter is what keeps the number out."""
    stream = io.StringIO()
    logger = logging.getLogger("test.personal_data.unfiltered")
    logger.handlers = [logging.StreamHandler(stream)]
    logger.propagate = False
    logger.warning("id %s", RAW)
    assert RAW in stream.getvalue()
