"""Integers from a request 要求中的整數: one parser for every number a path, a query string, a form
or a JSON body brings, so none reaches the database unchecked.

Why not `int()` or `str.isdigit()`: both take more than a person types. `"²".isdigit()` is true
but `int("²")` fails; `int("١٢")` (Arabic-Indic digits) is 12; Python's regex `\\d` and
Werkzeug's `int` converter match those digits too; and `int("9" * 30)` is a number no database
column holds (SQLite raises OverflowError, PostgreSQL a DataError). Here a number is ASCII digits
(a leading `-` only where the caller allows negatives), within the database's integer range, and
anything else is InvalidInput naming the field and the rule, which the error handlers answer with
400 on a page and 422 in the API; a path segment that is not such a number matches no route (404).
"""
from __future__ import annotations

import builtins
from typing import Iterable

from marshmallow import ValidationError as FieldError, fields, validate
from werkzeug.routing import IntegerConverter, ValidationError

from workflows.core.errors import InvalidInput
from workflows.core.numbers import DIGITS_MAX, INT_MAX, integer_text, whole

# Ids and versions are PostgreSQL `integer` columns: a larger number can name no row.
ID_MAX = INT_MAX
# An academic year 學年度 is an ROC year of at most three digits (the roster's column holds 1-999);
# the workflows hold it to narrower ranges where a rule says so.
YEAR_MIN, YEAR_MAX = 1, 999


class AsciiIntConverter(IntegerConverter):
    """Werkzeug's `int` converter, ASCII digits only and at most ID_MAX unless a rule says
    otherwise: `/items/99999999999999999999999` and `/items/١` match no route (404)."""

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = ID_MAX,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=ID_MAX if max is None else builtins.min(max, ID_MAX), signed=signed)

    def to_python(self, value: str):
        if len(value) > DIGITS_MAX:  # no int() of a 10,000-digit segment
            raise ValidationError()
        return super().to_python(value)


def install(app) -> None:
    """Every `<int:…>` of the app's rules becomes AsciiIntConverter; call before the blueprints
    are registered (a rule compiles its converters when it is added)."""
    app.url_map.converters["int"] = AsciiIntConverter


def integer(value, *, field: str, label: str | None = None, low: int = 0, high: int = ID_MAX,
            default: int | None = None, required: bool = False) -> int | None:
    """`value` (a str from a query or form, or an int from JSON) as an int in [low, high].
    Missing or blank: `default`, or InvalidInput when required. Anything else: InvalidInput
    naming the field, the rule and the limits."""
    name = label or field
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"請填寫{name}。", field=field, rule="required")
        return default
    if isinstance(value, bool):  # JSON true is not 1
        raise _not_integer(name, field, low, high)
    if isinstance(value, int):
        number = value
    else:
        number = whole(str(value), signed=low < 0, beyond=high + 1)
        if number is None:
            raise _not_integer(name, field, low, high)
    if not low <= number <= high:
        raise InvalidInput(f"{name}須為 {low} 到 {high} 之間的整數。", field=field, rule="range",
                           limit={"min": low, "max": high})
    return number


def _not_integer(name: str, field: str, low: int, high: int) -> InvalidInput:
    return InvalidInput(f"{name}須為 {low} 到 {high} 之間的整數（半形阿拉伯數字）。", field=field, rule="integer",
                        limit={"min": low, "max": high})


def integers(values: Iterable, *, field: str, label: str | None = None, low: int = 0,
             high: int = ID_MAX) -> list[int]:
    """Every value of a repeated field (checkboxes) as an int; one bad value refuses them all."""
    return [integer(v, field=field, label=label, low=low, high=high, required=True) for v in values]


def ident(value, *, field: str, label: str | None = None, required: bool = False) -> int | None:
    """A row id: 1 to ID_MAX."""
    return integer(value, field=field, label=label, low=1, high=ID_MAX, required=required)


class Int(fields.Integer):
    """A form's integer field (marshmallow) under the same rule: ASCII digits, within [low, high],
    the message naming the field's label; unless `error_messages` says otherwise, in the words
    `integer` uses (請填寫…, …須為 low 到 high 之間的整數（半形阿拉伯數字）)."""

    def __init__(self, *, label: str, low: int = 0, high: int = ID_MAX, **kwargs) -> None:
        self.range_message = f"{label}須為 {low} 到 {high} 之間的整數。"
        kwargs["error_messages"] = {"required": f"請填寫{label}。", "null": f"請填寫{label}。",
                                    "invalid": f"{label}須為 {low} 到 {high} 之間的整數（半形阿拉伯數字）。",
                                    **kwargs.get("error_messages", {})}
        super().__init__(validate=validate.Range(low, high, error=self.range_message), **kwargs)
        self.low = low

    def _validated(self, value):
        if isinstance(value, str):
            if not value.strip():  # a blank among repeated values (a list's items are never dropped as missing)
                raise self.make_error("required")
            text = integer_text(value, signed=self.low < 0)
            if text is None:
                raise self.make_error("invalid")
            if len(text) > DIGITS_MAX:  # refused before int() reads (say) 10,000 digits
                raise FieldError(self.range_message)
            value = text
        return super()._validated(value)
