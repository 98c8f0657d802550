"""Deadline effects as idempotent, set-based sweeps taking an explicit `now`.

Each sweep is a few INSERT … SELECT / UPDATE statements in one transaction: the audit rows are
written from the rows about to move (one per row), then the rows move. Sources and targets come
from the state machine classes, so states/ stays the one list of transitions. A sweep holds a
per-school lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so two sweeps at
once cannot both move — or both audit — the same rows; a second run finds nothing to do.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, insert, literal, select, update

from persistence.tables import ITEM_KINDS, AuditEntry, Item, Receipt, Window
from states import MACHINES, edges, sources_of
from workflows.core.actors import Actor, system
from workflows.core.clock import format_taipei
from workflows.core.transitions import item_file_hash_sql
from workflows.core.unit_of_work import UnitOfWork


@dataclass
class SweepResult:
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.changed.values())


def _item_window(kind: str):
    """The item's own window of `kind` (its school, year and semester)."""
    return select(Window.ends_at).where(
        Window.school_id == Item.school_id, Window.kind == kind, Window.academic_year == Item.academic_year,
        Window.semester == Item.semester)


def _receipt_window():
    return select(Window.ends_at).where(Window.school_id == Receipt.school_id, Window.id == Receipt.window_id)


def _closed(window, now: datetime):
    """`window` (a SELECT of its ends_at) exists and has closed by `now`."""
    return exists(window.where(Window.ends_at <= now))


def _move(uow: UnitOfWork, model, event: str, moves: dict[str, str], condition, *, deadline,
          actor: Actor, reason: str, subject_kind, extra_values: dict | None = None) -> int:
    """Move every row matching `condition` along `event` ({source: target}, read from a state
    machine), one audit row each, dated `deadline` (an SQL expression: the moment the rule took
    effect, not when the sweep ran)."""
    moved = 0
    for source, target in moves.items():
        where = and_(model.school_id == uow.school_id, model.state == source, condition)
        audit_rows = select(
            model.school_id, subject_kind, model.id, model.student_id, literal(event),
            model.state, literal(target), literal(actor.kind), literal(actor.id), literal(actor.name),
            deadline, literal(reason),
            item_file_hash_sql() if model is Item else literal(None)).where(where)
        uow.session.execute(insert(AuditEntry).from_select(
            ["school_id", "subject_kind", "subject_id", "student_id", "event", "from_state", "to_state",
             "actor_kind", "actor_id", "actor_name", "at", "reason", "file_hash"], audit_rows))
        values = {"state": target, "version": model.version + 1, **(extra_values or {})}
        result = uow.session.execute(update(model).where(where).values(**values)
                                     .execution_options(synchronize_session=False))
        moved += result.rowcount
    return moved


def _item_moves(event: str) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """[(item kinds, {source: target})] for `event`: kinds whose machines move alike share one
    pass (one INSERT … SELECT and one UPDATE per source state, whatever the number of kinds)."""
    groups: dict[tuple, list[str]] = {}
    for kind in ITEM_KINDS:
        if any(e.event == event for e in edges(MACHINES[kind])):
            groups.setdefault(tuple(sorted(sources_of(MACHINES[kind], event).items())), []).append(kind)
    return [(tuple(kinds), dict(moves)) for moves, kinds in groups.items()]


def _ran(now: datetime) -> str:
    return f"（排程器於截止時處理；執行時間 {format_taipei(now)}）"


def _close_outcomes(uow: UnitOfWork, window_kind: str, event: str, reason: str, now: datetime,
                    actor: Actor | None) -> int:
    """Course outcomes whose own window of `window_kind` has closed move along `event`."""
    window = _item_window(window_kind)
    return _move(uow, Item, event, sources_of(MACHINES["course_outcome"], event),
                 and_(Item.kind == "course_outcome", _closed(window, now)),
                 deadline=window.scalar_subquery(), actor=actor or system(), reason=reason + _ran(now),
                 subject_kind=Item.kind, extra_values={"updated_at": now})


def lock_drafts(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> int:
    """At the close of the students' upload window, course-outcome drafts lock (逾期未送出)."""
    return _close_outcomes(uow, "course_outcome_upload", "lock", "學生上傳期間截止，草稿鎖定", now, actor)


def expire_certification(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> int:
    """At the close of the certification window, items still waiting are not certified in time."""
    return _close_outcomes(uow, "certification", "expire_certification", "認證期間截止，教師未完成認證",
                           now, actor)


def deem_confirmed(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> int:
    """At the close of a receipt's confirmation window, what is neither confirmed nor disputed is
    deemed confirmed (逾期視為確認), and so are its items, as of the deadline. Returns the
    receipts deemed."""
    actor = actor or system()
    reason = "確認期間截止，逾期視為確認" + _ran(now)
    receipt_closed = _closed(_receipt_window(), now)
    waiting = sources_of(MACHINES["receipt"], "deem_confirmed")
    # Items first, while their receipts are still waiting: that is how we find them.
    item_receipt = select(Window.ends_at).join(Receipt, and_(
        Receipt.school_id == Window.school_id, Receipt.window_id == Window.id)).where(
        Receipt.school_id == Item.school_id, Receipt.id == Item.receipt_id, Receipt.state.in_(waiting))
    for kinds, moves in _item_moves("deem_confirmed"):
        _move(uow, Item, "deem_confirmed", moves, and_(Item.kind.in_(kinds), _closed(item_receipt, now)),
              deadline=item_receipt.scalar_subquery(), actor=actor, reason=reason,
              subject_kind=Item.kind, extra_values={"updated_at": now})
    deadline = _receipt_window().scalar_subquery()
    return _move(uow, Receipt, "deem_confirmed", waiting, receipt_closed, deadline=deadline,
                 actor=actor, reason=reason, subject_kind=literal("receipt"),
                 extra_values={"closed_at": deadline})


SWEEPS = {"lock_drafts": lock_drafts, "expire_certification": expire_certification,
          "deem_confirmed": deem_confirmed}


def run_all(uow: UnitOfWork, now: datetime, actor: Actor | None = None) -> SweepResult:
    """Every deadline effect that is due at `now`, once, in one transaction."""
    uow.serialise("transitions")
    result = SweepResult({name: sweep(uow, now, actor) for name, sweep in SWEEPS.items()})
    uow.commit()
    return result
