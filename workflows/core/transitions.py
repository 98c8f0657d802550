"""The one way a state changes: build the machine on the row, fire the event, write the audit row."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, literal
from statemachine import StateMachine
from statemachine.exceptions import TransitionNotAllowed

from persistence.audit_guard import announce
from persistence.tables import AuditEntry, GradeCorrection, Item, Receipt, SubmissionBatch
from states import MACHINES, allowed_from, event_label, state_ids, state_label
from workflows.core.actors import Actor
from workflows.core.errors import CorruptState, InvalidTransition, NotFound


# Rows with one machine for the whole table, by the key of MACHINES (and of their audit rows);
# an item's machine is its kind's.
_ONE_MACHINE = {Receipt: "receipt", SubmissionBatch: "batch", GradeCorrection: "grade_correction"}
# A row that lives in a state machine.
Machined = Item | Receipt | SubmissionBatch | GradeCorrection


def subject_kind(row) -> str:
    """How audit rows name the row's kind: the item kind, or receipt, batch, grade_correction."""
    return _ONE_MACHINE.get(type(row)) or row.kind


def machine_class(row) -> type[StateMachine]:
    return MACHINES[subject_kind(row)]


def machine_for(row: Machined) -> StateMachine:
    """The machine bound to the row. A stored state the machine does not know is refused."""
    machine = machine_class(row)
    if row.state not in state_ids(machine):
        raise CorruptState(f"資料狀態「{row.state}」無法辨識，已停止處理；請通知平臺管理者。",
                           state=row.state, kind=subject_kind(row))
    return machine(model=row, state_field="state")


def allowed_events(row: Machined) -> list[tuple[str, str]]:
    """(event id, zh-TW label) the diagram allows from the row's current state."""
    machine = machine_class(row)
    if row.state not in state_ids(machine):
        machine_for(row)  # refuses the unknown state
    return list(allowed_from(machine, row.state))


def invalid(row: Machined, event: str, *,
            label: str | None = None) -> InvalidTransition:
    """The refusal of `event` in the row's state, naming the state and what it allows. `label`
    names an action that is none of the machine's events (a grade correction's 「簽章」, whichever
    signature the request waits for)."""
    machine = machine_class(row)
    return InvalidTransition(kind=subject_kind(row), state=row.state,
                             state_label=state_label(machine, row.state), event=event,
                             event_label=label or event_label(machine, event), allowed=allowed_events(row))


def require_allowed(row: Machined, event: str) -> None:
    """Refuse an event the diagram does not allow from the row's state before any other rule is
    checked, so the user hears about the state first."""
    if event not in {event_id for event_id, _ in allowed_events(row)}:
        raise invalid(row, event)


def item_file_hash(item: Item) -> str | None:
    """How an audit row names an item's files: "document=<sha256>;media=<sha256>"."""
    parts = [f"{slot}={digest}" for slot, digest in
             (("document", item.document_sha256), ("media", item.media_sha256)) if digest]
    return ";".join(parts) or None


def item_file_hash_sql():
    """The same as item_file_hash, as an SQL expression for set-based sweeps."""
    document, media = Item.document_sha256, Item.media_sha256
    return func.nullif(
        case((document.is_not(None), literal("document=") + document), else_=literal(""))
        + case((and_(document.is_not(None), media.is_not(None)), literal(";")), else_=literal(""))
        + case((media.is_not(None), literal("media=") + media), else_=literal("")), "")


def note(session, *, school_id: int, subject_kind: str, subject_id: int, event: str, actor: Actor,
         at: datetime, from_state: str | None = None, to_state: str | None = None,
         reason: str | None = None, student_id: int | None = None,
         file_hash: str | None = None) -> AuditEntry:
    """Append one audit row. Items and receipts go through `record`; schools, windows and
    imports call this directly."""
    entry = AuditEntry(
        school_id=school_id, subject_kind=subject_kind, subject_id=subject_id, student_id=student_id,
        event=event, from_state=from_state, to_state=to_state,
        actor_kind=actor.kind, actor_id=actor.id, actor_name=actor.name,
        on_behalf_kind=actor.on_behalf.kind if actor.on_behalf else None,
        on_behalf_id=actor.on_behalf.id if actor.on_behalf else None,
        on_behalf_name=actor.on_behalf.name if actor.on_behalf else None,
        at=at, reason=reason, file_hash=file_hash)
    session.add(entry)
    return entry


def record(session, row: Machined, *, event: str, from_state: str | None, actor: Actor,
           at: datetime, reason: str | None = None, file_hash: str | None = None) -> AuditEntry:
    """Append the audit row for a change of `row` (state change or not)."""
    if actor.school_id is not None and actor.school_id != row.school_id:
        raise NotFound("找不到資料：只能處理自己學校的資料。")
    announce(session, row)
    if row.id is None:
        session.flush()
    return note(session, school_id=row.school_id, subject_kind=subject_kind(row),
                subject_id=row.id, student_id=getattr(row, "student_id", None), event=event,
                from_state=from_state, to_state=row.state, actor=actor, at=at, reason=reason,
                file_hash=file_hash if file_hash is not None else (
                    item_file_hash(row) if isinstance(row, Item) else None))


def fire(session, row: Machined, event: str, *, actor: Actor, at: datetime,
         reason: str | None = None) -> None:
    """Fire `event` on the row's machine and audit it; an event the diagram does not allow
    from the current state raises InvalidTransition naming the state and the allowed events."""
    machine = machine_for(row)
    before = row.state
    try:
        machine.send(event)
    except TransitionNotAllowed:
        raise invalid(row, event) from None
    record(session, row, event=event, from_state=before, actor=actor, at=at, reason=reason)


def start(session, row: Machined, *, event: str, actor: Actor, at: datetime,
          reason: str | None = None) -> None:
    """Put a new row in its machine's initial state and audit its creation."""
    machine_class(row)(model=row, state_field="state")
    session.add(row)
    record(session, row, event=event, from_state=None, actor=actor, at=at, reason=reason)
