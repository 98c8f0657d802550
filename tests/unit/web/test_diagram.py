"""State diagrams drawn from the states/ classes: every state and every event label is drawn,
initial and final states are marked, and the picture follows the class."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from statemachine import Event, State, StateMachine

from states import MACHINES, edges, event_label
from web.diagram import layout, machine_svg

SVG = "{http://www.w3.org/2000/svg}"


def drawn(machine) -> ET.Element:
    return ET.fromstring(str(machine_svg(machine, title="測試")))


def groups(root, css_class):
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == css_class]


def texts(element) -> list[str]:
    return [t.text for t in element.iter(f"{SVG}text")]


def tiny(*, skip: bool = True, back: bool = False) -> type[StateMachine]:
    """A fresh three-state machine (甲 → 乙 → 丙), optionally with a skip 甲 → 丙 and a way back
    乙 → 甲. Each call builds new State objects: python-statemachine attaches transitions to the
    State objects themselves, so subclasses would share (and change) their parent's."""
    start = State("甲", initial=True)
    middle = State("乙")
    end = State("丙", final=True)
    attrs = {"start": start, "middle": middle, "end": end,
             "go": Event(start.to(middle), name="前進"), "stop": Event(middle.to(end), name="停止")}
    if skip:
        attrs["skip"] = Event(start.to(end), name="略過")
    if back:
        attrs["back"] = Event(middle.to(start), name="退回")
    return type("Tiny", (StateMachine,), attrs)


@pytest.mark.parametrize("kind", sorted(MACHINES))
def test_every_state_and_every_event_label_is_drawn(kind):
    machine = MACHINES[kind]
    root = drawn(machine)
    state_texts = {g.get("data-state"): texts(g) for g in groups(root, "state")}
    assert set(state_texts) == {s.id for s in machine.states}
    for state in machine.states:
        assert state_texts[state.id] == [state.name]
    label_texts = " ".join(t for g in groups(root, "event-label") for t in texts(g))
    for event in machine.events:
        assert event.name in label_texts, event.id
    # One arrow per (source, target) pair, carrying every event of that pair.
    arrows = {(g.get("data-source"), g.get("data-target")): set(g.get("data-events").split())
              for g in groups(root, "transition")}
    expected: dict = {}
    for edge in edges(machine):
        expected.setdefault((edge.source, edge.target), set()).add(edge.event)
    assert arrows == expected


@pytest.mark.parametrize("kind", sorted(MACHINES))
def test_initial_and_final_states_are_marked(kind):
    machine = MACHINES[kind]
    root = drawn(machine)
    by_id = {g.get("data-state"): g for g in groups(root, "state")}
    for state in machine.states:
        g = by_id[state.id]
        assert g.get("data-initial") == str(bool(state.initial)).lower()
        assert g.get("data-final") == str(bool(state.final)).lower()
        assert len(g.findall(f"{SVG}rect")) == (2 if state.final else 1)  # double border
        assert len(g.findall(f"{SVG}circle")) == (1 if state.initial else 0)  # the entry dot


def test_columns_are_the_distance_from_the_initial_state():
    nodes = layout(MACHINES["course_outcome"])
    assert nodes["draft"].column == 0
    assert nodes["submitted"].column == nodes["locked"].column == nodes["deleted"].column == 1
    assert nodes["certified"].column == nodes["rejected"].column == 2
    assert nodes["resolved"].column > nodes["disputed"].column > nodes["submitted_central"].column
    receipt = layout(MACHINES["receipt"])
    assert receipt["issued"].column == 0 and {n.column for n in receipt.values()} == {0, 1}


def test_adding_an_edge_changes_the_drawing():
    plain, more = tiny(), tiny(back=True)
    assert str(machine_svg(plain)) != str(machine_svg(more))
    assert "退回" in str(machine_svg(more)) and "退回" not in str(machine_svg(plain))
    arrows = {(g.get("data-source"), g.get("data-target")) for g in groups(drawn(more), "transition")}
    assert ("middle", "start") in arrows
    assert ("middle", "start") not in {(g.get("data-source"), g.get("data-target"))
                                       for g in groups(drawn(plain), "transition")}


def test_removing_an_edge_changes_the_drawing_and_the_layout():
    with_skip, without = tiny(), tiny(skip=False)
    assert "略過" in " ".join(t for g in groups(drawn(with_skip), "event-label") for t in texts(g))
    assert "略過" not in " ".join(t for t in texts(drawn(without)) if t)
    assert layout(with_skip)["end"].column == 1  # reached directly by skip
    assert layout(without)["end"].column == 2


def test_the_drawing_is_well_formed_and_labelled():
    root = drawn(MACHINES["receipt"])
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "測試"
    desc = root.find(f"{SVG}desc").text
    for edge in edges(MACHINES["receipt"]):
        assert event_label(MACHINES["receipt"], edge.event) in desc
