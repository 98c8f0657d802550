"""Concurrent requests: threads start together (Barrier), each in its own unit of work. SQLite
serialises them with BEGIN IMMEDIATE and a busy timeout; PostgreSQL with row locks and the
version columns. Either way exactly one move wins and no cap is exceeded."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from persistence.tables import AuditEntry, Item
from tests import samples
from tests.concurrency import race
from tests.world import IN_SELECTION, IN_UPLOAD, World
from workflows.items import certification, selection
from workflows.core.errors import DomainError, RuleViolation
from workflows.items.rules import SELECTED_STATES
from workflows.items.uploads import Upload, upload_course_outcome

IN_UPLOAD_SEM2 = datetime(2026, 4, 1, 2, 0, tzinfo=timezone.utc)

# Up to 15 PostgreSQL connections at once (the pool's most): under pytest-xdist these tests and
# tests/reliability/test_races.py (up to 50) run on one worker, one after another, so that the
# workers together stay within the server's max_connections (100).
pytestmark = pytest.mark.xdist_group("many-connections")


@pytest.fixture
def world(db, files):
    return World(db, files)



def errors(results) -> list[BaseException]:
    return [value for outcome, value in results if outcome == "error"]


def audit_events(world, item_id: int, events) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_kind == "course_outcome", AuditEntry.subject_id == item_id,
            AuditEntry.event.in_(events))))


def test_concurrent_certify_and_reject_one_item_exactly_one_wins(world):
    item_id = world.upload()
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    teacher = world.teacher  # actors first: no unit of work is open inside another
    n = 20

    def work(i: int) -> str:
        with world.uow() as uow:
            if i % 2:
                certification.reject(uow, teacher, item_id, reason=f"退回 {i}", now=IN_UPLOAD)
                return "reject"
            certification.certify(uow, teacher, item_id, now=IN_UPLOAD)
            return "certify"

    results = race(n, work)
    winners = [value for outcome, value in results if outcome == "ok"]
    assert len(winners) == 1, results
    losers = errors(results)
    assert len(losers) == n - 1
    for error in losers:
        assert isinstance(error, DomainError), repr(error)
        assert error.status == 409, repr(error)
        assert error.code in ("conflict", "invalid_transition"), repr(error)

    rows = audit_events(world, item_id, ("certify", "reject"))
    assert len(rows) == 1
    assert rows[0].event == winners[0]
    with world.uow() as uow:
        stored = uow.get(Item, item_id)
    assert stored.state == {"certify": "certified", "reject": "rejected"}[winners[0]]
    assert stored.version == 3  # upload, submit, the one winning move


def _certified_outcomes(world, how_many: int) -> list[int]:
    with world.uow() as uow:
        per_semester = uow.policy.outcome_uploads_per_semester
    student, teacher = world.student(), world.teacher
    ids = []
    for n in range(how_many):
        course_id, now = ((world.course_id, IN_UPLOAD) if n < per_semester
                          else (world.course_sem2_id, IN_UPLOAD_SEM2))
        item_id = world.upload(course_id=course_id, now=now, title=f"成果{n}")
        world.run(certification.submit, student, item_id, now=now)
        world.run(certification.certify, teacher, item_id, now=now)
        ids.append(item_id)
    return ids


def test_concurrent_selections_never_exceed_the_cap(world):
    with world.uow() as uow:
        cap = uow.policy.outcome_selections_per_year
    ids = _certified_outcomes(world, cap + 4)
    student = world.student()

    def work(i: int) -> int:
        with world.uow() as uow:
            return selection.select(uow, student, ids[i], now=IN_SELECTION).id

    results = race(len(ids), work)
    chosen = [value for outcome, value in results if outcome == "ok"]
    for error in errors(results):
        assert isinstance(error, DomainError), repr(error)
        if isinstance(error, RuleViolation):
            assert error.rule == "course_outcome_selections_per_year"
            assert error.limit == cap
        else:
            assert error.status == 409 and error.code == "conflict", repr(error)

    with world.uow() as uow:
        selected = set(uow.session.scalars(select(Item.id).where(
            Item.student_id == world.student_ids[0], Item.kind == "course_outcome",
            Item.state.in_(SELECTED_STATES["course_outcome"]))))
    assert len(selected) <= cap
    assert len(selected) == cap  # serialised, so every request up to the cap succeeds
    assert selected == set(chosen)
    rows = [row for item_id in ids for row in audit_events(world, item_id, ("select",))]
    assert len(rows) == len(selected)
    assert {row.subject_id for row in rows} == selected


def test_concurrent_uploads_never_exceed_the_semester_cap(world):
    with world.uow() as uow:
        cap = uow.policy.outcome_uploads_per_semester
    student = world.student()
    n = cap + 3

    def work(i: int) -> int:
        with world.uow() as uow:
            return upload_course_outcome(
                uow, student, student_id=world.student_ids[0], course_id=world.course_id,
                title=f"同時上傳{i}", document=Upload.of(samples.pdf(f"race {i}"), "作品.pdf"),
                now=IN_UPLOAD)

    results = race(n, work)
    created = [value for outcome, value in results if outcome == "ok"]
    for error in errors(results):
        assert isinstance(error, DomainError), repr(error)
        if isinstance(error, RuleViolation):
            assert error.rule == "outcome_uploads_per_semester" and error.limit == cap
        else:
            assert error.status == 409, repr(error)

    with world.uow() as uow:
        stored = set(uow.session.scalars(select(Item.id).where(
            Item.student_id == world.student_ids[0], Item.kind == "course_outcome")))
        uploads = uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.subject_kind == "course_outcome", AuditEntry.event == "upload"))
    assert len(stored) <= cap
    assert len(stored) == cap  # serialised, so every request up to the cap succeeds
    assert stored == set(created)
    assert uploads == len(stored)
