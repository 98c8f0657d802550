"""The central database's roster layout (名冊) as data: roster-type codes 名冊別, the cover sheet
封面, the data sheets and their columns, the labels written in the cells, and the 7-digit ROC
date format.

Everything the ministry may change lives here, so a new spec means editing tables, not code.
The codes follow what school vendor tools use; the grade-12 (高三) codes are mapped by analogy
(see docs/batches.md) and are to be checked against the ministry's current spec.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from persistence.vocabulary import BATCH_KIND_LABELS, GradeRecordKind
from workflows.core.clock import ROC_OFFSET
from workflows.core.errors import InvalidInput


@dataclass(frozen=True)
class RosterType:
    code: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"


# 名冊別: the roster-type codes of vendor tools.
ROSTER_TYPES: dict[str, RosterType] = {r.code: r for r in (
    RosterType("24", "幹部經歷名冊"),
    RosterType("25", "多元表現名冊"),
    RosterType("26", "課程學習成果名冊"),
    RosterType("28", "進修部課程學習成果名冊"),
    # Grade 12 (高三), first batch (第一梯次): the x4–x8 codes shifted by 10 ...
    RosterType("34", "高三第一梯次幹部經歷名冊"),
    RosterType("35", "高三第一梯次多元表現名冊"),
    RosterType("36", "高三第一梯次課程學習成果名冊"),
    RosterType("38", "高三第一梯次進修部課程學習成果名冊"),
    # ... and second batch (第二梯次) shifted by 50.
    RosterType("74", "高三第二梯次幹部經歷名冊"),
    RosterType("75", "高三第二梯次多元表現名冊"),
    RosterType("76", "高三第二梯次課程學習成果名冊"),
    RosterType("78", "高三第二梯次進修部課程學習成果名冊"),
    RosterType("41", "日間部學業成績名冊"),
    RosterType("42", "進修部學業成績名冊"),
)}

# (batch kind, division) → the code of an ordinary (grades 10–11, or not split by track) batch.
_BASE_CODES: dict[tuple[str, str], str] = {
    ("semester_basic_cadre", "day"): "24",
    ("semester_basic_cadre", "continuing"): "24",
    ("year_performances", "day"): "25",
    ("year_performances", "continuing"): "25",
    ("year_outcomes", "day"): "26",
    ("year_outcomes", "continuing"): "28",
    ("semester_courses", "day"): "41",
    ("semester_courses", "continuing"): "42",
}
# Grade-12 batches: the base code plus this offset per round (梯次); grades (41/42) keep theirs.
GRADE12_ROUND_OFFSETS: dict[int, int] = {1: 10, 2: 50}
_NO_GRADE12_CODE = ("semester_courses",)


def roster_type(kind: str, *, division: str = "day", grade12_round: int | None = None) -> RosterType:
    """The 名冊別 of a batch: its kind, its students' division, and for a grade-12 batch its round."""
    base = _BASE_CODES.get((kind, division))
    if base is None:
        raise InvalidInput(f"沒有「{BATCH_KIND_LABELS.get(kind, kind)}」（{division}）的名冊別。", field="kind")
    if grade12_round is None or kind in _NO_GRADE12_CODE:
        return ROSTER_TYPES[base]
    offset = GRADE12_ROUND_OFFSETS.get(grade12_round)
    if offset is None:
        raise InvalidInput(f"高三提交只有第 1、2 梯次，收到第 {grade12_round} 梯次。", field="round")
    return ROSTER_TYPES[str(int(base) + offset)]


def roc_date(day: date, *, label: str = "日期", field: str = "date") -> str:
    """7 digits, as vendor tools write dates: ROC year zero-padded to 3, month and day to 2
    (2008-03-01 → 0970301). `label` and `field` name the column in the refusal of a date
    before the ROC (1912)."""
    year = day.year - ROC_OFFSET
    if not 1 <= year <= 999:
        raise InvalidInput(f"{label} {day.isoformat()} 無法以民國年表示。", field=field)
    return f"{year:03d}{day.month:02d}{day.day:02d}"


def roc_birth_date(day: date) -> str:
    """出生日期 as a 7-digit ROC date (2008-03-01 → 0970301)."""
    return roc_date(day, label="出生日期", field="birth_date")


# --- the workbook ------------------------------------------------------------------------------

COVER_SHEET = "封面"
DATA_SHEET = "名冊"
CADRE_SHEET = "幹部紀錄"
# Cover: (label in column A, key of the value in column B), one row each from row 1.
COVER_ROWS: tuple[tuple[str, str], ...] = (
    ("學校代碼", "school_code"),
    ("學年度", "academic_year"),
    ("學期", "semester"),
    ("名冊別", "roster_code"),
    ("名冊名稱", "roster_name"),
    ("梯次", "round"),
    ("群別", "track"),
    ("批次編號", "batch_id"),
    ("筆數", "rows"),  # rows of the first data sheet (名冊)
)
# Data sheets: header row 1, then one row per student (basic data), per item (year kinds), per
# cadre record or per grade record; every layout starts with the keys 身分證號 and 出生日期.
STUDENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("身分證號", "national_id"),
    ("出生日期", "birth_date"),
    ("班級", "class_name"),
    ("學號", "student_no"),
    ("姓名", "name"),
    ("年級", "grade"),
    ("部別", "division"),
)
ITEM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("身分證號", "national_id"),
    ("出生日期", "birth_date"),
    ("班級", "class_name"),
    ("學號", "student_no"),
    ("姓名", "name"),
    ("項目類別", "item_kind"),
    ("課程代碼", "course_code"),
    ("名稱", "title"),
    ("文件檔名", "document_file"),
    ("文件SHA-256", "document_sha256"),
    ("影音檔名", "media_file"),
    ("影音SHA-256", "media_sha256"),
)
CADRE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("身分證號", "national_id"),
    ("出生日期", "birth_date"),
    ("學號", "student_no"),
    ("姓名", "name"),
    ("學年度", "academic_year"),
    ("學期", "semester"),
    ("幹部層級", "level"),
    ("單位", "unit"),
    ("職稱", "position"),
    ("起始日期", "starts_on"),
    ("結束日期", "ends_on"),
)
GRADE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("身分證號", "national_id"),
    ("出生日期", "birth_date"),
    ("學號", "student_no"),
    ("姓名", "name"),
    ("學年度", "academic_year"),
    ("學期", "semester"),  # 0: a year grade
    ("成績類別", "record_kind"),
    ("課程代碼", "course_code"),
    ("科目名稱", "subject"),
    ("年級", "grade_level"),
    ("學分數", "credits"),
    ("學期成績", "score"),
    ("及格", "passed"),
    ("補考成績", "makeup_score"),
    ("採計學分", "credit_counted"),
)

# What the roster's cells say for a grade record's kind: the ministry spec's words, not the
# grades pages' labels (GradeRecordKind's), which say 學期 where the roster says 學期成績.
GRADE_KIND_CELLS = {
    GradeRecordKind.SEMESTER: "學期成績",
    GradeRecordKind.YEAR: "學年成績",
    GradeRecordKind.MAKEUP: "補考",
    GradeRecordKind.RETAKE: "重修",
    GradeRecordKind.REMEDIAL: "補修",
    GradeRecordKind.CREDIT_TRANSFER: "學分抵免",
}
YES_NO = {True: "是", False: "否"}


@dataclass(frozen=True)
class DataSheet:
    """One data sheet of a roster: its name, its columns, which records fill it, and — for a
    sheet after the first — the cover row that counts its rows."""

    name: str
    columns: tuple[tuple[str, str], ...]
    rows_of: str  # "entries" (the batch's students or items), "cadre" or "grades"
    count_label: str = "筆數"
    count_key: str = "rows"


# The data sheets of each batch kind, in workbook order (after the cover). Consultation records
# (課程諮詢紀錄) and career exploration (學群探索) are in none: they never go to the central database.
SHEETS: dict[str, tuple[DataSheet, ...]] = {
    "semester_basic_cadre": (DataSheet(DATA_SHEET, STUDENT_COLUMNS, "entries"),
                             DataSheet(CADRE_SHEET, CADRE_COLUMNS, "cadre", "幹部紀錄筆數", "cadre_rows")),
    "semester_courses": (DataSheet(DATA_SHEET, GRADE_COLUMNS, "grades"),),
    "year_outcomes": (DataSheet(DATA_SHEET, ITEM_COLUMNS, "entries"),),
    "year_performances": (DataSheet(DATA_SHEET, ITEM_COLUMNS, "entries"),),
}

WORKBOOK_NAME = "{school_code}_{academic_year}_{semester}_{roster_code}_{batch_id}.xlsx"
MANIFEST_NAME = "manifest.json"
FILES_DIR = "files"


def sheets_for(kind: str) -> tuple[DataSheet, ...]:
    return SHEETS[kind]


def columns_for(kind: str) -> tuple[tuple[str, str], ...]:
    """The columns of the kind's first data sheet (名冊)."""
    return SHEETS[kind][0].columns


def cover_rows_for(kind: str) -> tuple[tuple[str, str], ...]:
    """COVER_ROWS, then one row counting each further data sheet (e.g. 幹部紀錄筆數)."""
    return COVER_ROWS + tuple((sheet.count_label, sheet.count_key) for sheet in SHEETS[kind][1:])


def grade_semesters(semester: int) -> tuple[int, ...]:
    """The grade records a semester batch carries: the term's, and in semester 2 also the year
    grades (stored as semester 0), which exist only once the year is over."""
    return (semester, 0) if semester == 2 else (semester,)
