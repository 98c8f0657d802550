"""The school's CSV files (students, teachers and staff, courses) parsed into validated rows.

Files are what Excel writes: UTF-8 with or without a BOM, CRLF line endings, quoted fields.
A file in another encoding (Big5/cp950, as older Excel saves "CSV (逗號分隔)") is refused
with a message telling the user how to save it as "CSV UTF-8（逗號分隔）".

Headers may be English codes or Chinese names; matching ignores surrounding whitespace, case
and a required-marker asterisk. Unknown columns are ignored. Line numbers are the row numbers a
spreadsheet user sees (the header is line 1, a blank row still counts); blank rows are skipped.
Every row is checked and every error reported; `Parsed.rows` holds only the rows without
errors, so a caller imports a file only when `Parsed.errors` is empty.

No database here: cross-file checks (does a course's teacher exist?) belong to the importer.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Generic, Iterable, Iterator, TypeVar

from workflows.core.clock import ROC_OFFSET, taipei_date, utc_now
from workflows.school.course_code import CourseCode, CourseCodeError, parse_course_code
from workflows.core.numbers import whole
from workflows.people.personal_data import NationalIdError, mask_national_id, validate_national_id
from workflows.core.roles import (DIVISION_LABELS, ENROLMENT_STATUS_LABELS, ROLE_LABELS, Division,
                             EnrolmentStatus, Role)
from persistence.vocabulary import TRACK_LABELS, CertificationRoute

T = TypeVar("T")

EARLIEST_BIRTH_DATE = date(1990, 1, 1)

NOT_UTF8_MESSAGE = ("檔案不是 UTF-8 編碼（可能是 Big5），無法讀取。請在 Excel 選「另存新檔」，"
                    "存檔類型選「CSV UTF-8（逗號分隔）(*.csv)」後重新上傳")
REQUIRED = "必填欄位未填寫"


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class RowError:
    line: int
    field: str     # the column's zh-TW name; "" for an error about the whole file
    message: str

    def __str__(self) -> str:
        if self.field:
            return f"第 {self.line} 行「{self.field}」：{self.message}"
        return f"第 {self.line} 行：{self.message}"


@dataclass(frozen=True)
class Parsed(Generic[T]):
    rows: list[T]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return not self.errors

    def messages(self) -> list[str]:
        return [str(error) for error in self.errors]


@dataclass(frozen=True)
class StudentRow:
    student_no: str
    national_id: str = field(repr=False)  # personal data: never in a repr (logs, tracebacks)
    birth_date: date
    name: str
    class_name: str
    grade: int
    division: Division
    status: EnrolmentStatus
    guardian_name: str | None
    mailing_address: str | None
    email: str | None = None
    track: str | None = None  # 群別 of a grade-3 student: "academic" 學術群 / "professional" 專業群
    # Whether the file had a 群別 column: without one, the importer keeps the tracks on file.
    track_given: bool = field(default=False, compare=False)
    line: int = field(default=0, compare=False)

    @property
    def masked_national_id(self) -> str:
        return mask_national_id(self.national_id)


@dataclass(frozen=True)
class TeacherRow:
    staff_no: str
    name: str
    roles: frozenset[Role]
    homeroom_class: str | None
    email: str | None
    division: Division
    external: bool
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class CourseRow:
    academic_year: int
    semester: int
    code: CourseCode
    name: str
    teacher_no: str
    student_nos: tuple[str, ...]
    route: CertificationRoute
    line: int = field(default=0, compare=False)


# ---------------------------------------------------------------------------------------------
# Columns and the reading of a file


@dataclass(frozen=True)
class Column:
    key: str
    label: str                      # zh-TW, used in messages
    aliases: tuple[str, ...] = ()   # further accepted headers
    required: bool = True           # the column must be present


def _norm(text: str) -> str:
    """Compatibility-normalised, trimmed, case-folded: for matching headers and codes."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _header_key(text: str) -> str:
    return _norm(text.replace("\ufeff", "")).strip("*").strip()


STUDENT_COLUMNS = (
    Column("student_no", "學號"),
    Column("national_id", "身分證號", ("身分證字號", "身分證統一編號", "統一證號", "居留證號")),
    Column("birth_date", "出生日期", ("生日",)),
    Column("name", "姓名", ("學生姓名",)),
    Column("class_name", "班級"),
    Column("grade", "年級"),
    Column("division", "部別", required=False),
    Column("status", "學籍狀態", required=False),
    Column("guardian_name", "家長姓名", ("監護人姓名",), required=False),
    Column("mailing_address", "通訊地址", required=False),
    Column("email", "電子郵件", ("電子信箱", "e-mail"), required=False),
    Column("track", "群別", ("高三群別",), required=False),
)

TEACHER_COLUMNS = (
    Column("staff_no", "教職員編號", ("教師編號", "員工編號")),
    Column("name", "姓名"),
    Column("roles", "角色"),
    Column("homeroom_class", "導師班級", required=False),
    Column("email", "電子郵件", ("電子信箱", "e-mail"), required=False),
    Column("division", "部別", required=False),
    Column("external", "外校教師", required=False),
)

COURSE_COLUMNS = (
    Column("academic_year", "學年度"),
    Column("semester", "學期"),
    Column("code", "課程代碼"),
    Column("name", "課程名稱"),
    Column("teacher_no", "授課教師編號", ("教師編號",)),
    Column("student_nos", "修課學生", ("修課學生學號",), required=False),
    Column("route", "認證代理類別", required=False),
)


class _FileError(Exception):
    def __init__(self, error: RowError):
        super().__init__(str(error))
        self.error = error


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _FileError(RowError(line, "", NOT_UTF8_MESSAGE)) from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of every non-blank record; line = spreadsheet row number."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _FileError(RowError(line + 1, "", f"CSV 格式錯誤，無法讀取（{exc}）")) from None
        line += 1
        cells = [cell.strip() for cell in cells]
        if any(cells):
            yield line, cells


class Row:
    """One data row being checked: reads cells by column key and collects errors."""

    def __init__(self, line: int, cells: list[str], index: dict[str, int],
                 labels: dict[str, str], errors: list[RowError]):
        self.line = line
        self._cells = cells
        self._index = index
        self._labels = labels
        self._errors = errors
        self.failed = False

    def has(self, key: str) -> bool:
        """Whether the file has the column at all (an optional one may be absent)."""
        return key in self._index

    def get(self, key: str) -> str:
        position = self._index.get(key)
        if position is None or position >= len(self._cells):
            return ""
        return self._cells[position]

    def error(self, key: str, message: str) -> None:
        self.failed = True
        self._errors.append(RowError(self.line, self._labels[key], message))

    def required(self, key: str) -> str | None:
        value = self.get(key)
        if not value:
            self.error(key, REQUIRED)
            return None
        return value

    def text(self, key: str, max_chars: int, *, required: bool = True) -> str | None:
        value = self.required(key) if required else (self.get(key) or None)
        if value is not None and len(value) > max_chars:
            self.error(key, f"長度不可超過 {max_chars} 字，目前 {len(value)} 字")
            return None
        return value

    def convert(self, key: str, parse: Callable[[str], T], *, default: T | None = None,
                required: bool = True) -> T | None:
        """parse(value), turning its ValueError message into a row error."""
        value = self.get(key)
        if not value:
            if required:
                self.error(key, REQUIRED)
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.error(key, str(exc))
            return None


def parse_file(data: bytes, columns: tuple[Column, ...],
                build: Callable[[Row], T | None]) -> Parsed[T]:
    errors: list[RowError] = []
    try:
        records = _records(_decode(data))
        first = next(records, None)
        if first is None:
            return Parsed([], [RowError(1, "", "檔案沒有內容：第 1 行應為標題列")])
        header_line, header = first
        index, header_errors = _match_header(header_line, header, columns)
        if header_errors:
            return Parsed([], header_errors)
        labels = {column.key: column.label for column in columns}
        rows: list[T] = []
        for line, cells in records:
            row = Row(line, cells, index, labels, errors)
            built = build(row)
            if built is not None and not row.failed:
                rows.append(built)
    except _FileError as exc:
        return Parsed([], [*errors, exc.error])
    order = {column.label: position for position, column in enumerate(columns)}
    errors.sort(key=lambda error: (error.line, order.get(error.field, -1)))
    return Parsed(rows, errors)


def _match_header(line: int, header: list[str], columns: tuple[Column, ...]
                  ) -> tuple[dict[str, int], list[RowError]]:
    names: dict[str, Column] = {}
    for column in columns:
        for name in (column.key, column.label, *column.aliases):
            names[_header_key(name)] = column
    index: dict[str, int] = {}
    errors: list[RowError] = []
    for position, cell in enumerate(header):
        column = names.get(_header_key(cell))
        if column is None:
            continue  # unknown extra column
        if column.key in index:
            errors.append(RowError(line, column.label,
                                   f"欄位重複：第 {index[column.key] + 1} 欄與第 {position + 1} 欄"
                                   f"都是「{column.label}」，請只保留一欄"))
            continue
        index[column.key] = position
    missing = [column for column in columns if column.required and column.key not in index]
    if missing:
        listed = "、".join(f"「{column.label}」（{column.key}）" for column in missing)
        errors.insert(0, RowError(line, "", f"缺少必要欄位：{listed}"))
    return index, errors


# ---------------------------------------------------------------------------------------------
# Value parsers: each returns the value or raises ValueError with a zh-TW message


_STUDENT_NO = re.compile(r"[0-9A-Za-z]{1,20}")
_STAFF_NO = re.compile(r"[0-9A-Za-z_\-]{1,20}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_LIST_SEPARATORS = re.compile(r"[\s;；、,，]+")
_ROLE_SEPARATORS = re.compile(r"[\s;；、,，/／]+")


def parse_student_no(value: str) -> str:
    """學號 as the school writes it: 1–20 ASCII letters or digits."""
    if not _STUDENT_NO.fullmatch(value):
        raise ValueError(f"「{value}」應為 1–20 個半形英文字母或數字")
    return value


def _staff_no(value: str) -> str:
    if not _STAFF_NO.fullmatch(value):
        raise ValueError(f"「{value}」應為 1–20 個半形英文字母、數字、「-」或「_」")
    return value


_DATE_FORMS = (
    (re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"), 0),
    (re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日"), 0),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), 0),
    (re.compile(r"(\d{2,3})[-/.](\d{1,2})[-/.](\d{1,2})"), ROC_OFFSET),
    (re.compile(r"(?:民國)?(\d{2,3})年(\d{1,2})月(\d{1,2})日"), ROC_OFFSET),
    (re.compile(r"(\d{3})(\d{2})(\d{2})"), ROC_OFFSET),
)


def parse_date(value: str) -> date:
    """2008-05-12, 2008/5/12, 20080512, 2008年5月12日, ROC 97/05/12, 097/05/12, 0970512."""
    text = unicodedata.normalize("NFKC", value).strip()
    for pattern, offset in _DATE_FORMS:
        match = pattern.fullmatch(text)
        if match:
            year, month, day = (int(part) for part in match.groups())
            try:
                return date(year + offset, month, day)
            except ValueError:
                raise ValueError(f"「{value}」不是存在的日期") from None
    raise ValueError(f"「{value}」無法辨識；請填西元 2008-05-12、2008/5/12，"
                     "或民國 97/05/12、0970512")


def _birth_date(value: str) -> date:
    day = parse_date(value)
    today = taipei_date(utc_now())
    if day < EARLIEST_BIRTH_DATE:
        raise ValueError(f"「{value}」（{day.isoformat()}）早於 {EARLIEST_BIRTH_DATE.isoformat()}，"
                         "請確認是否填錯")
    if day > today:
        raise ValueError(f"「{value}」（{day.isoformat()}）晚於今天，請確認是否填錯")
    return day


def lookup(table: dict[str, T], value: str, what: str, accepted: Iterable[str]) -> T:
    """The value a `lookup_table` holds for one of its accepted spellings; ValueError naming `what`
    and the `accepted` spellings otherwise."""
    found = table.get(_norm(value).replace(" ", ""))
    if found is None:
        raise ValueError(f"「{value}」不是有效的{what}；請填 {'、'.join(accepted)}")
    return found


def lookup_table(pairs: Iterable[tuple[str, T]]) -> dict[str, T]:
    """Spelling → value, the spellings matched as `lookup` reads a cell (NFKC, case and spaces ignored)."""
    return {_norm(key).replace(" ", ""): value for key, value in pairs}


_GRADES = lookup_table(
    [(str(n), n) for n in (1, 2, 3)]
    + [(f"0{n}", n) for n in (1, 2, 3)]
    + [(form, n) for n, zh in ((1, "一"), (2, "二"), (3, "三"))
       for form in (zh, f"高{zh}", f"{zh}年級", f"{n}年級", f"高{n}")]
)

_DIVISIONS = lookup_table(
    [(d.value, d) for d in Division] + [(label, d) for d, label in DIVISION_LABELS.items()]
    + [("日", Division.DAY), ("日間", Division.DAY), ("進", Division.CONTINUING),
       ("進修", Division.CONTINUING)]
)

_STATUSES = lookup_table(
    [(s.value, s) for s in EnrolmentStatus]
    + [(label, s) for s, label in ENROLMENT_STATUS_LABELS.items()]
)

_ROLES = lookup_table(
    [(r.value, r) for r in Role] + [(label, r) for r, label in ROLE_LABELS.items()]
    + [("任課", Role.SUBJECT_TEACHER), ("任課老師", Role.SUBJECT_TEACHER),
       ("導師", Role.HOMEROOM_TEACHER),
       ("註冊", Role.REGISTRY), ("教學", Role.TEACHING_SECTION),
       ("設備", Role.EQUIPMENT_SECTION), ("訓育", Role.STUDENT_ACTIVITIES),
       ("輔導", Role.COUNSELLING), ("課諮", Role.COURSE_CONSULTANT),
       ("課諮教師", Role.COURSE_CONSULTANT), ("課程諮詢老師", Role.COURSE_CONSULTANT),
       ("體育", Role.PE_MUSIC_GROUP), ("音樂", Role.PE_MUSIC_GROUP),
       ("體育組", Role.PE_MUSIC_GROUP), ("音樂組", Role.PE_MUSIC_GROUP),
       ("教務主任", Role.EXECUTIVE_SECRETARY), ("執行秘書", Role.EXECUTIVE_SECRETARY),
       ("校長", Role.PRINCIPAL), ("召集人", Role.PRINCIPAL),
       ("管理者", Role.ADMIN), ("平臺管理者", Role.ADMIN), ("平台管理者", Role.ADMIN),
       ("登錄人", Role.GRADE_OFFICER), ("成績登錄", Role.GRADE_OFFICER), ("成績登錄負責人", Role.GRADE_OFFICER)]
)
# Labels that contain a role separator are read whole before the cell is split.
_ROLES_WITH_SEPARATOR = {_norm(label): role for role, label in ROLE_LABELS.items()
                         if _ROLE_SEPARATORS.search(_norm(label))}

_BOOLEANS = lookup_table(
    [(word, True) for word in ("是", "Y", "yes", "true", "1", "T")]
    + [(word, False) for word in ("否", "N", "no", "false", "0", "F")]
)

_SEMESTERS = lookup_table(
    [(form, n) for n, zh, half in ((1, "一", "上"), (2, "二", "下"))
     for form in (str(n), zh, half, f"{half}學期", f"第{n}學期", f"第{zh}學期")]
)

_ROUTES = lookup_table(
    [(r.value, r) for r in CertificationRoute] + [(r.label, r) for r in CertificationRoute]
    + [("校內", CertificationRoute.IN_SCHOOL), ("本校", CertificationRoute.IN_SCHOOL),
       ("外校", CertificationRoute.EXTERNAL_MULTI_ELECTIVE),
       ("體育專長", CertificationRoute.PE_MUSIC_SPECIALTY),
       ("音樂專長", CertificationRoute.PE_MUSIC_SPECIALTY)]
)


GRADE12 = 3  # 高三: the only grade with a 群別
_TRACKS = lookup_table(
    [(code, code) for code in TRACK_LABELS] + [(label, code) for code, label in TRACK_LABELS.items()]
    + [("學術", "academic"), ("專業", "professional")]
)


def _track(value: str) -> str:
    return lookup(_TRACKS, value, "群別", (*TRACK_LABELS.values(), "academic", "professional（或留空）"))


def parse_grade(value: str) -> int:
    """年級: 1–3, also 01, 一, 高一, 一年級, 1年級, 高1."""
    return lookup(_GRADES, value, "年級", ("1", "2", "3（或 高一、高二、高三）"))


def _division(value: str) -> Division:
    return lookup(_DIVISIONS, value, "部別", DIVISION_LABELS.values())


def _status(value: str) -> EnrolmentStatus:
    return lookup(_STATUSES, value, "學籍狀態", ENROLMENT_STATUS_LABELS.values())


def parse_boolean(value: str) -> bool:
    """是/否, Y/N, yes/no, true/false, 1/0, T/F."""
    return lookup(_BOOLEANS, value, "值", ("是", "否", "Y", "N"))


def parse_semester(value: str) -> int:
    """學期 1 or 2, also 一/二, 上/下, 上學期, 第1學期, 第一學期."""
    return lookup(_SEMESTERS, value, "學期", ("1", "2（或 上、下）"))


def _route(value: str) -> CertificationRoute:
    return lookup(_ROUTES, value, "認證代理類別", CertificationRoute.labels().values())


def parse_academic_year(value: str) -> int:
    """學年度 in the ROC calendar, 100–199: 114 or 114學年度 (full-width digits too)."""
    text = unicodedata.normalize("NFKC", value).strip().removesuffix("學年度").strip()
    year = whole(text, signed=False, beyond=200)
    if year is None or not 100 <= year <= 199:
        raise ValueError(f"「{value}」不是有效的學年度；請填民國 100–199（例如 114）")
    return year


def _roles(value: str) -> frozenset[Role]:
    text = _norm(value)
    found: list[Role] = []
    for label, role in _ROLES_WITH_SEPARATOR.items():
        if label in text:
            found.append(role)
            text = text.replace(label, " ")
    unknown: list[str] = []
    for token in _ROLE_SEPARATORS.split(text):
        if not token:
            continue
        role = _ROLES.get(token)
        if role is None:
            unknown.append(token)
        else:
            found.append(role)
    if unknown:
        names = "、".join(f"「{token}」" for token in unknown)
        raise ValueError(f"{names}不是可辨識的角色；可填：{'、'.join(ROLE_LABELS.values())}")
    if not found:
        raise ValueError(REQUIRED)
    return frozenset(found)


def _email(value: str) -> str:
    if len(value) > 200 or not _EMAIL.fullmatch(value):
        raise ValueError(f"「{value}」不是有效的電子郵件地址")
    return value


def _student_list(value: str) -> tuple[str, ...]:
    tokens = [token for token in _LIST_SEPARATORS.split(value) if token]
    bad = [token for token in tokens if not _STUDENT_NO.fullmatch(token)]
    if bad:
        names = "、".join(f"「{token}」" for token in bad)
        raise ValueError(f"{names}不是有效的學號（應為 1–20 個半形英文字母或數字）；"
                         "多位學生請以空白、「;」或「、」分隔")
    return tuple(dict.fromkeys(tokens))


class _Seen:
    """First line on which each key appeared, for "duplicate of line n" errors."""

    def __init__(self) -> None:
        self._lines: dict[object, int] = {}

    def check(self, key: object, line: int) -> int | None:
        """The earlier line holding `key`, or None (and `key` is remembered at `line`)."""
        earlier = self._lines.get(key)
        if earlier is None:
            self._lines[key] = line
        return earlier


# ---------------------------------------------------------------------------------------------
# The three files


def parse_students(data: bytes) -> Parsed[StudentRow]:
    """學生名冊: one row per student. The optional 群別 (學術群 / 專業群) is for grade-3 students
    only: it decides which grade-12 batches carry them."""
    numbers, ids = _Seen(), _Seen()

    def build(row: Row) -> StudentRow | None:
        student_no = row.convert("student_no", parse_student_no)
        national_id = row.get("national_id")
        if not national_id:
            row.error("national_id", REQUIRED)
        else:
            try:
                national_id = validate_national_id(national_id)
            except NationalIdError as exc:
                row.error("national_id", exc.message)
                national_id = ""
        birth_date = row.convert("birth_date", _birth_date)
        name = row.text("name", 40)
        class_name = row.text("class_name", 10)
        grade = row.convert("grade", parse_grade)
        division = row.convert("division", _division, default=Division.DAY, required=False)
        status = row.convert("status", _status, default=EnrolmentStatus.ENROLLED, required=False)
        guardian_name = row.text("guardian_name", 40, required=False)
        mailing_address = row.text("mailing_address", 200, required=False)
        email = row.convert("email", _email, required=False)
        track = row.convert("track", _track, required=False)
        if track is not None and grade is not None and grade != GRADE12:
            row.error("track", f"群別只適用三年級（高三）學生；此列年級為 {grade}，請留空")

        if student_no:
            earlier = numbers.check(student_no.upper(), row.line)
            if earlier is not None:
                row.error("student_no", f"學號「{student_no}」與第 {earlier} 行重複")
        if national_id:
            earlier = ids.check(national_id, row.line)
            if earlier is not None:
                row.error("national_id", f"身分證號「{mask_national_id(national_id)}」"
                                         f"與第 {earlier} 行重複")
        if row.failed:
            return None
        return StudentRow(student_no=student_no, national_id=national_id, birth_date=birth_date,
                          name=name, class_name=class_name, grade=grade, division=division,
                          status=status, guardian_name=guardian_name,
                          mailing_address=mailing_address, email=email, track=track,
                          track_given=row.has("track"), line=row.line)

    return parse_file(data, STUDENT_COLUMNS, build)


def parse_teachers(data: bytes) -> Parsed[TeacherRow]:
    """教職員名冊: teachers and staff with their roles."""
    numbers, homerooms = _Seen(), _Seen()
    homeroom_names: dict[str, str] = {}

    def build(row: Row) -> TeacherRow | None:
        staff_no = row.convert("staff_no", _staff_no)
        name = row.text("name", 40)
        roles = row.convert("roles", _roles)
        homeroom_class = row.text("homeroom_class", 10, required=False)
        email = row.convert("email", _email, required=False)
        division = row.convert("division", _division, default=Division.DAY, required=False)
        external = row.convert("external", parse_boolean, default=False, required=False)

        if roles is not None:
            if Role.HOMEROOM_TEACHER in roles and not row.get("homeroom_class"):
                row.error("homeroom_class", "角色含「導師」，須填寫導師班級")
            elif Role.HOMEROOM_TEACHER not in roles and row.get("homeroom_class"):
                row.error("homeroom_class",
                          f"角色不含「導師」，不應填寫導師班級「{row.get('homeroom_class')}」")
        if staff_no:
            earlier = numbers.check(staff_no.upper(), row.line)
            if earlier is not None:
                row.error("staff_no", f"教職員編號「{staff_no}」與第 {earlier} 行重複")
        if homeroom_class and roles is not None and Role.HOMEROOM_TEACHER in roles:
            key = _norm(homeroom_class)
            earlier = homerooms.check(key, row.line)
            if earlier is None:
                homeroom_names[key] = name or ""
            else:
                row.error("homeroom_class",
                          f"班級「{homeroom_class}」的導師已在第 {earlier} 行指定"
                          f"（{homeroom_names[key]}），一班只能有一位導師")
        if row.failed:
            return None
        return TeacherRow(staff_no=staff_no, name=name, roles=roles,
                          homeroom_class=homeroom_class, email=email, division=division,
                          external=external, line=row.line)

    return parse_file(data, TEACHER_COLUMNS, build)


def parse_courses(data: bytes, *, school_code: str | None = None) -> Parsed[CourseRow]:
    """開課清單: one row per course and teacher; course codes must carry `school_code`."""
    offerings = _Seen()

    def code_of(value: str) -> CourseCode:
        try:
            return parse_course_code(value, school_code=school_code)
        except CourseCodeError as exc:
            raise ValueError(exc.message) from None

    def build(row: Row) -> CourseRow | None:
        academic_year = row.convert("academic_year", parse_academic_year)
        semester = row.convert("semester", parse_semester)
        code = row.convert("code", code_of)
        name = row.text("name", 60)
        teacher_no = row.convert("teacher_no", _staff_no)
        student_nos = row.convert("student_nos", _student_list, default=(), required=False)
        route = row.convert("route", _route, default=CertificationRoute.IN_SCHOOL,
                            required=False)

        if None not in (academic_year, semester, code, teacher_no):
            earlier = offerings.check((academic_year, semester, code.code, teacher_no.upper()),
                                      row.line)
            if earlier is not None:
                row.error("code", f"{academic_year} 學年度第 {semester} 學期課程「{code.code}」"
                                  f"由教師「{teacher_no}」授課，與第 {earlier} 行重複")
        if row.failed:
            return None
        return CourseRow(academic_year=academic_year, semester=semester, code=code, name=name,
                         teacher_no=teacher_no, student_nos=student_nos, route=route,
                         line=row.line)

    return parse_file(data, COURSE_COLUMNS, build)
