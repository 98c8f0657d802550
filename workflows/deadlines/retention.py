"""Retention of departed students' data (離校生資料保存年限, 補充規定範例第八點).

When the policy's years have passed since a student left (`Policy.purge_due`), the student's
items, receipts, enrolments, queued messages, staff-entered records (cadre, grades, consultation,
exploration), batch entries, sign-in account and guardian links, and the student row itself are
deleted (every row that points at the student: `STUDENT_ROWS`), leaving a
tombstone in the audit log (who, when, under which rule, how much). A student with business
still open (a receipt not yet answered, a dispute not yet resolved) is held until it closes.

Files go in a second step. The purge queues their hashes in its own transaction; `remove_files`
then, holding the file store's lock exclusively (uploads hold it shared), deletes each queued
file that no row of any school still names — the store is content-addressed and shared, so the
same bytes may belong to another student. A crash between the steps leaves the queue, which the
next run finishes; never a row pointing at a deleted file.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from sqlalchemy import delete, or_, select

from persistence import locks
from persistence.db import Database
from persistence.files import FileStore
# FILE_COLUMNS: every column naming a stored file, one list shared with fsck and backups.
from persistence.fsck import FILE_COLUMNS, referenced
from persistence.tables import (Account, AuditEntry, BatchEntry, CadreRecord, ConsultationRecord,
                                Enrolment, ExplorationRecord, FileDeletion, GradeRecord, GuardianLink,
                                Item, OutboxMessage, Receipt, Student)
from persistence.upsert import insert_ignoring_duplicates
from persistence.vocabulary import StaffRecordKind
from states import MACHINES
from workflows.core.actors import Actor, system
from workflows.core.clock import format_taipei, roc_date, taipei_date
from workflows.core.policy import KIND_LABELS
from workflows.core.roles import DEPARTED_STATUSES

# Rows that point at a student, children before parents (the foreign keys' order).
STUDENT_ROWS = ((OutboxMessage, OutboxMessage.recipient_id), (GuardianLink, GuardianLink.student_id),
                (Account, Account.student_id), (BatchEntry, BatchEntry.student_id),
                (CadreRecord, CadreRecord.student_id), (GradeRecord, GradeRecord.student_id),
                (ConsultationRecord, ConsultationRecord.student_id),
                (ExplorationRecord, ExplorationRecord.student_id), (Item, Item.student_id),
                (Receipt, Receipt.student_id), (Enrolment, Enrolment.student_id), (Student, Student.id))
RECORD_LABELS = ((CadreRecord, StaffRecordKind.CADRE.label), (GradeRecord, StaffRecordKind.GRADE.label),
                 (ConsultationRecord, StaffRecordKind.CONSULTATION.label),
                 (ExplorationRecord, StaffRecordKind.EXPLORATION.label))
CHUNK = 500
# Open business holds a purge: a receipt the student has not answered, a dispute not resolved.
OPEN_RECEIPT_STATES = tuple(s.id for s in MACHINES["receipt"].states if not s.final)
OPEN_ITEM_STATES = ("disputed",)


def due_students(uow, now: datetime) -> list[Student]:
    """Departed students whose retention has ended by `now`, open business or not."""
    policy = uow.policy
    # Nobody who left after this year's end can be due; the exact day is the policy's to say.
    last_year = taipei_date(now).year - policy.retention_years
    candidates = uow.session.scalars(uow.select(Student).where(
        Student.status.in_(DEPARTED_STATUSES), Student.departed_on <= date(last_year, 12, 31)))
    return [s for s in candidates if policy.purge_due(s.departed_on) <= now]


def _held(uow, ids: list[int]) -> set[int]:
    open_receipts = select(Receipt.student_id).where(
        Receipt.school_id == uow.school_id, Receipt.student_id.in_(ids),
        Receipt.state.in_(OPEN_RECEIPT_STATES))
    open_items = select(Item.student_id).where(
        Item.school_id == uow.school_id, Item.student_id.in_(ids), Item.state.in_(OPEN_ITEM_STATES))
    return set(uow.session.scalars(open_receipts.union(open_items)))


def purge(uow, now: datetime, actor: Actor | None = None) -> int:
    """Purge every departed student due at `now`; returns how many. Commits."""
    uow.serialise("retention")
    actor = actor or system()
    due = due_students(uow, now)
    held = _held(uow, [s.id for s in due]) if due else set()
    purged = [s for s in due if s.id not in held]
    for start in range(0, len(purged), CHUNK):
        _purge_chunk(uow, purged[start:start + CHUNK], now, actor)
    uow.commit()
    return len(purged)


def _purge_chunk(uow, students: list[Student], now: datetime, actor: Actor) -> None:
    session, school_id = uow.session, uow.school_id
    ids = [s.id for s in students]
    items = Counter(map(tuple, session.execute(select(Item.student_id, Item.kind).where(
        Item.school_id == school_id, Item.student_id.in_(ids)))))
    receipts = Counter(session.scalars(select(Receipt.student_id).where(
        Receipt.school_id == school_id, Receipt.student_id.in_(ids))))
    records = {model: Counter(session.scalars(select(model.student_id).where(
        model.school_id == school_id, model.student_id.in_(ids)))) for model, _ in RECORD_LABELS}
    hashes = set()
    for column in FILE_COLUMNS:
        table = column.class_
        hashes |= set(session.scalars(select(column).where(
            table.school_id == school_id, table.student_id.in_(ids), column.is_not(None))))
    years = uow.policy.retention_years
    session.execute(AuditEntry.__table__.insert(), [dict(
        school_id=school_id, subject_kind="student", subject_id=s.id, student_id=s.id,
        event="purge", from_state=s.status, to_state=None, actor_kind=actor.kind,
        actor_id=actor.id, actor_name=actor.name, at=now,
        reason=(f"離校生資料保存期限屆滿（離校日 {roc_date(s.departed_on)}，保存 {years} 年），"
                f"學號 {s.student_no} 之資料已刪除："
                + "、".join(f"{KIND_LABELS[k]} {items[(s.id, k)]} 件" for k in ("course_outcome", "performance"))
                + f"、收訖明細 {receipts[s.id]} 份"
                + "".join(f"、{label} {records[model][s.id]} 筆" for model, label in RECORD_LABELS
                          if records[model][s.id])
                + f"（執行時間 {format_taipei(now)}）"))
        for s in students])
    for model, column in STUDENT_ROWS:
        where = [model.school_id == school_id, column.in_(ids)]
        if model is OutboxMessage:
            where.append(OutboxMessage.recipient_kind == "student")
        session.execute(delete(model).where(*where).execution_options(synchronize_session=False))
    insert_ignoring_duplicates(session, FileDeletion, [
        dict(sha256=h, requested_at=now, school_id=school_id) for h in sorted(hashes)])


def remove_files(db: Database, files: FileStore) -> int:
    """Delete queued files no row names any more; returns how many were removed. Platform-wide:
    runs outside any school's unit of work."""
    removed = 0
    with db.session() as session, session.begin():
        locks.hold(session, locks.FILE_STORE)
        queued = list(session.scalars(select(FileDeletion.sha256)))
        if not queued:
            return 0
        keep = referenced(session, queued)
        for sha256 in queued:
            if sha256 not in keep and files.delete(sha256):
                removed += 1
        session.execute(delete(FileDeletion).where(or_(*(
            FileDeletion.sha256.in_(queued[i:i + CHUNK]) for i in range(0, len(queued), CHUNK)))))
    return removed
