"""Career-group exploration 學群探索: the activities (lectures, tests, camps, visits ...) through
which a student explores the 18 學群 — the groups of university departments students choose
among — entered by the counselling office (輔導室) or, while it is unavailable, its proxy.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from persistence.tables import ExplorationRecord, Student
from persistence.vocabulary import CareerGroup
from workflows.core import spreadsheet_text
from workflows.core.actors import Actor
from workflows.core.clock import academic_year_bounds, roc_date, taipei_date
from workflows.school.csv_rows import Column, Parsed, Row, parse_date, parse_file
from workflows.core.errors import DomainError, InvalidInput, RuleViolation
from workflows.core.numbers import whole
from workflows.people.offices import as_office
from workflows.records import common
from workflows.records.consultation import UNCHANGED, Correction, ImportSummary, RecordImportRejected
from workflows.core.roles import Role
from workflows.items.rules import REASON_MAX, text_field
from workflows.core.unit_of_work import UnitOfWork, now_or

KIND = common.EXPLORATION
ACTIVITY_MAX = 60
NOTES_MAX = 1000
YEARS = range(100, 200)  # ROC 學年度 this service can hold

# The 18 學群: code → label (without 學群).
CAREER_GROUPS: dict[str, str] = CareerGroup.labels()
FIELD_LABELS = {"academic_year": "學年度", "semester": "學期", "held_on": "日期", "career_group": "學群",
                "activity": "活動名稱", "notes": "心得或紀錄"}

CSV_COLUMNS = (
    Column("student_no", "學號"),
    Column("academic_year", "學年度"),
    Column("semester", "學期"),
    Column("held_on", "日期", ("活動日期",)),
    Column("career_group", "學群"),
    Column("activity", "活動名稱", ("活動",)),
    Column("notes", "心得或紀錄", ("心得", "紀錄"), required=False),
)


def career_group_label(code: str) -> str:
    """資訊學群 ...: how people read a group."""
    return f"{CAREER_GROUPS[code]}學群" if code in CAREER_GROUPS else code


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold().replace(" ", "").removesuffix("學群")


_BY_NAME = {_key(name): code for code, label in CAREER_GROUPS.items() for name in (code, label)}


def career_group_of(value: str) -> str:
    """A group's code from its code, its label or its label with 學群; ValueError otherwise."""
    code = _BY_NAME.get(_key(value or ""))
    if code is None:
        raise ValueError(f"「{value}」不是十八學群之一；請填：{'、'.join(CAREER_GROUPS.values())}（可加「學群」）")
    return code


# -- the fields ------------------------------------------------------------------------------------

def _values(*, academic_year, semester, held_on, career_group, activity, notes, now: datetime) -> dict:
    """Every field checked, in the form's order; the first problem raises."""
    if not isinstance(academic_year, int) or academic_year not in YEARS:
        raise InvalidInput(f"學年度「{academic_year}」不正確；請填民國 {YEARS.start}–{YEARS.stop - 1}（例如 114）。",
                           field="academic_year")
    if semester not in (1, 2):
        raise InvalidInput(f"學期「{semester}」不正確；請填 1 或 2。", field="semester")
    if not isinstance(held_on, date) or isinstance(held_on, datetime):
        raise InvalidInput("請填寫活動日期。", field="held_on")
    today = taipei_date(now)
    if held_on > today:
        raise RuleViolation(f"日期 {roc_date(held_on)} 晚於今天（{roc_date(today)}），不能登錄尚未舉行的活動。",
                            rule="not_in_future", field="held_on", limit=today.isoformat())
    first, last = academic_year_bounds(academic_year)
    if not first <= held_on <= last:
        raise RuleViolation(f"日期 {roc_date(held_on)} 不在 {academic_year} 學年度內"
                            f"（{roc_date(first)}–{roc_date(last)}）；請確認學年度或日期。",
                            rule="date_outside_year", field="held_on", limit=f"{first.isoformat()}/{last.isoformat()}")
    try:
        group = career_group_of(career_group)
    except ValueError as error:
        raise InvalidInput(str(error), field="career_group") from None
    return {"academic_year": academic_year, "semester": semester, "held_on": held_on, "career_group": group,
            "activity": text_field(activity, field="activity", label="活動名稱", max_chars=ACTIVITY_MAX, required=True),
            "notes": text_field(notes, field="notes", label="心得或紀錄", max_chars=NOTES_MAX, required=False)}


def _shown(value) -> str:
    return roc_date(value) if isinstance(value, date) else str(value)


def _changes(record: ExplorationRecord, values: dict) -> list[str]:
    group = values.pop("career_group")
    changes = common.apply_changes(record, values, FIELD_LABELS, show=_shown)
    return changes + common.apply_changes(record, {"career_group": group}, FIELD_LABELS, show=career_group_label)


def _snapshot(record: ExplorationRecord, student_no: str | None = None) -> str:
    who = f"學號 {student_no}，" if student_no else ""
    return (f"{who}{record.academic_year} 學年度第 {record.semester} 學期，{roc_date(record.held_on)}，"
            f"{career_group_label(record.career_group)}：{record.activity}"
            + (f"；心得或紀錄：{record.notes}" if record.notes else ""))


def _owner(uow, actor: Actor, doing: str, now: datetime) -> Actor:
    common.forbid_students(actor)
    return common.require_owner(uow, actor, KIND, doing, now=now)


def may_enter(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> bool:
    """Whether the pages should offer the forms: the counselling office, its proxy today, or the
    school's platform administrator."""
    if actor.is_staff and actor.has(Role.ADMIN):
        return True
    return actor.kind not in ("student", "guardian") and as_office(uow, actor, common.OWNERS[KIND], now=now) is not None


# -- use cases ----------------------------------------------------------------------------------

def enter_exploration(uow: UnitOfWork, actor: Actor, *, student_id: int, academic_year: int, semester: int,
                      held_on: date, career_group: str, activity: str, notes: str = "",
                      now: datetime | None = None) -> ExplorationRecord:
    """登錄 one activity of one student."""
    now = now_or(now)
    acting = _owner(uow, actor, "登錄", now)
    student = common.require_student(uow, student_id)
    values = _values(academic_year=academic_year, semester=semester, held_on=held_on, career_group=career_group,
                     activity=activity, notes=notes, now=now)
    record = ExplorationRecord(school_id=uow.school_id, student_id=student.id, created_at=now, updated_at=now,
                               **values)
    uow.session.add(record)
    uow.flush()
    common.audit(uow, KIND, record, event="enter", actor=acting, at=now, reason=_snapshot(record))
    uow.commit()
    return record


def correct_exploration(uow: UnitOfWork, actor: Actor, record_id: int, *, expected_version: int | None,
                        academic_year=UNCHANGED, semester=UNCHANGED, held_on=UNCHANGED,
                        career_group=UNCHANGED, activity=UNCHANGED, notes=UNCHANGED,
                        now: datetime | None = None) -> Correction:
    """更正 the given fields; the audit row lists 「欄位：舊 → 新」. Nothing changed: nothing written."""
    now = now_or(now)
    acting = _owner(uow, actor, "更正", now)
    record = uow.get(ExplorationRecord, record_id, for_update=True, what="學群探索紀錄")
    common.require_version(record, expected_version, KIND)
    given = {"academic_year": academic_year, "semester": semester, "held_on": held_on,
             "career_group": career_group, "activity": activity, "notes": notes}
    values = _values(now=now, **{key: getattr(record, key) if value is UNCHANGED else value
                                 for key, value in given.items()})
    changes = _changes(record, values)
    if not changes:
        return Correction(record, [])
    record.updated_at = now
    uow.flush()
    common.audit(uow, KIND, record, event="correct", actor=acting, at=now, reason="；".join(changes))
    uow.commit()
    return Correction(record, changes)


def delete_exploration(uow: UnitOfWork, actor: Actor, record_id: int, *, reason: str,
                       expected_version: int | None = None, now: datetime | None = None) -> None:
    """刪除 with a reason; the audit row keeps the reason and what the record said."""
    now = now_or(now)
    acting = _owner(uow, actor, "刪除", now)
    why = text_field(reason, field="reason", label="刪除原因", max_chars=REASON_MAX, required=True)
    record = uow.get(ExplorationRecord, record_id, for_update=True, what="學群探索紀錄")
    common.require_version(record, expected_version, KIND)
    student = common.require_student(uow, record.student_id)
    common.delete_audited(uow, KIND, record, actor=acting, at=now, why=why,
                          snapshot=_snapshot(record, student.student_no))


# -- what the pages show --------------------------------------------------------------------------

@dataclass(frozen=True)
class ExplorationView:
    id: int
    version: int
    student_id: int
    student_no: str
    student_name: str
    class_name: str
    academic_year: int
    semester: int
    held_on: date
    career_group: str
    activity: str
    notes: str

    @property
    def career_group_label(self) -> str:
        return career_group_label(self.career_group)


def _views(uow, query) -> list[ExplorationView]:
    rows = uow.session.execute(
        query.add_columns(Student.student_no, Student.name, Student.class_name)
        .join(Student, (Student.school_id == ExplorationRecord.school_id)
              & (Student.id == ExplorationRecord.student_id))
        .order_by(ExplorationRecord.held_on, Student.class_name, Student.student_no, ExplorationRecord.id)).all()
    return [ExplorationView(r.id, r.version, r.student_id, no, name, class_name, r.academic_year, r.semester,
                            r.held_on, r.career_group, r.activity, r.notes or "")
            for r, no, name, class_name in rows]


def list_explorations(uow: UnitOfWork, actor: Actor, *, academic_year: int, semester: int,
                      now: datetime | None = None) -> list[ExplorationView]:
    """One term's activities, by date."""
    common.require_reader(uow, actor, KIND, now=now)
    return _views(uow, uow.select(ExplorationRecord).where(ExplorationRecord.academic_year == academic_year,
                                                            ExplorationRecord.semester == semester))


def get_exploration(uow: UnitOfWork, actor: Actor, record_id: int, *, now: datetime | None = None) -> ExplorationView:
    common.require_reader(uow, actor, KIND, now=now)
    record = uow.get(ExplorationRecord, record_id, what="學群探索紀錄")
    return _views(uow, uow.select(ExplorationRecord).where(ExplorationRecord.id == record.id))[0]


# -- CSV import ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExplorationRow:
    line: int
    student_no: str
    values: dict


def _year(value: str) -> int:
    text = unicodedata.normalize("NFKC", value).strip().removesuffix("學年度").strip()
    year = whole(text, signed=False, beyond=YEARS.stop)
    if year is None or year not in YEARS:
        raise ValueError(f"「{value}」不是有效的學年度；請填民國 {YEARS.start}–{YEARS.stop - 1}（例如 114）")
    return year


def _semester(value: str) -> int:
    text = unicodedata.normalize("NFKC", value).strip()
    found = {"1": 1, "2": 2, "上": 1, "下": 2, "一": 1, "二": 2}.get(text.removeprefix("第").removesuffix("學期"))
    if found is None:
        raise ValueError(f"「{value}」不是有效的學期；請填 1 或 2（或 上、下）")
    return found


def parse_explorations(data: bytes, *, now: datetime, student_nos: set[str] | None = None) -> Parsed[ExplorationRow]:
    """The file's rows, every field checked (student numbers against `student_nos`, the
    school's, when given); errors by line and column."""
    seen: dict[tuple, int] = {}

    def build(row: Row) -> ExplorationRow | None:
        student_no = row.required("student_no")
        if student_no and student_nos is not None and student_no not in student_nos:
            row.error("student_no", f"找不到學號「{student_no}」的學生")
        year = row.convert("academic_year", _year)
        semester = row.convert("semester", _semester)
        held_on = row.convert("held_on", parse_date)
        group = row.convert("career_group", career_group_of)
        activity = row.text("activity", ACTIVITY_MAX)
        notes = row.text("notes", NOTES_MAX, required=False) or ""
        if row.failed:
            return None
        try:
            values = _values(academic_year=year, semester=semester, held_on=held_on, career_group=group,
                             activity=activity, notes=notes, now=now)
        except DomainError as error:
            field = error.details.get("field")
            row.error(field if field in FIELD_LABELS else "held_on", error.message)
            return None
        key = (student_no, year, semester, held_on, group, activity)
        earlier = seen.setdefault(key, row.line)
        if earlier != row.line:
            row.error("activity", f"學號「{student_no}」{roc_date(held_on)}的「{activity}」與第 {earlier} 行重複")
            return None
        return ExplorationRow(row.line, student_no, values)

    return parse_file(data, CSV_COLUMNS, build)


def _natural_key(student_id: int, values: dict) -> tuple:
    return (student_id, values["academic_year"], values["semester"], values["held_on"], values["career_group"],
            values["activity"])


def import_explorations(uow: UnitOfWork, actor: Actor, data: bytes, *,
                        now: datetime | None = None) -> ImportSummary:
    """匯入: a row for an activity already on file (same student, term, date, group and
    activity) corrects its notes; the same file twice changes nothing. Any bad row:
    RecordImportRejected, nothing imported."""
    now = now_or(now)
    acting = _owner(uow, actor, "匯入", now)
    school_nos = set(uow.session.scalars(uow.select(Student.student_no)))
    parsed = parse_explorations(data, now=now, student_nos=school_nos)
    if parsed.errors:
        raise RecordImportRejected(common.LABELS[KIND], parsed.errors)
    students = common.students_by_no(uow, [row.student_no for row in parsed.rows])
    existing = {_natural_key(r.student_id, {k: getattr(r, k) for k in FIELD_LABELS}): r
                for r in uow.session.scalars(uow.select(ExplorationRecord).where(
                    ExplorationRecord.student_id.in_(sorted(s.id for s in students.values()))))}
    summary = ImportSummary()
    for row in parsed.rows:
        student = students[row.student_no]
        key = _natural_key(student.id, row.values)
        record = existing.get(key)
        if record is None:
            record = ExplorationRecord(school_id=uow.school_id, student_id=student.id, created_at=now,
                                       updated_at=now, **row.values)
            uow.session.add(record)
            uow.flush()
            existing[key] = record
            common.audit(uow, KIND, record, event="import", actor=acting, at=now,
                         reason=f"匯入第 {row.line} 行：{_snapshot(record)}")
            summary.added += 1
            continue
        changes = common.apply_changes(record, {"notes": row.values["notes"]}, FIELD_LABELS)
        if not changes:
            summary.unchanged += 1
            continue
        record.updated_at = now
        uow.flush()
        common.audit(uow, KIND, record, event="correct", actor=acting, at=now,
                     reason=f"匯入第 {row.line} 行：" + "；".join(changes))
        summary.updated += 1
    uow.commit()
    return summary


def csv_template() -> bytes:
    return spreadsheet_text.csv_template(c.label for c in CSV_COLUMNS)
