"""Cadre records 幹部紀錄: a student's position in one semester — school level (校級: 學生會會長),
class level (班級: 301 班班長) or club level (社團: 熱音社社長) — with its unit, title and dates.
The student-activities section (訓育組), or its proxy while it is unavailable, enters and corrects
them one by one or from a CSV file; every change is audited; the semester batch carries them.

The first part of this module is what every kind an office enters shares (grades.py uses it
too): a value typed in a form, passed by a caller or read from a CSV cell goes through the same
parser, so the same mistake gets the same words everywhere; enter, correct, delete, list and
import work on a `RecordKind` that names the kind's table, fields, identity and rules.
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Callable

from sqlalchemy.exc import IntegrityError

from persistence.tables import CadreRecord, Student
from persistence.vocabulary import CadreLevel
from workflows.core import spreadsheet_text
from workflows.core.actors import Actor
from workflows.school.csv_rows import (Column, Parsed, Row, RowError, lookup, lookup_table, parse_academic_year,
                                       parse_date, parse_file, parse_semester, parse_student_no)
from workflows.core.errors import Conflict, DomainError, Forbidden, InvalidInput, RuleViolation
from workflows.core.numbers import whole
from workflows.records.common import (CADRE, LABELS, apply_changes, audit, forbid_students,
                                      require_owner, require_reader, require_student,
                                      require_version, students_by_no)
from workflows.items.rules import REASON_MAX, text_field
from workflows.core.unit_of_work import UnitOfWork, now_or

# =============================================================================================
# Shared by every kind an office enters


class LimitError(ValueError):
    """A value beyond a limit, or two values that break a rule together: a row error in a file,
    a RuleViolation naming the rule and the limit when entered directly."""

    def __init__(self, message: str, *, rule: str, limit=None):
        super().__init__(message)
        self.rule, self.limit = rule, limit


@dataclass(frozen=True)
class Field:
    key: str                              # the table's column
    label: str                            # zh-TW: CSV header, form label, audit reason
    parse: Callable[[str], object]        # text → value, or ValueError in zh-TW
    required: bool = True                 # the value; a required value's column is required too
    aliases: tuple[str, ...] = ()         # further CSV headers accepted
    show: Callable[[object], str] = str   # how an audit reason shows a value


def text(max_chars: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_chars:
            raise LimitError(f"長度不可超過 {max_chars} 字，目前 {len(value)} 字",
                             rule="text_too_long", limit=max_chars)
        return value
    return parse


def whole_number(low: int, high: int, *, rule: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = whole(unicodedata.normalize("NFKC", value), beyond=high + 1)
        if number is None:
            raise ValueError(f"「{value}」須為 {low}–{high} 的整數")
        if not low <= number <= high:
            raise LimitError(f"「{value}」超出範圍，須為 {low}–{high}", rule=rule, limit=f"{low}–{high}")
        return number
    return parse


def show_date(day: date) -> str:
    return day.isoformat()


STUDENT_NO = Column("student_no", "學號")


@dataclass(frozen=True)
class RecordKind:
    """What the shared operations need to know of one kind of record."""

    name: str                       # common.CADRE, common.GRADE ...
    model: type
    fields: tuple[Field, ...]       # what is entered besides the student
    key: tuple[str, ...]            # with the student: what makes two rows the same record
    key_label: str                  # the key in words, for the duplicate-row message
    rules: Callable[[dict], list[tuple[str, LimitError]]]  # rules between fields
    summary: Callable[[object], str]  # a record in one line, for audit reasons

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    @property
    def columns(self) -> tuple[Column, ...]:
        return (STUDENT_NO, *(Column(f.key, f.label, f.aliases, required=f.required) for f in self.fields))

    def csv_template(self) -> bytes:
        """The file a clerk fills in: the header row, UTF-8 with a BOM so Excel reads it as such."""
        return spreadsheet_text.csv_template(c.label for c in self.columns)


@dataclass(frozen=True)
class Listed:
    """A record as a page shows it: with its student's number, name and class."""

    record: object
    student_no: str
    student_name: str
    class_name: str


@dataclass(frozen=True)
class Correction:
    record: object
    changes: list[str]  # 「欄位：舊 → 新」; empty when nothing differed (nothing stored, no audit)

    @property
    def message(self) -> str:
        if not self.changes:
            return "沒有任何欄位與原本不同，紀錄未修改。"
        return "已更正：" + "；".join(self.changes)


@dataclass
class ImportCounts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def message(self) -> str:
        return f"匯入完成：新增 {self.added} 筆、更新 {self.updated} 筆、與原資料相同 {self.unchanged} 筆。"


class RowsRejected(DomainError):
    """A file with bad rows: every error by line and field; nothing was imported."""

    status = 422
    code = "import_rejected"

    def __init__(self, label: str, errors: list[RowError]):
        super().__init__(f"{label}檔案有 {len(errors)} 個錯誤，整份檔案未匯入；請修正後重新上傳。",
                         errors=[str(e) for e in errors])
        self.errors = errors


@dataclass(frozen=True)
class Line:
    """A good row of a file."""

    line: int
    student_no: str
    values: dict = field(hash=False)


def value_of(f: Field, raw) -> object:
    """One value from a form or a caller, parsed as its CSV cell would be."""
    typed = "" if raw is None else str(raw).strip()
    if not typed:
        if f.required:
            raise InvalidInput(f"請填寫{f.label}。", field=f.key)
        return None
    try:
        return f.parse(typed)
    except LimitError as error:
        raise RuleViolation(f"{f.label}：{error}", rule=error.rule, field=f.key, limit=error.limit) from None
    except ValueError as error:
        raise InvalidInput(f"{f.label}：{error}", field=f.key) from None


def _entered(kind: RecordKind, raw: dict) -> dict:
    unknown = set(raw) - {f.key for f in kind.fields}
    if unknown:
        raise TypeError(f"{kind.name} has no field {', '.join(sorted(unknown))}")
    return {f.key: value_of(f, raw[f.key]) for f in kind.fields if f.key in raw}


def _require_rules(kind: RecordKind, values: dict) -> None:
    for key, problem in kind.rules(values):
        raise RuleViolation(f"{kind.field(key).label}：{problem}", rule=problem.rule, field=key,
                            limit=problem.limit)


def _same_record(uow: UnitOfWork, kind: RecordKind, student_id: int, values: dict, *, besides: int | None = None):
    model = kind.model
    query = uow.select(model).where(model.student_id == student_id,
                                    *(getattr(model, key) == values[key] for key in kind.key))
    if besides is not None:
        query = query.where(model.id != besides)
    return uow.session.scalars(query).first()


def _require_unique(uow: UnitOfWork, kind: RecordKind, student: Student, values: dict, *,
                    besides: int | None = None) -> None:
    other = _same_record(uow, kind, student.id, values, besides=besides)
    if other is not None:
        raise RuleViolation(f"{student.name}（{student.student_no}）已有同一{kind.key_label}的{kind.label}"
                            f"（編號 {other.id}：{kind.summary(other)}）；要修改請更正那一筆。",
                            rule="one_record_per_key", field=kind.key[-1], existing_id=other.id)


def _save(uow: UnitOfWork, kind: RecordKind, *, commit: bool = True) -> None:
    """Flush or commit; two clerks entering the same record at once: the second hears so (the
    unique key refuses his row), nothing is lost."""
    try:
        uow.commit() if commit else uow.flush()
    except IntegrityError:
        uow.session.rollback()
        raise Conflict(f"同一筆{kind.label}剛由其他人登錄；請重新整理頁面後再確認，你的操作沒有生效。") from None


def _student(uow: UnitOfWork, student_id: int | None, student_no: str | None) -> Student:
    if student_id is not None:
        return require_student(uow, student_id)
    number = (student_no or "").strip()
    if not number:
        raise InvalidInput("請填寫學號。", field="student_no")
    student = students_by_no(uow, [number]).get(number)
    if student is None:
        raise InvalidInput(f"學號：找不到學號「{number}」的學生。", field="student_no")
    return student


def _apply(kind: RecordKind, record, values: dict) -> list[str]:
    changes = []
    for key, value in values.items():
        f = kind.field(key)
        changes += apply_changes(record, {key: value}, {key: f.label}, f.show)
    return changes


def enter(uow: UnitOfWork, actor: Actor, kind: RecordKind, *, student_id: int | None,
          student_no: str | None, raw: dict, now: datetime | None) -> object:
    now = now_or(now)
    forbid_students(actor)
    acting = require_owner(uow, actor, kind.name, "登錄", now=now)
    student = _student(uow, student_id, student_no)
    values = _entered(kind, raw)
    _require_rules(kind, values)
    _require_unique(uow, kind, student, values)
    record = kind.model(school_id=uow.school_id, student_id=student.id, created_at=now, updated_at=now,
                        **values)
    uow.session.add(record)
    _save(uow, kind, commit=False)
    audit(uow, kind.name, record, event="enter", actor=acting, at=now, reason=kind.summary(record))
    _save(uow, kind)
    return record


def correct(uow: UnitOfWork, actor: Actor, kind: RecordKind, record_id: int, *,
            expected_version: int | None, raw: dict, now: datetime | None) -> Correction:
    now = now_or(now)
    forbid_students(actor)
    acting = require_owner(uow, actor, kind.name, "更正", now=now)
    record = uow.get(kind.model, record_id, for_update=True, what=kind.label)
    require_version(record, expected_version, kind.name)
    values = _entered(kind, raw)
    merged = {f.key: getattr(record, f.key) for f in kind.fields} | values
    _require_rules(kind, merged)
    _require_unique(uow, kind, require_student(uow, record.student_id), merged, besides=record.id)
    changes = _apply(kind, record, values)
    if not changes:
        return Correction(record, [])
    record.updated_at = now
    audit(uow, kind.name, record, event="correct", actor=acting, at=now, reason="；".join(changes))
    _save(uow, kind)
    return Correction(record, changes)


def delete(uow: UnitOfWork, actor: Actor, kind: RecordKind, record_id: int, *,
           expected_version: int | None, reason: str | None, now: datetime | None) -> None:
    now = now_or(now)
    forbid_students(actor)
    acting = require_owner(uow, actor, kind.name, "刪除", now=now)
    record = uow.get(kind.model, record_id, for_update=True, what=kind.label)
    require_version(record, expected_version, kind.name)
    why = text_field(reason, field="reason", label="刪除原因", max_chars=REASON_MAX, required=True)
    # The row goes; its audit row keeps what it said.
    audit(uow, kind.name, record, event="delete", actor=acting, at=now,
          reason=f"{why}（刪除的紀錄：{kind.summary(record)}）")
    uow.session.delete(record)
    uow.commit()


def listing(uow: UnitOfWork, actor: Actor, kind: RecordKind, *, academic_year, semester,
            class_name: str | None, order: tuple, now: datetime | None) -> list[Listed]:
    require_reader(uow, actor, kind.name, now=now)
    year = value_of(kind.field("academic_year"), academic_year)
    term = value_of(kind.field("semester"), semester)
    model = kind.model
    query = (uow.select(model).add_columns(Student.student_no, Student.name, Student.class_name)
             .join(Student, (Student.school_id == model.school_id) & (Student.id == model.student_id))
             .where(model.academic_year == year, model.semester == term))
    if class_name and class_name.strip():
        query = query.where(Student.class_name == class_name.strip())
    query = query.order_by(Student.class_name, Student.student_no, *order, model.id)
    return [Listed(record, no, name, class_) for record, no, name, class_ in uow.session.execute(query)]


def one(uow: UnitOfWork, actor: Actor, kind: RecordKind, record_id: int, *, now: datetime | None) -> Listed:
    require_reader(uow, actor, kind.name, now=now)
    record = uow.get(kind.model, record_id, what=kind.label)
    student = require_student(uow, record.student_id)
    return Listed(record, student.student_no, student.name, student.class_name)


def may_enter(uow: UnitOfWork, actor: Actor, kind: RecordKind, *, now: datetime | None) -> bool:
    """Whether the enter, correct and import forms are for this person."""
    try:
        forbid_students(actor)
        require_owner(uow, actor, kind.name, "登錄", now=now)
    except Forbidden:
        return False
    return True


def parse_csv(kind: RecordKind, data: bytes) -> Parsed[Line]:
    """Every row checked on its own and against the rows above it; no database here."""
    seen: dict[tuple, int] = {}

    def build(row: Row) -> Line | None:
        student_no = row.convert("student_no", parse_student_no)
        values = {f.key: row.convert(f.key, f.parse, required=f.required) for f in kind.fields}
        if row.failed:
            return None  # rules between fields need every value
        for key, problem in kind.rules(values):
            row.error(key, str(problem))
        if row.failed:
            return None
        earlier = seen.setdefault((student_no, *(values[k] for k in kind.key)), row.line)
        if earlier != row.line:
            row.error("student_no", f"與第 {earlier} 行是同一筆紀錄（同一學生、{kind.key_label}），請只保留一行")
            return None
        return Line(row.line, student_no, values)

    return parse_file(data, kind.columns, build)


def import_csv(uow: UnitOfWork, actor: Actor, kind: RecordKind, data: bytes, *,
               now: datetime | None) -> ImportCounts:
    """A file with any bad row imports nothing. A row naming a record already there (same
    student and key) corrects it; the same file twice changes nothing and audits nothing."""
    now = now_or(now)
    forbid_students(actor)
    acting = require_owner(uow, actor, kind.name, "匯入", now=now)
    parsed = parse_csv(kind, data)
    students = students_by_no(uow, [line.student_no for line in parsed.rows])
    errors = [*parsed.errors, *(RowError(line.line, STUDENT_NO.label, f"找不到學號「{line.student_no}」的學生")
                                for line in parsed.rows if line.student_no not in students)]
    if errors:
        order = {column.label: n for n, column in enumerate(kind.columns)}
        raise RowsRejected(kind.label, sorted(errors, key=lambda e: (e.line, order.get(e.field, -1))))

    file_hash = hashlib.sha256(data).hexdigest()
    model = kind.model
    existing = {(r.student_id, *(getattr(r, k) for k in kind.key)): r for r in uow.session.scalars(
        uow.select(model).where(model.student_id.in_({s.id for s in students.values()}),
                                model.academic_year.in_({line.values["academic_year"] for line in parsed.rows})))}
    counts = ImportCounts()
    for line in parsed.rows:
        student = students[line.student_no]
        record = existing.get((student.id, *(line.values[k] for k in kind.key)))
        if record is None:
            record = model(school_id=uow.school_id, student_id=student.id, created_at=now, updated_at=now,
                           **line.values)
            uow.session.add(record)
            _save(uow, kind, commit=False)
            audit(uow, kind.name, record, event="import", actor=acting, at=now,
                  reason=f"匯入第 {line.line} 行：{kind.summary(record)}", file_hash=file_hash)
            counts.added += 1
            continue
        changes = _apply(kind, record, line.values)
        if changes:
            record.updated_at = now
            audit(uow, kind.name, record, event="correct", actor=acting, at=now,
                  reason=f"匯入第 {line.line} 行更正：" + "；".join(changes), file_hash=file_hash)
            counts.updated += 1
        else:
            counts.unchanged += 1
    _save(uow, kind)
    return counts


# =============================================================================================
# Cadre records

LEVELS = CadreLevel.labels()
UNIT_MAX, POSITION_MAX = 60, 40

_LEVELS = lookup_table([(code, code) for code in LEVELS] + [(label, code) for code, label in LEVELS.items()]
                 + [(f"{label}幹部", code) for code, label in LEVELS.items()])


def _level(value: str) -> str:
    return lookup(_LEVELS, value, "幹部層級", [*LEVELS.values(), *LEVELS])


def _ends_not_before_start(values: dict) -> list[tuple[str, LimitError]]:
    starts, ends = values.get("starts_on"), values.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        return [("ends_on", LimitError(f"{ends.isoformat()} 早於起始日期 {starts.isoformat()}；"
                                       "結束日期須在起始日期當天或之後",
                                       rule="ends_on_not_before_starts_on", limit=starts.isoformat()))]
    return []


def _summary(record: CadreRecord) -> str:
    until = f"至 {record.ends_on.isoformat()}" if record.ends_on else "起"
    return (f"{record.academic_year} 學年度第 {record.semester} 學期 {LEVELS.get(record.level, record.level)} "
            f"{record.unit} {record.position}（{record.starts_on.isoformat()} {until}）")


FIELDS = (
    Field("academic_year", "學年度", parse_academic_year),
    Field("semester", "學期", parse_semester),
    Field("level", "幹部層級", _level, aliases=("層級",), show=lambda code: LEVELS.get(code, code)),
    Field("unit", "單位", text(UNIT_MAX), aliases=("幹部單位",)),
    Field("position", "職稱", text(POSITION_MAX), aliases=("幹部職稱", "職務")),
    Field("starts_on", "起始日期", parse_date, aliases=("開始日期", "任期起始"), show=show_date),
    Field("ends_on", "結束日期", parse_date, required=False, aliases=("任期結束",), show=show_date),
)
KIND = RecordKind(CADRE, CadreRecord, FIELDS, key=("academic_year", "semester", "unit", "position"),
                  key_label="學年度、學期、單位與職稱", rules=_ends_not_before_start, summary=_summary)
EDITABLE = tuple(f.key for f in FIELDS)


def enter_cadre(uow: UnitOfWork, actor: Actor, *, student_id: int | None = None, student_no: str | None = None,
                academic_year, semester, level, unit, position, starts_on, ends_on=None,
                now: datetime | None = None) -> CadreRecord:
    """Enter one cadre record for the student (by id, or by 學號 as a form gives it). Values may
    be typed or text as a clerk writes it (114, 上, 校級, 2025-09-01 or 114/09/01)."""
    return enter(uow, actor, KIND, student_id=student_id, student_no=student_no, now=now,
                 raw=dict(academic_year=academic_year, semester=semester, level=level, unit=unit,
                          position=position, starts_on=starts_on, ends_on=ends_on))


def correct_cadre(uow: UnitOfWork, actor: Actor, record_id: int, *, expected_version: int | None,
                  now: datetime | None = None, **fields) -> Correction:
    """Change the given fields (EDITABLE); a blank ends_on clears it. The audit reason lists
    「欄位：舊 → 新」; when nothing differs nothing is stored and `changes` is empty."""
    return correct(uow, actor, KIND, record_id, expected_version=expected_version, raw=fields, now=now)


def delete_cadre(uow: UnitOfWork, actor: Actor, record_id: int, *, expected_version: int | None,
                 reason: str, now: datetime | None = None) -> None:
    delete(uow, actor, KIND, record_id, expected_version=expected_version, reason=reason, now=now)


def list_cadre(uow: UnitOfWork, actor: Actor, *, academic_year, semester, class_name: str | None = None,
               now: datetime | None = None) -> list[Listed]:
    """The term's cadre records, by class and student number."""
    return listing(uow, actor, KIND, academic_year=academic_year, semester=semester, class_name=class_name,
                   order=(CadreRecord.level, CadreRecord.unit), now=now)


def get_cadre(uow: UnitOfWork, actor: Actor, record_id: int, *, now: datetime | None = None) -> Listed:
    return one(uow, actor, KIND, record_id, now=now)


def may_enter_cadre(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> bool:
    return may_enter(uow, actor, KIND, now=now)


def parse_cadre_csv(data: bytes) -> Parsed[Line]:
    return parse_csv(KIND, data)


def import_cadre_csv(uow: UnitOfWork, actor: Actor, data: bytes, *, now: datetime | None = None) -> ImportCounts:
    """Columns 學號, 學年度, 學期, 幹部層級, 單位, 職稱, 起始日期, 結束日期 (docs/records.md)."""
    return import_csv(uow, actor, KIND, data, now=now)


def cadre_csv_template() -> bytes:
    return KIND.csv_template()
