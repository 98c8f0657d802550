"""Whole numbers written by people 整數: the one rule for every integer typed into a form, a query
string or an imported file. A number is ASCII digits, with a leading '-' where the caller allows
one, and no longer than the database's integers (11 characters: -2147483648).

Why not `str.isdigit()` and `int()`: '²'.isdigit() is true but int('²') fails; int('١') (an
Arabic-Indic one) is 1; int() refuses more than 4,300 digits with a ValueError; and a number of
more digits than a database integer holds overflows SQLite. Callers that accept full-width digits
(１１４, typed with a Chinese input method) normalise with NFKC first, which turns them, and
'²', into ASCII digits; every other digit is refused here.
"""
from __future__ import annotations

import re

# Ids and versions are PostgreSQL `integer` columns: no row has a larger number.
INT_MAX = 2**31 - 1
DIGITS_MAX = len(str(-(2**31)))
_UNSIGNED = re.compile(r"[0-9]+")
_SIGNED = re.compile(r"-?[0-9]+")


def integer_text(text: str, *, signed: bool = True) -> str | None:
    """`text` stripped, if it is a whole number in ASCII digits; else None."""
    text = text.strip()
    return text if (_SIGNED if signed else _UNSIGNED).fullmatch(text) else None


def whole(text: str, *, signed: bool = True, beyond: int) -> int | None:
    """The number `text` writes (see integer_text), or None. One longer than any database integer
    is `beyond`: the caller's first value out of its range, so its range check words the refusal."""
    written = integer_text(text, signed=signed)
    if written is None:
        return None
    return int(written) if len(written) <= DIGITS_MAX else beyond


def echoed(value, *, limit: int = 20) -> str:
    """What was typed, for a refusal to quote: a 10,000-digit number is not the number `whole`
    gave its caller to range-check, nor a message to print whole."""
    text = "" if value is None else str(value).strip()
    return text if len(text) <= limit else text[:limit] + "…"
