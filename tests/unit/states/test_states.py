"""The state machines against hand-written transition tables taken from the issue text.

The tables below are written out by hand (never derived from the classes), so a move added to,
dropped from or redirected in a class fails here.
"""
from __future__ import annotations

import re
from collections import deque

import pytest
from statemachine.exceptions import TransitionNotAllowed

import states
from states import BatchMachine, CourseOutcomeMachine, PerformanceMachine, ReceiptMachine
from states.grade_correction import GradeCorrectionMachine

# (source, event, target)
COURSE_OUTCOME_TABLE = {
    ("draft", "submit", "submitted"),
    ("submitted", "withdraw", "draft"),
    ("submitted", "certify", "certified"),
    ("submitted", "reject", "rejected"),
    ("certified", "revoke_certification", "submitted"),
    ("rejected", "resubmit", "submitted"),
    ("certified", "void_certification", "draft"),
    ("unselected", "void_certification", "draft"),
    ("certified", "select", "selected"),
    ("unselected", "select", "selected"),
    ("selected", "unselect", "unselected"),
    ("selected", "submit_central", "submitted_central"),
    ("submitted_central", "confirm_receipt", "receipt_confirmed"),
    ("submitted_central", "deem_confirmed", "deemed_confirmed"),
    ("submitted_central", "dispute", "disputed"),
    ("disputed", "resolve", "resolved"),
    ("resolved", "resubmit_central", "submitted_central"),
    ("draft", "lock", "locked"),
    ("submitted", "expire_certification", "not_certified"),
    ("draft", "delete", "deleted"),
    ("rejected", "delete", "deleted"),
}
COURSE_OUTCOME_STATES = {
    "draft", "submitted", "certified", "rejected", "selected", "unselected", "submitted_central",
    "receipt_confirmed", "deemed_confirmed", "disputed", "resolved", "locked", "not_certified",
    "deleted",
}
COURSE_OUTCOME_FINAL = {
    "receipt_confirmed", "deemed_confirmed", "locked", "not_certified", "deleted",
}

PERFORMANCE_TABLE = {
    ("uploaded", "select", "selected"),
    ("unselected", "select", "selected"),
    ("selected", "unselect", "unselected"),
    ("selected", "submit_central", "submitted_central"),
    ("submitted_central", "confirm_receipt", "receipt_confirmed"),
    ("submitted_central", "deem_confirmed", "deemed_confirmed"),
    ("submitted_central", "dispute", "disputed"),
    ("disputed", "resolve", "resolved"),
    ("resolved", "resubmit_central", "submitted_central"),
    ("uploaded", "delete", "deleted"),
    ("unselected", "delete", "deleted"),
}
PERFORMANCE_STATES = {
    "uploaded", "selected", "unselected", "submitted_central", "receipt_confirmed",
    "deemed_confirmed", "disputed", "resolved", "deleted",
}
PERFORMANCE_FINAL = {"receipt_confirmed", "deemed_confirmed", "deleted"}

RECEIPT_TABLE = {
    ("issued", "confirm", "confirmed"),
    ("issued", "dispute", "disputed"),
    ("issued", "deem_confirmed", "deemed_confirmed"),
}
RECEIPT_STATES = {"issued", "confirmed", "disputed", "deemed_confirmed"}
RECEIPT_FINAL = {"confirmed", "disputed", "deemed_confirmed"}

# The central submission batch (issue 5, seed 002's 提交資料 → 產生收訖明細 → 學生確認).
BATCH_TABLE = {
    ("prepared", "export", "exported"),
    ("exported", "export", "exported"),
    ("exported", "submit", "submitted"),
    ("submitted", "import_receipt", "receipt_imported"),
    ("receipt_imported", "open_confirmation", "confirmation_open"),
    ("confirmation_open", "close", "closed"),
    ("prepared", "cancel", "cancelled"),
    ("exported", "cancel", "cancelled"),
}
BATCH_STATES = {"prepared", "exported", "submitted", "receipt_imported", "confirmation_open", "closed",
                "cancelled"}
BATCH_FINAL = {"closed", "cancelled"}

# The grade-correction request (issue 6, seed 002's 學生學業成績更正申請表): the paper's signatures in
# order, send-back from every signed state, withdraw a draft.
GRADE_CORRECTION_TABLE = {
    ("drafted", "sign_teacher", "teacher_signed"),
    ("teacher_signed", "sign_clerk", "clerk_signed"),
    ("clerk_signed", "sign_registry_head", "registry_head_signed"),
    ("registry_head_signed", "sign_director", "director_signed"),
    ("director_signed", "sign_principal", "principal_signed"),
    ("principal_signed", "enter_grades", "entered"),
    ("teacher_signed", "send_back", "drafted"),
    ("clerk_signed", "send_back", "drafted"),
    ("registry_head_signed", "send_back", "drafted"),
    ("director_signed", "send_back", "drafted"),
    ("principal_signed", "send_back", "drafted"),
    ("drafted", "withdraw", "withdrawn"),
}
GRADE_CORRECTION_STATES = {"drafted", "teacher_signed", "clerk_signed", "registry_head_signed", "director_signed",
                           "principal_signed", "entered", "withdrawn"}
GRADE_CORRECTION_FINAL = {"entered", "withdrawn"}

SPECS = {
    "course_outcome": (CourseOutcomeMachine, "draft", COURSE_OUTCOME_STATES, COURSE_OUTCOME_FINAL,
                       COURSE_OUTCOME_TABLE),
    "performance": (PerformanceMachine, "uploaded", PERFORMANCE_STATES, PERFORMANCE_FINAL,
                    PERFORMANCE_TABLE),
    "receipt": (ReceiptMachine, "issued", RECEIPT_STATES, RECEIPT_FINAL, RECEIPT_TABLE),
    "batch": (BatchMachine, "prepared", BATCH_STATES, BATCH_FINAL, BATCH_TABLE),
    "grade_correction": (GradeCorrectionMachine, "drafted", GRADE_CORRECTION_STATES, GRADE_CORRECTION_FINAL,
                         GRADE_CORRECTION_TABLE),
}


def _events(table) -> set[str]:
    return {event for _, event, _ in table}


ALLOWED = [
    pytest.param(kind, source, event, target, id=f"{kind}:{source}-{event}->{target}")
    for kind, (_, _, _, _, table) in SPECS.items()
    for source, event, target in sorted(table)
]

FORBIDDEN = [
    pytest.param(kind, state, event, id=f"{kind}:{state}-{event}")
    for kind, (_, _, state_set, _, table) in SPECS.items()
    for state in sorted(state_set)
    for event in sorted(_events(table))
    if not any(s == state and e == event for s, e, _ in table)
]

KINDS = pytest.mark.parametrize("kind", list(SPECS))
HAN = re.compile(r"[\u4e00-\u9fff]")


class Row:
    state = None


def _fire(machine, source: str, event: str) -> Row:
    row = Row()
    row.state = source
    machine(model=row, state_field="state").send(event)
    return row


# ---------------------------------------------------------------- the tables themselves


def test_machines_registry():
    assert states.MACHINES == {kind: spec[0] for kind, spec in SPECS.items()}


@KINDS
def test_edges_equal_the_table(kind):
    machine, _, _, _, table = SPECS[kind]
    found = [(e.source, e.event, e.target) for e in states.edges(machine)]
    assert len(found) == len(set(found)), "an edge is declared twice"
    assert set(found) == table


@KINDS
def test_state_ids(kind):
    machine, _, state_set, _, _ = SPECS[kind]
    assert states.state_ids(machine) == frozenset(state_set)


@KINDS
def test_event_ids(kind):
    machine, _, _, _, table = SPECS[kind]
    assert {e.id for e in machine.events} == _events(table)


@KINDS
def test_fresh_model_gets_the_initial_state(kind):
    machine, initial, _, _, _ = SPECS[kind]
    row = Row()
    sm = machine(model=row, state_field="state")
    assert row.state == initial
    assert {s.id for s in sm.configuration} == {initial}
    assert [s.id for s in machine.states if s.initial] == [initial]


# ---------------------------------------------------------------- firing on a plain model


@pytest.mark.parametrize("kind, source, event, target", ALLOWED)
def test_allowed_edge_fires(kind, source, event, target):
    row = _fire(SPECS[kind][0], source, event)
    assert row.state == target


@pytest.mark.parametrize("kind, state, event", FORBIDDEN)
def test_forbidden_event_raises_and_leaves_state(kind, state, event):
    row = Row()
    row.state = state
    sm = SPECS[kind][0](model=row, state_field="state")
    with pytest.raises(TransitionNotAllowed):
        sm.send(event)
    assert row.state == state


def test_forbidden_pairs_are_complete():
    """Every (state, event) pair is either allowed or tested as forbidden."""
    for kind, (_, _, state_set, _, table) in SPECS.items():
        allowed = {(s, e) for s, e, _ in table}
        forbidden = {(p.values[1], p.values[2]) for p in FORBIDDEN if p.values[0] == kind}
        assert allowed.isdisjoint(forbidden)
        assert allowed | forbidden == {(s, e) for s in state_set for e in _events(table)}


def test_reject_then_resubmit_then_certify_walk():
    row = Row()
    sm = CourseOutcomeMachine(model=row, state_field="state")
    for event, expected in [("submit", "submitted"), ("reject", "rejected"),
                            ("resubmit", "submitted"), ("certify", "certified"),
                            ("select", "selected"), ("unselect", "unselected"),
                            ("select", "selected"), ("submit_central", "submitted_central"),
                            ("dispute", "disputed"), ("resolve", "resolved"),
                            ("resubmit_central", "submitted_central"),
                            ("confirm_receipt", "receipt_confirmed")]:
        sm.send(event)
        assert row.state == expected


# ---------------------------------------------------------------- shape and labels


@KINDS
def test_final_states(kind):
    machine, _, _, final, table = SPECS[kind]
    assert {s.id for s in machine.states if s.final} == final
    for state in final:
        assert not [t for t in table if t[0] == state]
        assert states.events_from(machine, state) == []


@KINDS
def test_non_final_states_have_a_way_out(kind):
    machine, _, state_set, final, _ = SPECS[kind]
    for state in state_set - final:
        assert states.events_from(machine, state), state


@KINDS
def test_every_state_reachable_from_initial(kind):
    machine, initial, state_set, _, _ = SPECS[kind]
    graph = states.edges(machine)
    seen, queue = {initial}, deque([initial])
    while queue:
        current = queue.popleft()
        for edge in graph:
            if edge.source == current and edge.target not in seen:
                seen.add(edge.target)
                queue.append(edge.target)
    assert seen == state_set


@KINDS
def test_state_labels_are_chinese(kind):
    machine = SPECS[kind][0]
    for state in machine.states:
        assert state.name and state.name.strip(), state.id
        assert state.name != state.id
        assert HAN.search(state.name), (state.id, state.name)
        assert states.state_label(machine, state.id) == state.name


@KINDS
def test_event_labels_are_chinese(kind):
    machine = SPECS[kind][0]
    for event in machine.events:
        assert event.name and event.name.strip(), event.id
        assert event.name != event.id
        assert HAN.search(event.name), (event.id, event.name)
        assert states.event_label(machine, event.id) == event.name


@KINDS
def test_state_labels_distinct_within_machine(kind):
    machine = SPECS[kind][0]
    names = [s.name for s in machine.states]
    assert len(names) == len(set(names))


# ---------------------------------------------------------------- helper queries


@pytest.mark.parametrize("kind, event", [
    pytest.param(kind, event, id=f"{kind}:{event}")
    for kind, spec in SPECS.items() for event in sorted(_events(spec[4]))
])
def test_sources_of(kind, event):
    machine, _, _, _, table = SPECS[kind]
    expected = {s: t for s, e, t in table if e == event}
    assert states.sources_of(machine, event) == expected


def test_sources_of_examples():
    assert states.sources_of(CourseOutcomeMachine, "delete") == {"draft": "deleted",
                                                                 "rejected": "deleted"}
    assert states.sources_of(CourseOutcomeMachine, "void_certification") == {
        "certified": "draft", "unselected": "draft"}
    assert states.sources_of(CourseOutcomeMachine, "select") == {"certified": "selected",
                                                                 "unselected": "selected"}
    assert states.sources_of(PerformanceMachine, "select") == {"uploaded": "selected",
                                                               "unselected": "selected"}
    assert states.sources_of(ReceiptMachine, "deem_confirmed") == {"issued": "deemed_confirmed"}


@KINDS
@pytest.mark.parametrize("event", ["nope", "", "submitted", "confirm_receipts"])
def test_sources_of_unknown_event(kind, event):
    with pytest.raises(KeyError):
        states.sources_of(SPECS[kind][0], event)


def test_sources_of_event_of_another_machine():
    with pytest.raises(KeyError):
        states.sources_of(PerformanceMachine, "certify")
    with pytest.raises(KeyError):
        states.sources_of(ReceiptMachine, "confirm_receipt")
    with pytest.raises(KeyError):
        states.sources_of(CourseOutcomeMachine, "confirm")


@pytest.mark.parametrize("kind, state", [
    pytest.param(kind, state, id=f"{kind}:{state}")
    for kind, spec in SPECS.items() for state in sorted(spec[2])
])
def test_events_from(kind, state):
    machine, _, _, _, table = SPECS[kind]
    assert states.events_from(machine, state) == sorted({e for s, e, _ in table if s == state})


def test_events_from_examples():
    assert states.events_from(CourseOutcomeMachine, "draft") == ["delete", "lock", "submit"]
    assert states.events_from(CourseOutcomeMachine, "submitted") == [
        "certify", "expire_certification", "reject", "withdraw"]
    assert states.events_from(PerformanceMachine, "uploaded") == ["delete", "select"]
    assert states.events_from(ReceiptMachine, "issued") == ["confirm", "deem_confirmed", "dispute"]
    assert states.events_from(ReceiptMachine, "no_such_state") == []
