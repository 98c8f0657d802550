"""Training records 研習、宣導、訓練: recorded by the executive secretary, listed by year, deleted
with an audited reason; the self-check shows which kind has no session this year."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from persistence.tables import AuditEntry
from tests.world import World
from workflows.school import self_check, trainings
from workflows.core.errors import Forbidden, InvalidInput, NotFound

NOW = datetime(2025, 10, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(db, files) -> World:
    return World(db, files)


def _record(world, actor=None, **values):
    fields = dict(kind="training", held_on="2025-09-10", title="學習歷程系統操作", audience="高一學生",
                  attendees="320")
    fields.update(values)
    return world.run(trainings.record_session, actor or world.staff(), now=NOW, **fields)


def _missing(world, year=114):
    return [kind for kind, _ in world.run(self_check.overview, world.staff(), year, now=NOW).trainings_missing]


def test_missing_this_year_until_each_kind_is_held(world):
    assert _missing(world) == ["training", "workshop", "parent_session"]
    _record(world)
    _record(world, kind="parent_session", held_on=date(2025, 9, 27), title="親師座談", audience="高一家長",
            attendees=150)
    assert _missing(world) == ["workshop"]
    # A session of the previous academic year (July 2025 is 113) does not count for 114.
    _record(world, kind="workshop", held_on="2025-07-20", title="教師研習", audience="全體教師", attendees=80)
    assert _missing(world) == ["workshop"] and _missing(world, 113) == ["training", "parent_session"]
    _record(world, kind="workshop", held_on="2025-08-25", title="教師研習", audience="全體教師", attendees=80)
    assert _missing(world) == []


def test_list_by_year_and_audited_delete(world):
    first = _record(world)
    _record(world, kind="workshop", held_on="2025-08-25", title="教師研習", audience="全體教師", attendees=80)
    listed = world.run(trainings.sessions, world.staff(), 114)
    assert [(s.held_on, s.kind_label) for s in listed] == [(date(2025, 8, 25), "教師研習（工作坊）"),
                                                           (date(2025, 9, 10), "教育訓練（系統操作）")]
    with pytest.raises(InvalidInput, match="刪除原因"):
        world.run(trainings.delete_session, world.staff(), first, reason=" ", now=NOW)
    world.run(trainings.delete_session, world.staff(), first, reason="日期登錄錯誤", now=NOW)
    assert [s.id for s in world.run(trainings.sessions, world.staff(), 114)] != [first]
    assert "training" in _missing(world)
    with world.uow() as uow:
        entries = list(uow.session.scalars(uow.select(AuditEntry).where(
            AuditEntry.subject_kind == "training", AuditEntry.subject_id == first).order_by(AuditEntry.id)))
    assert [e.event for e in entries] == ["record_training", "delete_training"]
    assert entries[1].reason == "日期登錄錯誤" and "學習歷程系統操作" in entries[1].from_state
    with pytest.raises(NotFound):
        world.run(trainings.delete_session, world.staff(), first, reason="again", now=NOW)


def test_bad_input_is_refused_naming_the_field(world):
    for values, field in ((dict(kind="concert"), "kind"), (dict(held_on="2025-13-01"), "held_on"),
                          (dict(held_on="2025-10-02"), "held_on"), (dict(title=""), "title"),
                          (dict(attendees="-1"), "attendees"), (dict(attendees="many"), "attendees"),
                          (dict(audience="x" * 101), "audience")):
        with pytest.raises(InvalidInput) as error:
            _record(world, **values)
        assert error.value.field == field, values
    assert world.run(trainings.sessions, world.staff(), 114) == []


def test_teachers_and_students_may_not_record(world):
    with pytest.raises(Forbidden):
        _record(world, world.teacher)
    with pytest.raises(Forbidden):
        _record(world, world.student(0))
    with pytest.raises(Forbidden):
        world.run(trainings.sessions, world.teacher, 114)
    assert world.run(trainings.sessions, world.staff(), 114) == []
