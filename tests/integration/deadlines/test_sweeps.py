"""Deadline sweeps: set-based, idempotent, one audit row per moved item, on both engines."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from persistence.tables import AuditEntry, Item, Receipt
from tests.world import (AFTER_CERTIFICATION, AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD,
                         UPLOAD_LAST_DAY, YEAR, World)
from workflows.core.clock import end_of_day
from workflows.items import certification, selection
from workflows.central import receipts
from workflows.deadlines import sweeps
from datetime import date, datetime, timezone

AFTER_RECEIPTS = datetime(2026, 10, 19, 1, 0, tzinfo=timezone.utc)


def states(world) -> dict[int, str]:
    with world.uow() as uow:
        return dict(uow.session.execute(select(Item.id, Item.state)).all())


def audit_count(world, event) -> int:
    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.event == event))


def test_upload_and_certification_deadlines_fire_once(db, files):
    world = World(db, files)
    draft = world.upload(0, title="草稿")
    waiting = world.upload(1, title="待認證")
    world.run(certification.submit, world.student(1), waiting, now=IN_UPLOAD)

    with world.uow() as uow:
        early = sweeps.run_all(uow, IN_UPLOAD)
    assert early.total == 0

    with world.uow() as uow:
        result = sweeps.run_all(uow, AFTER_CERTIFICATION)
    assert result.changed["lock_drafts"] == 1 and result.changed["expire_certification"] == 1
    assert states(world)[draft] == "locked" and states(world)[waiting] == "not_certified"

    with world.uow() as uow:
        again = sweeps.run_all(uow, AFTER_CERTIFICATION)
    assert again.total == 0
    assert audit_count(world, "lock") == 1 and audit_count(world, "expire_certification") == 1
    with world.uow() as uow:
        row = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "lock")).one()
    assert (row.from_state, row.to_state, row.actor_kind, row.subject_id) == ("draft", "locked", "system", draft)
    # Dated at the deadline (the end of the students' last day, Taipei), not when the sweep ran.
    assert row.file_hash and row.at == end_of_day(UPLOAD_LAST_DAY)
    assert "執行時間 115/02/10 10:00" in row.reason  # when it actually ran, in Taipei time


def test_receipts_not_answered_are_deemed_confirmed_with_their_items(db, files):
    world = World(db, files)
    ids = []
    for n in (0, 1):
        item_id = world.upload(n)
        world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
        world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
        world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)
        ids.append(item_id)
    world.run(receipts.submit_selected, world.staff(), kind="course_outcome", academic_year=YEAR,
              confirmation_window_id=world.receipt_window_id, now=AFTER_SELECTION)
    with world.uow() as uow:
        receipt_of = dict(uow.session.execute(select(Item.id, Item.receipt_id)).all())
    world.run(receipts.confirm, world.student(0), receipt_of[ids[0]], now=IN_RECEIPT)

    with world.uow() as uow:
        assert sweeps.deem_confirmed(uow, IN_RECEIPT) == 0  # window still open
    with world.uow() as uow:
        result = sweeps.run_all(uow, AFTER_RECEIPTS)
    assert result.changed["deem_confirmed"] == 1
    assert states(world) == {ids[0]: "receipt_confirmed", ids[1]: "deemed_confirmed"}
    with world.uow() as uow:
        deemed = uow.session.get(Receipt, receipt_of[ids[1]])
        # Deemed as of the end of the period (2026-10-18, Taipei), whenever the sweep ran.
        assert deemed.state == "deemed_confirmed" and deemed.closed_at == end_of_day(date(2026, 10, 18))
        audit = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "deem_confirmed")).all()
    assert len(audit) == 2  # the receipt and its one item
    assert all("逾期視為確認" in a.reason and a.actor_kind == "system" for a in audit)
    assert all(a.at == end_of_day(date(2026, 10, 18)) for a in audit)


def test_two_sweeps_at_once_move_and_audit_each_row_once(db, files):
    world = World(db, files, students=3)
    for n in range(3):
        world.upload(n)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweep():
        try:
            barrier.wait()
            with world.uow() as uow:
                results.append(sweeps.run_all(uow, AFTER_CERTIFICATION).total)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [0, 3]
    assert audit_count(world, "lock") == 3


def test_a_sweep_names_the_files_as_every_other_audit_row_does(db, files):
    world = World(db, files)
    draft = world.upload()
    with world.uow() as uow:
        sweeps.run_all(uow, AFTER_CERTIFICATION)
        rows = uow.session.scalars(select(AuditEntry).where(AuditEntry.subject_id == draft,
                                                            AuditEntry.subject_kind == "course_outcome")
                                   .order_by(AuditEntry.id)).all()
    assert [r.event for r in rows] == ["upload", "lock"]
    assert rows[1].file_hash == rows[0].file_hash and rows[0].file_hash.startswith("document=")
