"""One python-statemachine `StateMachine` per artefact kind: the single list of allowed moves.

No I/O here. `workflows/` builds a machine on a row to fire an event; the UI, the API and the
scheduler ask these classes what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace

from statemachine import StateMachine

from states.batch import BatchMachine
from states.course_outcome import CourseOutcomeMachine
from states.grade_correction import GradeCorrectionMachine
from states.performance import PerformanceMachine
from states.receipt import ReceiptMachine

MACHINES: dict[str, type[StateMachine]] = {
    "course_outcome": CourseOutcomeMachine,
    "performance": PerformanceMachine,
    "receipt": ReceiptMachine,
    "batch": BatchMachine,
    "grade_correction": GradeCorrectionMachine,
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    event: str


def edges(machine: type[StateMachine]) -> list[Edge]:
    """Every (source, target, event) the class declares, read from the class itself."""
    return [Edge(t.source.id, t.target.id, event.id)
            for state in machine.states for t in state.transitions for event in t.events]


def sources_of(machine: type[StateMachine], event: str) -> dict[str, str]:
    """{source state: target state} for one event: the WHERE of a set-based sweep."""
    found = {e.source: e.target for e in edges(machine) if e.event == event}
    if not found:
        raise KeyError(f"{machine.__name__} has no event {event!r}")
    return found


@lru_cache(maxsize=None)
def state_ids(machine: type[StateMachine]) -> frozenset[str]:
    return frozenset(s.id for s in machine.states)


def state_label(machine: type[StateMachine], state: str) -> str:
    return next(s.name for s in machine.states if s.id == state)


def event_label(machine: type[StateMachine], event: str) -> str:
    return next(e.name for e in machine.events if e.id == event)


def events_from(machine: type[StateMachine], state: str) -> list[str]:
    """Events allowed from `state` by the diagram alone (windows and roles not applied)."""
    return sorted({e.event for e in edges(machine) if e.source == state})


@lru_cache(maxsize=None)
def allowed_from(machine: type[StateMachine], state: str) -> tuple[tuple[str, str], ...]:
    """(event id, label) of the events `machine` allows from `state`, in the machine's own order:
    what `machine(...).allowed_events` answers for a row in that state, asked once per state
    (building a machine costs more than the rest of a request's state logic)."""
    row = SimpleNamespace(state=state)
    return tuple((event.id, event.name) for event in machine(model=row, state_field="state").allowed_events)
