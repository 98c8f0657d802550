"""The school's caps, read from its own policy, hold exactly at the boundary — for every preset,
on SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from persistence.tables import Item
from tests.world import IN_SELECTION, IN_UPLOAD, World
from workflows.items import certification, selection
from workflows.core.actors import platform_admin
from workflows.core.errors import RuleViolation
from workflows.core.policy import NATIONAL, PolicyError, load_policy
from workflows.items.rules import SELECTED_STATES
from workflows.school.schools import create_school
from workflows.items.uploads import delete_item

PRESETS = ["xinzhuang", "nanning", "template"]
# 114 學年度第 2 學期: uploads 2026-03-01 .. 2026-07-14 (World defines the windows).
IN_UPLOAD_SEM2 = datetime(2026, 4, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture(params=PRESETS)
def world(request, db, files):
    return World(db, files, policy=request.param)


def policy_of(world):
    with world.uow() as uow:
        return uow.policy


def count(world, kind: str, states=None, student: int = 0) -> int:
    with world.uow() as uow:
        statement = select(func.count()).select_from(Item).where(
            Item.student_id == world.student_ids[student], Item.kind == kind)
        if states is not None:
            statement = statement.where(Item.state.in_(states))
        return uow.session.scalar(statement)


def certified_outcomes(world, how_many: int) -> list[int]:
    """`how_many` certified outcomes of student 0, filling semester 1 up to its cap first."""
    per_semester = policy_of(world).outcome_uploads_per_semester
    student, teacher = world.student(), world.teacher
    ids = []
    for n in range(how_many):
        first = n < per_semester
        course_id, now = (world.course_id, IN_UPLOAD) if first else (world.course_sem2_id, IN_UPLOAD_SEM2)
        item_id = world.upload(course_id=course_id, now=now, title=f"成果{n}")
        world.run(certification.submit, student, item_id, now=now)
        world.run(certification.certify, teacher, item_id, now=now)
        ids.append(item_id)
    return ids


def test_the_school_runs_on_its_preset_within_the_national_limits(world, request):
    preset = request.node.callspec.params["world"]
    policy = policy_of(world)
    assert policy == load_policy(preset)
    assert 1 <= policy.selection_cap("course_outcome") <= NATIONAL.outcome_selections_per_year_max == 6
    assert 1 <= policy.selection_cap("performance") <= NATIONAL.performance_selections_per_year_max == 10


def test_outcome_uploads_per_semester_hold_exactly_at_the_cap(world):
    cap = policy_of(world).outcome_uploads_per_semester
    ids = [world.upload(title=f"成果{n}") for n in range(cap)]
    assert len(set(ids)) == cap

    with pytest.raises(RuleViolation) as refused:
        world.upload(title="一件太多")
    error = refused.value
    assert error.rule == "outcome_uploads_per_semester"
    assert error.limit == cap
    assert error.field == "course_id"
    assert f"上限 {cap} 件" in error.message
    assert count(world, "course_outcome") == cap  # the refused upload left no row

    # The cap is per student and per semester: others are unaffected.
    world.upload(1, title="別的學生")
    world.upload(course_id=world.course_sem2_id, now=IN_UPLOAD_SEM2, title="第二學期")

    # Deleting a draft frees exactly one slot.
    world.run(delete_item, world.student(), ids[0], now=IN_UPLOAD)
    world.upload(title="補上")
    with pytest.raises(RuleViolation) as again:
        world.upload(title="又太多")
    assert again.value.rule == "outcome_uploads_per_semester"
    assert count(world, "course_outcome", states=["draft"]) == cap + 1  # cap in sem 1, one in sem 2


def test_performance_uploads_per_year_follow_the_policy(world):
    cap = policy_of(world).performance_uploads_per_year
    if cap is None:
        # No school cap (新莊): more than any other preset's 20 is accepted.
        for n in range(21):
            world.upload_performance(title=f"表現{n}")
        assert count(world, "performance") == 21
        return

    ids = [world.upload_performance(title=f"表現{n}") for n in range(cap)]
    with pytest.raises(RuleViolation) as refused:
        world.upload_performance(title="一件太多")
    error = refused.value
    assert error.rule == "performance_uploads_per_year"
    assert error.limit == cap
    assert f"上限 {cap} 件" in error.message
    assert count(world, "performance") == cap

    world.run(delete_item, world.student(), ids[0], now=IN_UPLOAD)
    world.upload_performance(title="補上")
    with pytest.raises(RuleViolation):
        world.upload_performance(title="又太多")
    assert count(world, "performance", states=["uploaded"]) == cap


def test_course_outcome_selections_hold_exactly_at_the_cap(world):
    cap = policy_of(world).outcome_selections_per_year
    assert 1 <= cap <= NATIONAL.outcome_selections_per_year_max == 6
    *chosen, extra = certified_outcomes(world, cap + 1)
    student = world.student()
    for item_id in chosen:
        world.run(selection.select, student, item_id, now=IN_SELECTION)

    with pytest.raises(RuleViolation) as refused:
        world.run(selection.select, student, extra, now=IN_SELECTION)
    error = refused.value
    assert error.rule == "course_outcome_selections_per_year"
    assert error.limit == cap
    assert f"上限 {cap} 件" in error.message
    selected = SELECTED_STATES["course_outcome"]
    assert count(world, "course_outcome", states=selected) == cap

    world.run(selection.unselect, student, chosen[0], now=IN_SELECTION)
    world.run(selection.select, student, extra, now=IN_SELECTION)
    assert count(world, "course_outcome", states=selected) == cap
    with pytest.raises(RuleViolation):
        world.run(selection.select, student, chosen[0], now=IN_SELECTION)
    assert count(world, "course_outcome", states=selected) == cap


def test_performance_selections_hold_exactly_at_the_cap(world):
    cap = policy_of(world).performance_selections_per_year
    assert 1 <= cap <= NATIONAL.performance_selections_per_year_max == 10
    ids = [world.upload_performance(title=f"表現{n}") for n in range(cap + 1)]
    *chosen, extra = ids
    student = world.student()
    for item_id in chosen:
        world.run(selection.select, student, item_id, now=IN_SELECTION)

    with pytest.raises(RuleViolation) as refused:
        world.run(selection.select, student, extra, now=IN_SELECTION)
    assert refused.value.rule == "performance_selections_per_year"
    assert refused.value.limit == cap
    assert f"上限 {cap} 件" in refused.value.message
    selected = SELECTED_STATES["performance"]
    assert count(world, "performance", states=selected) == cap

    world.run(selection.unselect, student, chosen[-1], now=IN_SELECTION)
    world.run(selection.select, student, extra, now=IN_SELECTION)
    assert count(world, "performance", states=selected) == cap


@pytest.mark.parametrize("change", [{"outcome_selections_per_year": 7},
                                    {"performance_selections_per_year": 11}])
def test_a_school_cannot_be_created_with_selections_above_the_national_limit(db, files, change):
    loose = dataclasses.replace(load_policy("xinzhuang"), name="loose", **change)
    with pytest.raises(PolicyError):
        create_school(db, platform_admin(), code="013399", name="寬鬆高中", policy=loose,
                      now=IN_UPLOAD)
