"""Races (issue 7, RELIABILITY.md): the numbers of the issue, on SQLite and PostgreSQL.

Threads start together (a Barrier), each in its own unit of work, on a connection pool wide
enough that every request holds its own connection at once. Whoever wins, the rules hold:
50 selection requests for one student never exceed the policy's cap; of 20 certify/reject
requests on one item exactly one wins; a teacher's and a proxy's bulk certification of the same
items certify each item once, with one audit row each. Losers get a refusal a person can read
(409 / 422), never an exception of another kind.

    python -m pytest -s -p no:cacheprovider tests/reliability/test_races.py [--heavy]

Figures: printed, and saved in test-artifacts/reliability/races.json (one entry per scenario
and engine).
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from persistence.db import Database, make_engine
from persistence.tables import AuditEntry, Course, Item, Staff
from tests.artifacts import update_json
from tests.concurrency import race
from tests.world import IN_SELECTION, IN_UPLOAD, World
from workflows.items import certification, selection
from workflows.people import proxies
from workflows.items.bulk import bulk_certify
from workflows.core.errors import DomainError, InvalidTransition, RuleViolation
from workflows.items.rules import SELECTED_STATES
from workflows.core.unit_of_work import UnitOfWork

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability" / "races.json"
IN_UPLOAD_SEM2 = datetime(2026, 4, 1, 2, 0, tzinfo=timezone.utc)
SELECTION_REQUESTS = 50
CERTIFY_REJECT_REQUESTS = 20

# Up to 50 PostgreSQL connections at once: under pytest-xdist these tests and
# tests/integration/core/test_races.py run on one worker, one after another, so that the workers
# together stay within the server's max_connections (100).
pytestmark = pytest.mark.xdist_group("many-connections")


def save(scenario: str, engine: str, figures: dict) -> None:
    """Print the figures and merge them into races.json under "scenario[engine]"."""
    key = f"{scenario}[{engine}]"
    print(f"\n{key}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    update_json(ARTIFACT, lambda saved: saved.update({key: figures}),
                end="\n", ensure_ascii=False, indent=2, sort_keys=True)


@pytest.fixture
def world(db, files):
    return World(db, files)


def wide(db: Database, n: int) -> Database:
    """The same database with a pool of n connections: n requests really run at once."""
    return Database(make_engine(db.engine.url.render_as_string(hide_password=False),
                                pool_size=n, max_overflow=0, pool_timeout=60))



def split(results) -> tuple[list, list[BaseException]]:
    return ([v for outcome, v in results if outcome == "ok"],
            [v for outcome, v in results if outcome == "error"])


def refusal_codes(losers) -> dict[str, int]:
    """Every loser must be a refusal a person can read: a DomainError of the 4xx kind."""
    for error in losers:
        assert isinstance(error, DomainError) and 400 <= error.status < 500, repr(error)
    return dict(Counter(getattr(e, "rule", None) or e.code for e in losers))


def audit_rows(world, events, ids=None) -> list[AuditEntry]:
    with world.uow() as uow:
        query = uow.select(AuditEntry).where(AuditEntry.event.in_(events))
        if ids is not None:
            query = query.where(AuditEntry.subject_id.in_(ids))
        return list(uow.session.scalars(query.order_by(AuditEntry.id)))


def items(world, ids) -> dict[int, Item]:
    with world.uow() as uow:
        return {i: uow.get(Item, i) for i in ids}


# -- 50 concurrent selections for one student --------------------------------------------------


def certified_outcomes(world, n: int = 0) -> list[int]:
    """As many certified course outcomes as the upload caps allow the student: both semesters."""
    with world.uow() as uow:
        per_semester = uow.policy.outcome_uploads_per_semester
    student, teacher = world.student(n), world.teacher
    ids = []
    for course_id, now in ((world.course_id, IN_UPLOAD), (world.course_sem2_id, IN_UPLOAD_SEM2)):
        for k in range(per_semester):
            item_id = world.upload(n, course_id=course_id, now=now, title=f"成果{now.month}-{k}")
            world.run(certification.submit, student, item_id, now=now)
            world.run(certification.certify, teacher, item_id, now=now)
            ids.append(item_id)
    return ids


@pytest.mark.parametrize("kind", ["course_outcome", "performance"])
def test_fifty_concurrent_selections_for_one_student_never_exceed_the_cap(world, db, kind):
    with world.uow() as uow:
        cap = uow.policy.selection_cap(kind)
    if kind == "course_outcome":  # 12 items (the year's upload cap), 50 requests across them
        ids = certified_outcomes(world)
    else:  # no upload cap on performances: one request per item
        ids = [world.upload_performance(0, title=f"表現{k}") for k in range(SELECTION_REQUESTS)]
    assert len(ids) > cap
    student = world.student()
    racing = wide(db, SELECTION_REQUESTS)

    def work(i: int) -> int:
        with UnitOfWork(racing, world.school_id, world.files) as uow:
            return selection.select(uow, student, ids[i % len(ids)], now=IN_SELECTION).id

    try:
        results = race(SELECTION_REQUESTS, work)
    finally:
        racing.dispose()
    chosen, losers = split(results)
    codes = refusal_codes(losers)
    for error in losers:
        if isinstance(error, RuleViolation):
            assert (error.rule, error.limit) == (f"{kind}_selections_per_year", cap), repr(error)
            assert f"已達上限 {cap} 件" in error.message
        else:  # a second request for an item already selected
            assert isinstance(error, InvalidTransition) and error.details["state"] == "selected", repr(error)

    with world.uow() as uow:
        selected = set(uow.session.scalars(uow.select(Item.id).where(
            Item.student_id == world.student_ids[0], Item.kind == kind,
            Item.state.in_(SELECTED_STATES[kind]))))
    rows = audit_rows(world, ("select",), ids)
    save(f"selections_{kind}", db.dialect, {
        "requests": SELECTION_REQUESTS, "items": len(ids), "cap": cap, "accepted": len(chosen),
        "selected": len(selected), "select_audit_rows": len(rows), "refusals": codes})
    assert len(selected) == cap  # the cap holds, and requests up to it are served
    assert sorted(chosen) == sorted(selected)  # every acknowledged selection is stored, once
    assert sorted(r.subject_id for r in rows) == sorted(selected)


# -- 20 concurrent certify / reject on one item ------------------------------------------------


def test_twenty_concurrent_certify_or_reject_on_one_item_exactly_one_wins(db, files, heavy):
    world = World(db, files, students=12 if heavy else 3)  # one item per student and round
    teacher = world.teacher
    racing = wide(db, CERTIFY_REJECT_REQUESTS)
    wins, refusals = Counter(), Counter()
    try:
        for n in range(len(world.student_ids)):
            item_id = world.upload(n, title=f"回合{n}")
            world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)

            def work(i: int) -> str:
                with UnitOfWork(racing, world.school_id, world.files) as uow:
                    if i % 2:
                        certification.reject(uow, teacher, item_id, reason=f"退回 {i}", now=IN_UPLOAD)
                        return "reject"
                    certification.certify(uow, teacher, item_id, now=IN_UPLOAD)
                    return "certify"

            winners, losers = split(race(CERTIFY_REJECT_REQUESTS, work))
            assert len(winners) == 1, (winners, losers)
            for error in losers:
                assert isinstance(error, DomainError) and error.status == 409, repr(error)
                assert error.code in ("conflict", "invalid_transition"), repr(error)
            refusals.update(refusal_codes(losers))
            wins[winners[0]] += 1
            rows = audit_rows(world, ("certify", "reject"), [item_id])
            assert [r.event for r in rows] == winners
            stored = items(world, [item_id])[item_id]
            assert stored.state == {"certify": "certified", "reject": "rejected"}[winners[0]]
            assert stored.version == 3  # upload, submit, the one winning move
            if winners[0] == "certify":
                assert stored.certified_document_sha256 == stored.document_sha256
    finally:
        racing.dispose()
    rounds = len(world.student_ids)
    save("certify_or_reject", db.dialect, {
        "rounds": rounds, "requests_per_round": CERTIFY_REJECT_REQUESTS,
        "winners_per_round": 1, "wins": dict(wins), "refusals": dict(refusals)})
    assert sum(wins.values()) == rounds


# -- a teacher's and a proxy's bulk certification of the same items ---------------------------

# 李老師's leave starts on 2025-11-02 (Taipei). His last request of 11-01 and his duty proxy's first
# of 11-02 are both allowed (workflows/people/routing.py decides by the Taipei day of the request).
LEAVE_STARTS = date(2025, 11, 2)
LAST_SECOND_BEFORE = datetime(2025, 11, 1, 15, 59, 59, tzinfo=timezone.utc)  # 23:59:59 Taipei
FIRST_SECOND_OF = datetime(2025, 11, 1, 16, 0, 1, tzinfo=timezone.utc)  # 00:00:01 Taipei


def _staff(world, no: str, name: str, *roles: str) -> int:
    return world.add_staff(no, name, *roles)


def teacher_and_duty_proxy(world):
    """李老師 (in-school course, 新莊 routes it to his duty proxy) at 23:59:59 on the eve of his
    leave, and his proxy 趙老師 at 00:00:01 on its first day."""
    proxy = _staff(world, "T100", "趙老師", "subject_teacher")
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=world.other_teacher_id,
              proxy_staff_ids=[proxy], now=IN_UPLOAD)
    world.run(proxies.mark_unavailable, world.staff(), world.other_teacher_id, starts_on=LEAVE_STARTS,
              reason="leave", note_text="公假", now=IN_UPLOAD)
    return [(world.other_teacher_id, LAST_SECOND_BEFORE, None),
            (proxy, FIRST_SECOND_OF, world.other_teacher_id)]


def two_office_members(world):
    """李老師 left; 新莊 routes his external multi-elective course to the teaching section (教學組),
    whose two members may both certify it on the same day."""
    first = _staff(world, "S010", "林組長", "teaching_section")
    second = _staff(world, "S011", "黃幹事", "teaching_section")
    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id).values(active=False))
        uow.session.execute(update(Course).where(Course.id == world.course2_id)
                            .values(route="external_multi_elective"))
        uow.session.commit()
    return [(first, IN_UPLOAD, world.other_teacher_id), (second, IN_UPLOAD, world.other_teacher_id)]


@pytest.mark.parametrize("pair", [teacher_and_duty_proxy, two_office_members],
                         ids=["teacher_and_duty_proxy", "two_office_members"])
def test_concurrent_bulk_certifications_certify_each_item_once(db, files, heavy, pair):
    students = 12 if heavy else 3
    world = World(db, files, students=students)
    racers = pair(world)  # [(staff id, now, on behalf of)], both allowed to certify these items
    actors = {sid: world.staff(sid) for sid, _, _ in racers}
    per_racer = 3  # each person double-clicks: 3 requests each
    n = per_racer * len(racers)
    racing = wide(db, n)
    rounds = 3
    wins, refusals, certified_total = Counter(), Counter(), 0
    try:
        for r in range(rounds):
            # Two waiting outcomes of 李老師's course per student and round (6 a semester each).
            ids = []
            for s in range(students):
                for k in range(2):
                    item_id = world.upload(s, course_id=world.course2_id, title=f"第{r}回{k}")
                    world.run(certification.submit, world.student(s), item_id, now=IN_UPLOAD)
                    ids.append(item_id)
            versions = {i: item.version for i, item in items(world, ids).items()}

            def work(i: int) -> int:
                staff_id, now, _ = racers[i % len(racers)]
                # Each page showed the same waiting items, in its own order.
                shown = ids if i % 2 else list(reversed(ids))
                with UnitOfWork(racing, world.school_id, world.files) as uow:
                    # Some pages send the versions they showed (stale page → conflict), some not
                    # (already certified → invalid transition): either way a 409 naming the item.
                    bulk_certify(uow, actors[staff_id], shown, now=now,
                                 expected_versions=versions if i % 3 else None)
                return staff_id

            winners, losers = split(race(n, work))
            assert len(winners) == 1, (winners, losers)  # all or nothing: one bulk action wins
            for error in losers:
                assert isinstance(error, DomainError) and error.status == 409, repr(error)
                assert error.details.get("item_id") in ids  # the refusal names the item
                assert "（編號" in error.message
            refusals.update(refusal_codes(losers))
            winner = winners[0]
            wins[actors[winner].name] += 1

            stored = items(world, ids)
            assert {item.state for item in stored.values()} == {"certified"}
            assert {item.certified_by_id for item in stored.values()} == {winner}
            assert all(item.version == 3 for item in stored.values())
            rows = audit_rows(world, ("certify",), ids)
            assert sorted(row.subject_id for row in rows) == sorted(ids)  # one row per item
            behalf = next(b for sid, _, b in racers if sid == winner)
            assert {(row.actor_id, row.on_behalf_id) for row in rows} == {(winner, behalf)}
            certified_total += len(ids)
    finally:
        racing.dispose()
    all_rows = audit_rows(world, ("certify",))
    save(f"bulk_certify_{pair.__name__}", db.dialect, {
        "rounds": rounds, "items_per_round": 2 * students, "requests_per_round": n,
        "wins": dict(wins), "items_certified": certified_total, "certify_audit_rows": len(all_rows),
        "refusals": dict(refusals)})
    assert len(all_rows) == certified_total
