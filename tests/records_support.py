"""Helpers of the staff-entered record tests (幹部紀錄, 學業成績): office staff, CSV files as Excel
writes them, the audit rows of a record."""
from __future__ import annotations

import codecs

from sqlalchemy import func, select

from persistence.tables import AuditEntry, CadreRecord, GradeRecord
from tests.world import YEAR

CADRE_HEADER = "學號,學年度,學期,幹部層級,單位,職稱,起始日期,結束日期"
GRADE_HEADER = "學號,學年度,學期,成績類別,課程代碼,科目名稱,年級,學分數,學期成績,及格,補考成績,採計學分"


def add_staff(world, no: str, name: str, *roles: str) -> int:
    return world.add_staff(no, name, *roles)


def excel(*lines: str, encoding: str = "utf-8") -> bytes:
    """What Excel's "CSV UTF-8（逗號分隔）" writes: a BOM and CRLF line ends (Big5: no BOM)."""
    body = ("\r\n".join(lines) + "\r\n").encode(encoding)
    return codecs.BOM_UTF8 + body if encoding == "utf-8" else body


def course_code(world, serial: str = "01") -> str:
    """A well-formed course code of the world's school."""
    return f"{YEAR - 2}{world.code}H00100A1ML01{serial}"


def student_no(world, n: int = 0) -> str:
    return f"{world.code[-3:]}{n:04d}"


def audit_rows(world, kind: str, subject_id: int | None = None) -> list[AuditEntry]:
    """The audit rows of cadre_record / grade_record subjects, oldest first."""
    with world.uow() as uow:
        query = uow.select(AuditEntry).where(AuditEntry.subject_kind == kind)
        if subject_id is not None:
            query = query.where(AuditEntry.subject_id == subject_id)
        return list(uow.session.scalars(query.order_by(AuditEntry.id)))


def stored(world) -> dict[str, int]:
    with world.uow() as uow:
        return {model.__name__: uow.session.scalar(
                    select(func.count()).select_from(model).where(model.school_id == world.school_id))
                for model in (CadreRecord, GradeRecord)}


def records(world, model) -> list:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(model).order_by(model.id)))
