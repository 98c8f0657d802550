"""kill -9 of the active scheduler across a deadline, with a standby waiting (issue 7).

Two `portfolio scheduler` processes on one database: one leads (PostgreSQL advisory lock, or the
`flock` next to the SQLite file), the other waits. Several windows of the real calendar and
policy (tests/world.py) are moved to close at one moment T a few seconds ahead — receipt
confirmation, selection, and the second semester's upload and certification windows — and the
leader is killed with SIGKILL just before T in some runs and just after it in others (when it
may be in the middle of the sweep). The standby takes over when the lock is released (the dead
process's database session, or its file descriptor, ends with it), and every deadline effect
happens exactly once: the audit rows per effect and the `deadline_runs` rows are counted
against the expected numbers.

    python -m pytest -s tests/reliability/test_scheduler_kill9.py            # 2 runs per engine
    python -m pytest -s tests/reliability/test_scheduler_kill9.py --heavy    # + 10 more per engine
"""
from __future__ import annotations

import json
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from persistence.tables import AuditEntry, DeadlineRun, Item, Window
from tests.artifacts import update_json
from tests.e2e.conftest import cli_db  # noqa: F401 - the fixture, for `schedulers`
from tests.e2e.test_scheduler_process import eventually, move_window, schedulers, sleep_until  # noqa: F401
from tests.world import YEAR, World
from workflows.items import certification
from workflows.core.clock import utc_now

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability" / "scheduler_kill9.json"
# Under pytest-xdist: on one worker with tests/e2e/test_scheduler_process.py, one after another.
pytestmark = pytest.mark.xdist_group("scheduler-processes")
LEAD_SECONDS = 4  # from moving the windows to T: the leader's sync (every 0.5 s) sets its triggers

# What T does, once: audit rows per event, and ledger rows per one-shot effect.
EXPECTED_AUDIT = {"deem_confirmed": 4,  # two receipts and their two items
                  "lock": 1,  # the draft of the second semester
                  "expire_certification": 1,  # the item submitted and never certified
                  "freeze_selection": 1}  # one row on the selection window
EXPECTED_LEDGER = {"freeze_selection": 1, "report_not_certified": 1}


def _window(world: World, kind: str, semester: int) -> int:
    with world.uow() as uow:
        return uow.session.scalars(uow.select(Window.id).where(
            Window.kind == kind, Window.academic_year == YEAR, Window.semester == semester)).one()


def prepare(world: World) -> list[int]:
    """Receipts, a draft and a submitted item whose windows are open; returns the windows that
    will all close at T (they close an hour from now until then)."""
    later = utc_now() + timedelta(hours=1)
    world.to_receipts((0, 1))
    upload2 = _window(world, "course_outcome_upload", 2)
    windows = [world.receipt_window_id, _window(world, "selection", 0), upload2,
               _window(world, "certification", 2)]
    for window_id in windows:
        move_window(world, window_id, starts_at=utc_now() - timedelta(days=1), ends_at=later)
    now = utc_now()
    world.upload(2, course_id=world.course_sem2_id, now=now, title="草稿")
    submitted = world.upload(1, course_id=world.course_sem2_id, now=now, title="待認證")
    world.run(certification.submit, world.student(1), submitted, now=now)
    return windows


def effects(world: World, deadline) -> tuple[dict, dict, int]:
    """Audit rows per event of the effects at T, ledger rows per effect due at T, and the
    largest number of audit rows any one subject has for one event."""
    with world.uow() as uow:
        rows = uow.session.execute(select(AuditEntry.event, AuditEntry.subject_kind, AuditEntry.subject_id).where(
            AuditEntry.event.in_(EXPECTED_AUDIT))).all()
        ledger = dict(uow.session.execute(select(DeadlineRun.effect, func.count()).where(
            DeadlineRun.due_at == deadline).group_by(DeadlineRun.effect)).all())
    per_subject = Counter(rows)
    return dict(Counter(r.event for r in rows)), ledger, max(per_subject.values(), default=0)


def _record(key: str, figures: dict) -> None:
    update_json(ARTIFACT, lambda saved: saved.update({key: figures}),
                end="\n", ensure_ascii=False, indent=2, sort_keys=True)


def kill_the_leader_across_a_deadline(db, files, schedulers, request, kill_at: str) -> None:
    world = World(db, files)
    windows = prepare(world)

    pair = [schedulers(), schedulers()]
    assert eventually(lambda: sum(p.active for p in pair) == 1 and
                      any(p.wait_for("等待接手", 0) for p in pair), 30), [p.seen for p in pair]
    leader = next(p for p in pair if p.active)
    standby = next(p for p in pair if p is not leader)

    deadline = (utc_now() + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    for window_id in windows:
        move_window(world, window_id, ends_at=deadline)
    with world.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Item).where(Item.state == "draft")) == 1

    if kill_at == "before":
        sleep_until(deadline - timedelta(seconds=1))
    else:  # just after: the leader's trigger has fired, its sweep may be half way
        sleep_until(deadline + timedelta(milliseconds=150))
    leader.kill()
    killed_at = utc_now()
    applied_by_leader, _, _ = effects(world, deadline)
    if kill_at == "before":
        assert killed_at < deadline, "the test was too slow to kill before the deadline"

    assert standby.wait_for("排程器作用中", 20), standby.seen
    took_over = utc_now()
    assert eventually(lambda: effects(world, deadline)[:2] == (EXPECTED_AUDIT, EXPECTED_LEDGER), 30), \
        effects(world, deadline)
    time.sleep(1.5)  # the stored triggers, and a second look by the new leader, change nothing
    audit, ledger, most = effects(world, deadline)
    assert standby.stop() == 0

    figures = {"engine": db.dialect, "kill": kill_at,
               "killed_ms_from_deadline": round((killed_at - deadline).total_seconds() * 1000),
               "standby_active_ms_after_kill": round((took_over - killed_at).total_seconds() * 1000),
               "audit_rows_when_killed": applied_by_leader,
               "expected_audit_rows": EXPECTED_AUDIT, "audit_rows": audit,
               "expected_deadline_runs": EXPECTED_LEDGER, "deadline_runs": ledger,
               "most_rows_for_one_subject_and_event": most, "at": utc_now().isoformat()}
    print(f"\nscheduler kill -9 ({db.dialect}, {kill_at} the deadline):", json.dumps(figures, ensure_ascii=False))
    _record(request.node.name, figures)
    assert audit == EXPECTED_AUDIT
    assert ledger == EXPECTED_LEDGER
    assert most == 1
    with world.uow() as uow:
        dated = set(uow.session.scalars(select(AuditEntry.at).where(
            AuditEntry.event.in_(("deem_confirmed", "lock", "expire_certification")))))
    assert dated == {deadline}  # dated at the deadline, whoever ran it and when


@pytest.mark.parametrize("kill_at", ["before", "after"])
def test_the_standby_takes_over_and_each_deadline_effect_happens_once(db, files, schedulers, request, kill_at):
    kill_the_leader_across_a_deadline(db, files, schedulers, request, kill_at)


@pytest.mark.heavy
@pytest.mark.parametrize("run", range(10))
def test_the_standby_takes_over_again_and_again(db, files, schedulers, request, run):
    kill_the_leader_across_a_deadline(db, files, schedulers, request, "before" if run % 2 else "after")
