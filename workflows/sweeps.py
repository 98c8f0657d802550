"""Deadline effects as idempotent, set-based sweeps taking an explicit `now`.

Each sweep is a few INSERT … SELECT / UPDATE statements in one transaction: the audit rows are
written from the rows about to move (one per row), then the rows move. Sources and targets come
from the state machine classes, so states/ stays the one list of transitions. A sweep holds a
per-school lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so two sweeps at
once cannot both move — or both audit — the same rows; a second run finds nothing to do.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, insert, literal, select, text, update

from persistence.tables import AuditEntry, Item, Receipt, Window
from states import MACHINES, sources_of
from workflows.actors import Actor, system
from workflows.transitions import item_file_hash_sql
from workflows.unit_of_work import UnitOfWork


@dataclass
class SweepResult:
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.changed.values())


def _serialise(uow: UnitOfWork, name: str) -> None:
    if uow.db.dialect == "postgresql":
        key = zlib.crc32(f"sweep:{uow.school_id}:{name}".encode())
        uow.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _item_window_closed(kind: str, now: datetime):
    """The item's own window (its school, year and semester) of `kind` has closed by `now`."""
    return exists(select(1).where(
        Window.school_id == Item.school_id, Window.kind == kind, Window.academic_year == Item.academic_year,
        Window.semester == Item.semester, Window.ends_at <= now))


def _receipt_window_closed(now: datetime):
    """The receipt's confirmation window has closed by `now`."""
    return exists(select(1).where(Window.id == Receipt.window_id, Window.ends_at <= now))


def _move(uow: UnitOfWork, model, machine: str, event: str, condition, *, actor: Actor, now: datetime,
          reason: str, subject_kind, extra_values: dict | None = None) -> int:
    moved = 0
    for source, target in sources_of(MACHINES[machine], event).items():
        where = and_(model.school_id == uow.school_id, model.state == source, condition)
        audit_rows = select(
            model.school_id, subject_kind, model.id, model.student_id, literal(event),
            model.state, literal(target), literal(actor.kind), literal(actor.id), literal(actor.name),
            literal(now, AuditEntry.at.type), literal(reason),
            item_file_hash_sql() if model is Item else literal(None)).where(where)
        uow.session.execute(insert(AuditEntry).from_select(
            ["school_id", "subject_kind", "subject_id", "student_id", "event", "from_state", "to_state",
             "actor_kind", "actor_id", "actor_name", "at", "reason", "file_hash"], audit_rows))
        values = {"state": target, "version": model.version + 1, **(extra_values or {})}
        result = uow.session.execute(update(model).where(where).values(**values)
                                     .execution_options(synchronize_session=False))
        moved += result.rowcount
    return moved


def lock_drafts(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> int:
    """At the close of the students' upload window, course-outcome drafts lock (逾期未送出)."""
    closed = _item_window_closed("course_outcome_upload", now)
    return _move(uow, Item, "course_outcome", "lock", and_(Item.kind == "course_outcome", closed),
                 actor=actor or system(), now=now, reason="學生上傳期間截止，草稿鎖定",
                 subject_kind=Item.kind, extra_values={"updated_at": now})


def expire_certification(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> int:
    """At the close of the certification window, items still waiting are not certified in time."""
    closed = _item_window_closed("certification", now)
    return _move(uow, Item, "course_outcome", "expire_certification",
                 and_(Item.kind == "course_outcome", closed), actor=actor or system(), now=now,
                 reason="認證期間截止，教師未完成認證", subject_kind=Item.kind,
                 extra_values={"updated_at": now})


def deem_confirmed(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> int:
    """At the close of a receipt's confirmation window, what is neither confirmed nor disputed is
    deemed confirmed (逾期視為確認), and so are its items. Returns the receipts deemed."""
    actor = actor or system()
    reason = "確認期間截止，逾期視為確認（排程器，於截止時）"
    receipt_closed = _receipt_window_closed(now)
    # Items first, while their receipts are still "issued": that is how we find them.
    open_receipt = exists(select(1).where(Receipt.id == Item.receipt_id, Receipt.state == "issued",
                                          receipt_closed))
    for kind in ("course_outcome", "performance"):
        _move(uow, Item, kind, "deem_confirmed", and_(Item.kind == kind, open_receipt), actor=actor,
              now=now, reason=reason, subject_kind=Item.kind, extra_values={"updated_at": now})
    return _move(uow, Receipt, "receipt", "deem_confirmed", receipt_closed, actor=actor, now=now,
                 reason=reason, subject_kind=literal("receipt"), extra_values={"closed_at": now})


SWEEPS = {"lock_drafts": lock_drafts, "expire_certification": expire_certification,
          "deem_confirmed": deem_confirmed}


def run_all(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> SweepResult:
    """Every deadline effect that is due at `now`, once, in one transaction."""
    _serialise(uow, "all")
    result = SweepResult({name: sweep(uow, now, actor) for name, sweep in SWEEPS.items()})
    uow.commit()
    return result



