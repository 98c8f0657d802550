"""The records engine: enter, correct, delete, list and import for every kind of staff-entered
record (cadre.py, grades.py, consultation.py, exploration.py). A value typed in a form, passed by
a caller or read from a CSV cell goes through its field's parser, so the same mistake gets the
same words everywhere; every change is audited; a file with any bad row imports nothing.

A kind is a `RecordKind`: its table, its fields, what makes two rows the same record, the rules
between fields and who keeps its records. The kinds differ only there: a field may be more than
text (a Taipei moment given as a date and a time, an attached file kept on the store), a table
may hold several records per key (consultation, exploration), and each consultant keeps his own
consultation records where the other kinds belong to an office (`Keepers`).
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from sqlalchemy.exc import IntegrityError

from persistence.tables import Student
from workflows.core import spreadsheet_text
from workflows.core.clock import now_or
from workflows.core.actors import Actor
from workflows.core.errors import Conflict, DomainError, Forbidden, InvalidInput, RuleViolation
from workflows.core.guards import require_current
from workflows.core.numbers import whole
from workflows.core.unit_of_work import UnitOfWork
from workflows.core.fields import REASON_MAX, text_field
from workflows.records.common import (LABELS, audit, forbid_students, require_owner, require_reader,
                                      require_student, students_by_no)
from workflows.school.csv_rows import Column, Parsed, Row, RowError, parse_file, parse_student_no

STUDENT_NO = Column("student_no", "學號")


class LimitError(ValueError):
    """A value beyond a limit, or two values that break a rule together: a row error in a file,
    a RuleViolation naming the rule and the limit when entered directly."""

    def __init__(self, message: str, *, rule: str, limit=None):
        super().__init__(message)
        self.rule, self.limit = rule, limit


@dataclass(frozen=True)
class Field:
    """One thing a kind's records say, as a form, a caller and a CSV file give it."""

    key: str                              # the caller's keyword; the table's column unless `stored` says
    label: str                            # zh-TW: CSV header, form label, audit reason
    parse: Callable[..., object] | None   # text → value, or ValueError in zh-TW; None: not in a file
    required: bool = True                 # the value; a required value's column is required too
    aliases: tuple[str, ...] = ()         # further CSV headers accepted
    show: Callable[[object], str] = str   # how an audit reason shows a value
    blank: object = None                  # what a blank optional value is
    accept: Callable[[object], object] | None = None  # a caller's value that is more than text
    check: Callable[[object, datetime], LimitError | None] | None = None  # the value against the clock
    cells: tuple[Field, ...] = ()         # a value a file gives in several columns: parse(*their values)
    keep: Callable[[UnitOfWork, object], object] | None = None  # a checked value made lasting (a file stored)
    stored: Callable[[object], dict] | None = None  # the columns a value sets, when more than its own
    read: Callable[[object], object] | None = None  # the value a record holds, when not one column

    @property
    def column(self) -> str:
        """The file column a row error about this value goes to."""
        return self.cells[0].key if self.cells else self.key


def _text(max_chars: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_chars:
            raise LimitError(f"長度不可超過 {max_chars} 字，目前 {len(value)} 字",
                             rule="text_too_long", limit=max_chars)
        return value
    return parse


def text_of(key: str, label: str, max_chars: int, *, required: bool = True, aliases: tuple[str, ...] = ()) -> Field:
    """A text of at most `max_chars`: a form or caller hears the words every text limit uses
    (core.fields.text_field), a file row csv_rows' own; blank and optional, it is ""."""
    def accept(raw) -> str:
        return text_field(None if raw is None else str(raw), field=key, label=label, max_chars=max_chars,
                          required=required)
    return Field(key, label, _text(max_chars), required, aliases, blank="", accept=accept)


def whole_number(low: int, high: int, *, rule: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = whole(unicodedata.normalize("NFKC", value), beyond=high + 1)
        if number is None:
            raise ValueError(f"「{value}」須為 {low}–{high} 的整數")
        if not low <= number <= high:
            raise LimitError(f"「{value}」超出範圍，須為 {low}–{high}", rule=rule, limit=f"{low}–{high}")
        return number
    return parse


class Keepers:
    """Who enters and changes a kind's records: its owner office (common.OWNERS), the office's
    proxy while it is unavailable, or the school's platform administrator. A kind whose records
    each have their own keeper overrides both methods (consultation.py)."""

    def for_new(self, uow: UnitOfWork, actor: Actor, kind: RecordKind, doing: str, now: datetime,
                keeper_id: int | None) -> tuple[dict, Actor]:
        """The columns naming a new record's keeper, and the actor to audit with."""
        return {}, require_owner(uow, actor, kind.name, doing, now=now)

    def for_change(self, uow: UnitOfWork, actor: Actor, kind: RecordKind, record_id: int, doing: str,
                   now: datetime) -> tuple[object, Actor]:
        """The record, locked for the change, and the actor to audit with."""
        acting = require_owner(uow, actor, kind.name, doing, now=now)
        return uow.get(kind.model, record_id, for_update=True, what=kind.label), acting


def _no_rules(values: dict, now: datetime) -> list[tuple[str, LimitError]]:
    return []


def _no_file(record) -> None:
    return None


@dataclass(frozen=True)
class RecordKind:
    """What the shared operations need to know of one kind of record."""

    name: str                       # common.CADRE, common.GRADE ...
    model: type
    fields: tuple[Field, ...]       # what is entered besides the student
    key: tuple[str, ...]            # with the student and keeper: what makes two rows the same record
    key_label: str                  # the key in words, for the duplicate-row message
    summary: Callable[[object], str]  # a record in one line, for audit reasons
    rules: Callable[[dict, datetime], list[tuple[str, LimitError]]] = _no_rules  # rules between fields
    unique: bool = True             # one record per key: entering a second is refused
    snapshot: Callable[[object], str] | None = None  # all a record says, kept when it is deleted (summary)
    file_hash: Callable[[object], str | None] = _no_file  # the attached file its audit rows name
    keepers: Keepers = Keepers()

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    @property
    def columns(self) -> tuple[Column, ...]:
        return (STUDENT_NO, *(Column(c.key, c.label, c.aliases, required=c.required)
                              for f in self.fields if f.parse for c in (f.cells or (f,))))

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
    if f.accept is not None:
        return f.accept(raw)
    typed = "" if raw is None else str(raw).strip()
    if not typed:
        if f.required:
            raise InvalidInput(f"請填寫{f.label}。", field=f.key)
        return f.blank
    try:
        return f.parse(typed)
    except LimitError as error:
        raise RuleViolation(f"{f.label}：{error}", rule=error.rule, field=f.key, limit=error.limit) from None
    except ValueError as error:
        raise InvalidInput(f"{f.label}：{error}", field=f.key) from None


def _values(kind: RecordKind, raw: dict, now: datetime, *, every: bool) -> dict:
    """The values given (`every`: all the kind's fields, a missing one blank), each checked."""
    unknown = set(raw) - {f.key for f in kind.fields}
    if unknown:
        raise TypeError(f"{kind.name} has no field {', '.join(sorted(unknown))}")
    values = {}
    for f in kind.fields:
        if every or f.key in raw:
            values[f.key] = value_of(f, raw.get(f.key))
            if f.check and values[f.key] is not None and (problem := f.check(values[f.key], now)):
                raise RuleViolation(f"{f.label}：{problem}", rule=problem.rule, field=f.key, limit=problem.limit)
    return values


def _current(f: Field, record) -> object:
    return f.read(record) if f.read else getattr(record, f.key)


def _columns(kind: RecordKind, values: dict) -> dict:
    columns = {}
    for key, value in values.items():
        f = kind.field(key)
        columns |= f.stored(value) if f.stored else {key: value}
    return columns


def _kept(uow: UnitOfWork, kind: RecordKind, values: dict) -> dict:
    """The values once every check passed: a file goes to the store only then."""
    return {key: kind.field(key).keep(uow, value) if kind.field(key).keep and value is not None else value
            for key, value in values.items()}


def _require_rules(kind: RecordKind, values: dict, now: datetime) -> None:
    for key, problem in kind.rules(values, now):
        raise RuleViolation(f"{kind.field(key).label}：{problem}", rule=problem.rule, field=key,
                            limit=problem.limit)


def _require_unique(uow: UnitOfWork, kind: RecordKind, student: Student, values: dict, *,
                    besides: int | None = None) -> None:
    model = kind.model
    query = uow.select(model).where(model.student_id == student.id,
                                    *(getattr(model, key) == values[key] for key in kind.key))
    if besides is not None:
        query = query.where(model.id != besides)
    other = uow.session.scalars(query).first()
    if other is not None:
        raise RuleViolation(f"{student.name}（{student.student_no}）已有同一{kind.key_label}的{kind.label}"
                            f"（編號 {other.id}：{kind.summary(other)}）；要修改請更正那一筆。",
                            rule="one_record_per_key", field=kind.key[-1], existing_id=other.id)


def _require_current(kind: RecordKind, record, expected_version: int | None) -> None:
    require_current(record, expected_version, what=f"這筆{kind.label}")


def _save(uow: UnitOfWork, kind: RecordKind, *, commit: bool = True) -> None:
    """Flush or commit; two clerks entering the same record at once: the second hears so (the
    unique key refuses his row), nothing is lost."""
    try:
        uow.commit() if commit else uow.flush()
    except IntegrityError:
        uow.session.rollback()
        raise Conflict(f"同一筆{kind.label}剛由其他人登錄；請重新整理頁面後再確認，你的操作沒有生效。") from None


def _shown(value, show) -> str:
    if value is None or value == "":
        return "（空白）"
    if isinstance(value, bool):
        return "是" if value else "否"
    return show(value)


def _apply(kind: RecordKind, record, values: dict) -> list[str]:
    """Set the changed values; return 「欄位：舊 → 新」 for each, for the audit reason."""
    changes = []
    for key, new in values.items():
        f = kind.field(key)
        old = _current(f, record)
        if old != new:
            changes.append(f"{f.label}：{_shown(old, f.show)} → {_shown(new, f.show)}")
            for column, value in _columns(kind, {key: new}).items():
                setattr(record, column, value)
    return changes


def student_of(uow: UnitOfWork, *, student_id: int | None = None, student_no: str | None = None) -> Student:
    """The student by id, or by 學號 as a form gives it (InvalidInput naming the field)."""
    if student_id is not None:
        return require_student(uow, student_id)
    number = (student_no or "").strip()
    if not number:
        raise InvalidInput("請填寫學號。", field="student_no")
    student = students_by_no(uow, [number]).get(number)
    if student is None:
        raise InvalidInput(f"學號：找不到學號「{number}」的學生。", field="student_no")
    return student


def enter(uow: UnitOfWork, actor: Actor, kind: RecordKind, *, student_id: int | None = None,
          student_no: str | None = None, raw: dict, keeper_id: int | None = None,
          now: datetime | None) -> object:
    """One new record; `keeper_id` names whose it is when the actor keeps several people's."""
    now = now_or(now)
    forbid_students(actor)
    owned, acting = kind.keepers.for_new(uow, actor, kind, "登錄", now, keeper_id)
    student = student_of(uow, student_id=student_id, student_no=student_no)
    values = _values(kind, raw, now, every=True)
    _require_rules(kind, values, now)
    if kind.unique:
        _require_unique(uow, kind, student, values)
    record = kind.model(school_id=uow.school_id, student_id=student.id, created_at=now, updated_at=now, **owned,
                        **_columns(kind, _kept(uow, kind, values)))
    uow.session.add(record)
    _save(uow, kind, commit=False)
    audit(uow, kind.name, record, event="enter", actor=acting, at=now, reason=kind.summary(record),
          file_hash=kind.file_hash(record))
    _save(uow, kind)
    return record


def correct(uow: UnitOfWork, actor: Actor, kind: RecordKind, record_id: int, *,
            expected_version: int | None, raw: dict, now: datetime | None) -> Correction:
    """Change the values given in `raw`; the rules are checked on the result."""
    now = now_or(now)
    forbid_students(actor)
    record, acting = kind.keepers.for_change(uow, actor, kind, record_id, "更正", now)
    _require_current(kind, record, expected_version)
    values = _values(kind, raw, now, every=False)
    merged = {f.key: _current(f, record) for f in kind.fields} | values
    _require_rules(kind, merged, now)
    if kind.unique:
        _require_unique(uow, kind, require_student(uow, record.student_id), merged, besides=record.id)
    changes = _apply(kind, record, _kept(uow, kind, values))
    if not changes:
        return Correction(record, [])
    record.updated_at = now
    audit(uow, kind.name, record, event="correct", actor=acting, at=now, reason="；".join(changes),
          file_hash=kind.file_hash(record))
    _save(uow, kind)
    return Correction(record, changes)


def delete(uow: UnitOfWork, actor: Actor, kind: RecordKind, record_id: int, *,
           expected_version: int | None, reason: str | None, now: datetime | None) -> None:
    """The row goes; its audit row keeps the reason and all the record said."""
    now = now_or(now)
    forbid_students(actor)
    record, acting = kind.keepers.for_change(uow, actor, kind, record_id, "刪除", now)
    _require_current(kind, record, expected_version)
    why = text_field(reason, field="reason", label="刪除原因", max_chars=REASON_MAX, required=True)
    audit(uow, kind.name, record, event="delete", actor=acting, at=now, file_hash=kind.file_hash(record),
          reason=f"{why}（刪除的紀錄：{(kind.snapshot or kind.summary)(record)}）")
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
    """Whether the enter, correct and import forms are for this person (an office's kinds)."""
    try:
        forbid_students(actor)
        require_owner(uow, actor, kind.name, "登錄", now=now)
    except Forbidden:
        return False
    return True


def _cell(row: Row, f: Field, now: datetime) -> object:
    if f.cells:
        parts = [_cell(row, cell, now) for cell in f.cells]
        value = None if None in parts else f.parse(*parts)
    else:
        value = row.convert(f.key, f.parse, default=f.blank, required=f.required)
    if f.check and value is not None and (problem := f.check(value, now)):
        row.error(f.column, str(problem))
        return None
    return value


def parse_csv(kind: RecordKind, data: bytes, *, now: datetime | None = None,
              student_nos: set[str] | None = None) -> Parsed[Line]:
    """Every row checked on its own and against the rows above it (its student number against
    `student_nos`, the school's, when given); no database here."""
    now = now_or(now)
    seen: dict[tuple, int] = {}

    def build(row: Row) -> Line | None:
        student_no = row.convert("student_no", parse_student_no)
        if student_no and student_nos is not None and student_no not in student_nos:
            row.error("student_no", f"找不到學號「{student_no}」的學生")
        values = {f.key: _cell(row, f, now) for f in kind.fields if f.parse}
        if row.failed:
            return None  # rules between fields need every value
        for key, problem in kind.rules(values, now):
            row.error(kind.field(key).column, str(problem))
        if row.failed:
            return None
        earlier = seen.setdefault((student_no, *(values[k] for k in kind.key)), row.line)
        if earlier != row.line:
            row.error("student_no", f"與第 {earlier} 行是同一筆紀錄（同一學生、{kind.key_label}），請只保留一行")
            return None
        return Line(row.line, student_no, values)

    return parse_file(data, kind.columns, build)


def import_csv(uow: UnitOfWork, actor: Actor, kind: RecordKind, data: bytes, *, keeper_id: int | None = None,
               now: datetime | None) -> ImportCounts:
    """A file with any bad row imports nothing. A row naming a record already there (same
    student, keeper and key) corrects it; the same file twice changes nothing and audits nothing."""
    now = now_or(now)
    forbid_students(actor)
    owned, acting = kind.keepers.for_new(uow, actor, kind, "匯入", now, keeper_id)
    parsed = parse_csv(kind, data, now=now, student_nos=set(uow.session.scalars(uow.select(Student.student_no))))
    if parsed.errors:
        raise RowsRejected(kind.label, parsed.errors)

    students = students_by_no(uow, [line.student_no for line in parsed.rows])
    file_hash = hashlib.sha256(data).hexdigest()
    model = kind.model
    years = {_columns(kind, line.values)["academic_year"] for line in parsed.rows}
    existing = {(r.student_id, *(getattr(r, k) for k in kind.key)): r for r in uow.session.scalars(
        uow.select(model).where(model.student_id.in_({s.id for s in students.values()}),
                                model.academic_year.in_(years),
                                *(getattr(model, column) == value for column, value in owned.items())))}
    counts = ImportCounts()
    for line in parsed.rows:
        student = students[line.student_no]
        record = existing.get((student.id, *(line.values[k] for k in kind.key)))
        if record is None:
            record = model(school_id=uow.school_id, student_id=student.id, created_at=now, updated_at=now,
                           **owned, **_columns(kind, line.values))
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
