"""ID numbers (身分證號 / 居留證號) are personal data.

Accepted forms, all ten characters, checked with the official checksum:

* national ID card 國民身分證: a letter + 9 digits, the second being 1 or 2;
* new-style resident certificate 新式統一證號 (from 2021): a letter + 9 digits, the second
  being 8 or 9;
* old-style resident certificate 舊式統一證號: two letters (the second A–D) + 8 digits.

Checksum: the first letter becomes a two-digit code (A=10 … in alphabetical order, except the
letters added later: I=34, O=35, W=32, X=30, Y=31, Z=33); for the old resident form the second
letter counts as the last digit of its own code (A→0, B→1, C→2, D→3). The 11 digits so obtained,
weighted 1,9,8,7,6,5,4,3,2,1,1, must add up to a multiple of 10.

Only the roles in `ID_NUMBER_ROLES` see a full number; everyone else, every message and every
log line gets the masked form `A12****789`.
"""
from __future__ import annotations

import logging
import re
import traceback
from typing import Iterable

from workflows.core.roles import ID_NUMBER_ROLES, Role

LETTER_CODES: dict[str, int] = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34,
    "J": 18, "K": 19, "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25,
    "S": 26, "T": 27, "U": 28, "V": 29, "W": 32, "X": 30, "Y": 31, "Z": 33,
}
WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)

_CITIZEN = re.compile(r"[A-Z][12]\d{8}")
_NEW_RESIDENT = re.compile(r"[A-Z][89]\d{8}")
_OLD_RESIDENT = re.compile(r"[A-Z][A-D]\d{8}")

# Anything shaped like an ID number, valid checksum or not, in either case, even glued to other
# text ("idA123456789"): what the log filter hides. Broader than the valid forms on purpose;
# masking a look-alike in a log line costs nothing.
ID_SHAPED = re.compile(r"[A-Za-z][A-Da-d0-9]\d{8}")

FORMAT_HELP = "應為 1 個英文字母加 9 個數字（第 2 碼為 1、2、8 或 9），或舊式居留證號 2 個英文字母（第 2 碼 A–D）加 8 個數字"


class NationalIdError(ValueError):
    """An ID number that cannot be accepted. The message shows the number masked only."""

    def __init__(self, message: str, masked: str):
        super().__init__(message)
        self.message = message
        self.masked = masked

    def __str__(self) -> str:
        return self.message


def mask_national_id(value: str | None) -> str:
    """`A123456789` → `A12****789`: first 3, four asterisks, last 3.

    Shorter values keep less: fewer than 10 characters show only the first one, so a masked
    value never reveals more than half of what was typed. Empty or None gives "".
    """
    if not value:
        return ""
    text = str(value).strip()
    if len(text) >= 10:
        return f"{text[:3]}****{text[-3:]}"
    if len(text) == 1:
        return "*"
    return text[0] + "*" * (len(text) - 1)


def _checksum_ok(value: str) -> bool:
    letter_code = LETTER_CODES[value[0]]
    second = value[1]
    if second.isdigit():
        body = [int(c) for c in value[1:]]
    else:  # old-style resident: the second letter counts as the units digit of its code
        body = [LETTER_CODES[second] % 10] + [int(c) for c in value[2:]]
    digits = [letter_code // 10, letter_code % 10, *body]
    return sum(d * w for d, w in zip(digits, WEIGHTS)) % 10 == 0


def check_digit(first_nine: str) -> str:
    """The check digit completing a 9-character prefix (`A12345678` → `9`). For tests and
    sample data; raises ValueError on a prefix that is not of an accepted shape."""
    prefix = first_nine.strip().upper()
    for digit in "0123456789":
        candidate = prefix + digit
        if _shape_ok(candidate) and _checksum_ok(candidate):
            return digit
    raise ValueError("prefix is not the start of an accepted ID number")


def _shape_ok(value: str) -> bool:
    return bool(_CITIZEN.fullmatch(value) or _NEW_RESIDENT.fullmatch(value)
                or _OLD_RESIDENT.fullmatch(value))


def validate_national_id(raw: str | None) -> str:
    """Normalise (strip, upper-case) and check an ID number; returns the normalised value.

    Raises NationalIdError with a zh-TW message that shows the number masked only.
    """
    value = "" if raw is None else str(raw).strip().upper()
    masked = mask_national_id(value)
    if not value:
        raise NationalIdError("身分證號未填寫", masked)
    if len(value) != 10:
        raise NationalIdError(
            f"身分證號「{masked}」長度應為 10 碼，收到 {len(value)} 碼；{FORMAT_HELP}", masked)
    if not value.isascii():
        raise NationalIdError(
            f"身分證號「{masked}」含全形或非英數字元，請改用半形英數字", masked)
    if not _shape_ok(value):
        raise NationalIdError(f"身分證號「{masked}」格式不正確；{FORMAT_HELP}", masked)
    if not _checksum_ok(value):
        raise NationalIdError(f"身分證號「{masked}」檢查碼不正確，請核對是否輸入錯誤", masked)
    return value


def _as_role(value: Role | str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def can_see_national_id(roles: Iterable[Role | str]) -> bool:
    """True when one of `roles` (Role members or their codes) may see full ID numbers."""
    return any(_as_role(role) in ID_NUMBER_ROLES for role in roles)


def show_national_id(value: str, roles: Iterable[Role | str]) -> str:
    """The ID number as a person holding `roles` may see it: full or masked."""
    return value if can_see_national_id(roles) else mask_national_id(value)


def redact_national_ids(text: str) -> str:
    """Every ID-number-shaped token in `text` replaced by its masked form."""
    return ID_SHAPED.sub(lambda match: mask_national_id(match.group(0)), text)


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime"}


class RedactNationalIds(logging.Filter):
    """Rewrites ID-number-shaped tokens in log records to the masked form.

    The message is merged with its arguments first (whatever their type, their str() may hold
    an ID number), then redacted, so `record.msg` becomes the redacted text and `record.args`
    empty. Exception and stack text is formatted and redacted too (the record's exc_info is
    then dropped so that no formatter prints the raw exception again), and so are string
    fields passed through `extra=`. Attach it to *handlers*
    (`handler.addFilter(RedactNationalIds())`): a filter on a logger does not see records
    propagated from its child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: still never let the raw parts through
            message = f"{record.msg} {record.args!r}" if record.args else str(record.msg)
        record.msg = redact_national_ids(message)
        record.args = ()
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = "".join(
                    traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_info = None  # formatters print exc_text; nobody re-formats the raw one
        if record.exc_text:
            record.exc_text = redact_national_ids(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_national_ids(record.stack_info)
        for key, value in list(vars(record).items()):  # `extra=` fields a format string may print
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, redact_national_ids(value))
        return True
