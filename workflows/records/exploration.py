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
from workflows.core.actors import Actor
from workflows.core.clock import academic_year_bounds, roc_date, taipei_date
from workflows.core.unit_of_work import UnitOfWork
from workflows.records import common
from workflows.records.engine import (Correction, Field, ImportCounts, LimitError, RecordKind, correct, delete,
                                      enter, import_csv, may_enter, text_of)
from workflows.school.csv_rows import parse_academic_year, parse_date, parse_semester

ACTIVITY_MAX = 60
NOTES_MAX = 1000

# The 18 學群: code → label (without 學群).
CAREER_GROUPS: dict[str, str] = CareerGroup.labels()


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

def _held(day: date, now: datetime) -> LimitError | None:
    today = taipei_date(now)
    if day > today:
        return LimitError(f"{roc_date(day)} 晚於今天（{roc_date(today)}），不能登錄尚未舉行的活動",
                          rule="not_in_future", limit=today.isoformat())
    return None


def _within_year(values: dict, now: datetime) -> list[tuple[str, LimitError]]:
    year, day = values.get("academic_year"), values.get("held_on")
    if year is None or day is None:
        return []
    first, last = academic_year_bounds(year)
    if first <= day <= last:
        return []
    return [("held_on", LimitError(f"{roc_date(day)} 不在 {year} 學年度內（{roc_date(first)}–{roc_date(last)}）；"
                                   "請確認學年度或日期", rule="date_outside_year",
                                   limit=f"{first.isoformat()}/{last.isoformat()}"))]


def _summary(record: ExplorationRecord) -> str:
    return (f"{record.academic_year} 學年度第 {record.semester} 學期，{roc_date(record.held_on)}，"
            f"{career_group_label(record.career_group)}：{record.activity}"
            + (f"；心得或紀錄：{record.notes}" if record.notes else ""))


FIELDS = (
    Field("academic_year", "學年度", parse_academic_year),
    Field("semester", "學期", parse_semester),
    Field("held_on", "日期", parse_date, aliases=("活動日期",), show=roc_date, check=_held),
    Field("career_group", "學群", career_group_of, show=career_group_label),
    text_of("activity", "活動名稱", ACTIVITY_MAX, aliases=("活動",)),
    text_of("notes", "心得或紀錄", NOTES_MAX, required=False, aliases=("心得", "紀錄")),
)
# An activity already on file (same student, term, date, group and activity) is corrected by a
# file row naming it; entered by hand, the same activity twice is allowed.
KIND = RecordKind(common.EXPLORATION, ExplorationRecord, FIELDS,
                  key=("academic_year", "semester", "held_on", "career_group", "activity"),
                  key_label="學年度、學期、日期、學群與活動名稱", summary=_summary, rules=_within_year, unique=False)
CSV_COLUMNS = KIND.columns


def may_enter_exploration(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> bool:
    """Whether the pages should offer the forms: the counselling office, its proxy today, or the
    school's platform administrator."""
    return may_enter(uow, actor, KIND, now=now)


# -- use cases ----------------------------------------------------------------------------------

def enter_exploration(uow: UnitOfWork, actor: Actor, *, student_id: int, academic_year: int, semester: int,
                      held_on: date, career_group: str, activity: str, notes: str = "",
                      now: datetime | None = None) -> ExplorationRecord:
    """登錄 one activity of one student."""
    return enter(uow, actor, KIND, student_id=student_id, now=now,
                 raw=dict(academic_year=academic_year, semester=semester, held_on=held_on,
                          career_group=career_group, activity=activity, notes=notes))


def correct_exploration(uow: UnitOfWork, actor: Actor, record_id: int, *, expected_version: int | None,
                        now: datetime | None = None, **fields) -> Correction:
    """更正 the given fields; the audit row lists 「欄位：舊 → 新」. Nothing changed: nothing written."""
    return correct(uow, actor, KIND, record_id, expected_version=expected_version, raw=fields, now=now)


def delete_exploration(uow: UnitOfWork, actor: Actor, record_id: int, *, reason: str,
                       expected_version: int | None = None, now: datetime | None = None) -> None:
    """刪除 with a reason; the audit row keeps the reason and what the record said."""
    delete(uow, actor, KIND, record_id, expected_version=expected_version, reason=reason, now=now)


def import_explorations(uow: UnitOfWork, actor: Actor, data: bytes, *,
                        now: datetime | None = None) -> ImportCounts:
    """匯入: a row for an activity already on file corrects its notes; the same file twice
    changes nothing. Any bad row: RowsRejected, nothing imported."""
    return import_csv(uow, actor, KIND, data, now=now)


def csv_template() -> bytes:
    return KIND.csv_template()


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
    common.require_reader(uow, actor, KIND.name, now=now)
    return _views(uow, uow.select(ExplorationRecord).where(ExplorationRecord.academic_year == academic_year,
                                                            ExplorationRecord.semester == semester))


def get_exploration(uow: UnitOfWork, actor: Actor, record_id: int, *, now: datetime | None = None) -> ExplorationView:
    common.require_reader(uow, actor, KIND.name, now=now)
    record = uow.get(ExplorationRecord, record_id, what=KIND.label)
    return _views(uow, uow.select(ExplorationRecord).where(ExplorationRecord.id == record.id))[0]
