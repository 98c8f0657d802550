"""Cadre records 幹部紀錄: a student's position in one semester — school level (校級: 學生會會長),
class level (班級: 301 班班長) or club level (社團: 熱音社社長) — with its unit, title and dates.
The student-activities section (訓育組), or its proxy while it is unavailable, enters and corrects
them one by one or from a CSV file; every change is audited; the semester batch carries them.
The operations are the records engine's (engine.py).
"""
from __future__ import annotations

from datetime import date, datetime

from persistence.tables import CadreRecord
from persistence.vocabulary import CadreLevel
from workflows.core.actors import Actor
from workflows.core.unit_of_work import UnitOfWork
from workflows.records.common import CADRE
from workflows.records.engine import (Correction, Field, ImportCounts, LimitError, Listed, RecordKind, correct,
                                      delete, enter, import_csv, listing, may_enter, one, text_of)
from workflows.school.csv_rows import lookup, lookup_table, parse_academic_year, parse_date, parse_semester

LEVELS = CadreLevel.labels()
UNIT_MAX, POSITION_MAX = 60, 40

_LEVELS = lookup_table([(code, code) for code in LEVELS] + [(label, code) for code, label in LEVELS.items()]
                       + [(f"{label}幹部", code) for code, label in LEVELS.items()])


def _level(value: str) -> str:
    return lookup(_LEVELS, value, "幹部層級", [*LEVELS.values(), *LEVELS])


def _ends_not_before_start(values: dict, now: datetime) -> list[tuple[str, LimitError]]:
    starts, ends = values.get("starts_on"), values.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        return [("ends_on", LimitError(f"{ends.isoformat()} 早於起始日期 {starts.isoformat()}；"
                                       "結束日期須在起始日期當天或之後",
                                       rule="ends_on_not_before_starts_on", limit=starts.isoformat()))]
    return []


def _show_date(day: date) -> str:
    return day.isoformat()


def _summary(record: CadreRecord) -> str:
    until = f"至 {record.ends_on.isoformat()}" if record.ends_on else "起"
    return (f"{record.academic_year} 學年度第 {record.semester} 學期 {LEVELS.get(record.level, record.level)} "
            f"{record.unit} {record.position}（{record.starts_on.isoformat()} {until}）")


FIELDS = (
    Field("academic_year", "學年度", parse_academic_year),
    Field("semester", "學期", parse_semester),
    Field("level", "幹部層級", _level, aliases=("層級",), show=lambda code: LEVELS.get(code, code)),
    text_of("unit", "單位", UNIT_MAX, aliases=("幹部單位",)),
    text_of("position", "職稱", POSITION_MAX, aliases=("幹部職稱", "職務")),
    Field("starts_on", "起始日期", parse_date, aliases=("開始日期", "任期起始"), show=_show_date),
    Field("ends_on", "結束日期", parse_date, required=False, aliases=("任期結束",), show=_show_date),
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


def import_cadre_csv(uow: UnitOfWork, actor: Actor, data: bytes, *, now: datetime | None = None) -> ImportCounts:
    """Columns 學號, 學年度, 學期, 幹部層級, 單位, 職稱, 起始日期, 結束日期 (docs/records.md)."""
    return import_csv(uow, actor, KIND, data, now=now)


def cadre_csv_template() -> bytes:
    return KIND.csv_template()
