"""The audit trail: every state change writes exactly one append-only row saying who (and for
whom), from, to, which event, when and with which file; nothing changes a state without one."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from persistence.audit_guard import UnauditedStateChange
from persistence.tables import AuditEntry, Item, Receipt
from tests import samples
from tests.world import AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD, YEAR, World
from workflows.items import certification, selection
from workflows.central import receipts
from workflows.core.actors import Actor
from workflows.core.errors import CorruptState, Forbidden
from workflows.core.policy import load_policy
from workflows.core.transitions import allowed_events, machine_for, record
from workflows.items.uploads import Upload, edit_item, upload_course_outcome, upload_performance


@pytest.fixture
def world(db, files):
    return World(db, files)


def trail(world, subject_kind: str, subject_id: int) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_kind == subject_kind, AuditEntry.subject_id == subject_id)
            .order_by(AuditEntry.id)))


def audit_count(world) -> int:
    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry))


def stored(world, item_id: int) -> Item:
    with world.uow() as uow:
        return uow.get(Item, item_id)


def minutes(start, n: int):
    return start + timedelta(minutes=n)


# -- nothing changes a state without an audit row --------------------------------------------

def test_a_direct_state_change_is_refused_at_flush_and_nothing_is_stored(world):
    item_id = world.upload()
    before = audit_count(world)
    with world.uow() as uow:
        item = uow.get(Item, item_id)
        item.state = "submitted"
        with pytest.raises(UnauditedStateChange):
            uow.session.flush()
    with world.uow() as uow:
        item = uow.get(Item, item_id)
        item.state = "certified"
        item.title = "順便改標題"
        with pytest.raises(UnauditedStateChange):
            uow.commit()
    after = stored(world, item_id)
    assert (after.state, after.title, after.version) == ("draft", "作品", 1)
    assert audit_count(world) == before


def test_one_audit_row_covers_one_state_change_only(world):
    item_id = world.upload()
    student, before = world.student(), audit_count(world)
    from workflows.core.transitions import fire

    with world.uow() as uow:
        item = uow.get(Item, item_id)
        fire(uow.session, item, "submit", actor=student, at=IN_UPLOAD)
        uow.session.flush()  # the audited change
        item.state = "certified"  # a second change without its own row
        with pytest.raises(UnauditedStateChange):
            uow.session.flush()
    assert stored(world, item_id).state == "draft"
    assert audit_count(world) == before


def test_an_edit_audit_row_does_not_license_a_later_state_change(world):
    item_id = world.upload()
    student, before = world.student(), audit_count(world)
    with world.uow() as uow:
        item = uow.get(Item, item_id)
        item.title = "新標題"
        record(uow.session, item, event="edit", from_state=item.state, actor=student, at=IN_UPLOAD)
        uow.session.flush()  # the audited edit: no state change
        item.state = "submitted"  # unaudited
        with pytest.raises(UnauditedStateChange):
            uow.session.flush()
    assert stored(world, item_id).state == "draft"
    assert audit_count(world) == before


# -- append-only ------------------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET reason = 'rewritten' WHERE id = :id",
    "UPDATE audit_log SET to_state = 'certified', actor_name = '某人' WHERE id = :id",
    "DELETE FROM audit_log WHERE id = :id",
    "DELETE FROM audit_log",
])
def test_audit_rows_cannot_be_updated_or_deleted_even_by_raw_sql(world, statement):
    item_id = world.upload()
    entry = trail(world, "course_outcome", item_id)[0]
    before = audit_count(world)
    with world.uow() as uow:
        with pytest.raises(DBAPIError, match="append-only"):
            uow.session.execute(text(statement), {"id": entry.id})
    again = trail(world, "course_outcome", item_id)[0]
    assert (again.reason, again.to_state, again.actor_name) == (entry.reason, "draft", "學生0")
    assert audit_count(world) == before


def test_audit_rows_cannot_be_changed_through_the_orm_either(world):
    item_id = world.upload()
    entry_id = trail(world, "course_outcome", item_id)[0].id
    with world.uow() as uow:
        entry = uow.get(AuditEntry, entry_id)
        entry.reason = "rewritten"
        with pytest.raises(DBAPIError, match="append-only"):
            uow.session.flush()
    with world.uow() as uow:
        uow.session.delete(uow.get(AuditEntry, entry_id))
        with pytest.raises(DBAPIError, match="append-only"):
            uow.session.flush()
    assert trail(world, "course_outcome", item_id)[0].reason is None


# -- every transition, one row ----------------------------------------------------------------

def test_every_transition_of_a_course_outcomes_life_writes_exactly_one_row(world):
    student, teacher, staff = world.student(), world.teacher, world.staff()
    s = ("student", student.id, "學生0")
    t = ("staff", teacher.id, "王老師")
    o = ("staff", staff.id, "陳組長")
    v1, v2 = samples.pdf("v1"), samples.pdf("v2")
    item_id = world.upload(data=v1, now=minutes(IN_UPLOAD, 0))
    h1 = f"document={stored(world, item_id).document_sha256}"

    def at(n):
        return minutes(IN_UPLOAD, n)

    world.run(certification.submit, student, item_id, now=at(1))
    world.run(certification.withdraw, student, item_id, now=at(2))
    world.run(certification.submit, student, item_id, now=at(3))
    world.run(certification.reject, teacher, item_id, reason="檔案模糊", now=at(4))
    world.run(certification.resubmit, student, item_id, now=at(5))
    world.run(certification.certify, teacher, item_id, now=at(6))
    world.run(edit_item, student, item_id, document=Upload.of(v2, "v2.pdf"), now=at(7))
    h2 = f"document={stored(world, item_id).document_sha256}"
    assert h2 != h1
    world.run(certification.submit, student, item_id, now=at(8))
    world.run(certification.certify, teacher, item_id, now=at(9))
    world.run(selection.select, student, item_id, now=minutes(IN_SELECTION, 0))
    world.run(selection.unselect, student, item_id, now=minutes(IN_SELECTION, 1))
    world.run(selection.select, student, item_id, now=minutes(IN_SELECTION, 2))
    world.run(receipts.submit_selected, staff, kind="course_outcome", academic_year=YEAR,
              confirmation_window_id=world.receipt_window_id, now=AFTER_SELECTION)
    receipt_id = stored(world, item_id).receipt_id
    world.run(receipts.confirm, student, receipt_id, now=IN_RECEIPT)

    expected = [
        ("upload", None, "draft", s, at(0), h1, None),
        ("submit", "draft", "submitted", s, at(1), h1, None),
        ("withdraw", "submitted", "draft", s, at(2), h1, None),
        ("submit", "draft", "submitted", s, at(3), h1, None),
        ("reject", "submitted", "rejected", t, at(4), h1, "檔案模糊"),
        ("resubmit", "rejected", "submitted", s, at(5), h1, None),
        ("certify", "submitted", "certified", t, at(6), h1, None),
        ("void_certification", "certified", "draft", s, at(7), h2,
         "學生更換檔案，原認證失效，需重新送出認證"),
        ("submit", "draft", "submitted", s, at(8), h2, None),
        ("certify", "submitted", "certified", t, at(9), h2, None),
        ("select", "certified", "selected", s, minutes(IN_SELECTION, 0), h2, None),
        ("unselect", "selected", "unselected", s, minutes(IN_SELECTION, 1), h2, None),
        ("select", "unselected", "selected", s, minutes(IN_SELECTION, 2), h2, None),
        ("submit_central", "selected", "submitted_central", o, AFTER_SELECTION, h2, None),
        ("confirm_receipt", "submitted_central", "receipt_confirmed", s, IN_RECEIPT, h2, None),
    ]
    rows = trail(world, "course_outcome", item_id)
    got = [(r.event, r.from_state, r.to_state, (r.actor_kind, r.actor_id, r.actor_name), r.at,
            r.file_hash, r.reason) for r in rows]
    assert got == expected
    assert all(r.student_id == world.student_ids[0] and r.school_id == world.school_id for r in rows)
    assert all(r.on_behalf_kind is None and r.on_behalf_id is None for r in rows)
    assert stored(world, item_id).state == "receipt_confirmed"

    receipt_rows = [(r.event, r.from_state, r.to_state, r.actor_name, r.at)
                    for r in trail(world, "receipt", receipt_id)]
    assert receipt_rows == [("issue", None, "issued", "陳組長", AFTER_SELECTION),
                            ("confirm", "issued", "confirmed", "學生0", IN_RECEIPT)]


def test_every_transition_of_a_performances_life_writes_exactly_one_row(world):
    student, staff = world.student(), world.staff()
    item_id = world.upload_performance(now=IN_UPLOAD)
    world.run(selection.select, student, item_id, now=minutes(IN_SELECTION, 0))
    world.run(selection.unselect, student, item_id, now=minutes(IN_SELECTION, 1))
    world.run(selection.select, student, item_id, now=minutes(IN_SELECTION, 2))
    world.run(receipts.submit_selected, staff, kind="performance", academic_year=YEAR,
              confirmation_window_id=world.receipt_window_id, now=AFTER_SELECTION)
    receipt_id = stored(world, item_id).receipt_id
    world.run(receipts.dispute, student, receipt_id, reason="證明文件不是我上傳的", now=IN_RECEIPT)
    h = f"document={stored(world, item_id).document_sha256}"
    got = [(r.event, r.from_state, r.to_state, r.actor_name, r.at, r.file_hash)
           for r in trail(world, "performance", item_id)]
    assert got == [
        ("upload", None, "uploaded", "學生0", IN_UPLOAD, h),
        ("select", "uploaded", "selected", "學生0", minutes(IN_SELECTION, 0), h),
        ("unselect", "selected", "unselected", "學生0", minutes(IN_SELECTION, 1), h),
        ("select", "unselected", "selected", "學生0", minutes(IN_SELECTION, 2), h),
        ("submit_central", "selected", "submitted_central", "陳組長", AFTER_SELECTION, h),
        ("dispute", "submitted_central", "disputed", "學生0", IN_RECEIPT, h),
    ]
    with world.uow() as uow:
        assert uow.get(Receipt, receipt_id).state == "disputed"


# -- guardians --------------------------------------------------------------------------------

def guardian_of(world, n: int = 0) -> Actor:
    return Actor("guardian", 900, "家長甲", world.school_id, student_ids=frozenset({world.student_ids[n]}))


def test_a_guardian_acting_for_the_student_is_recorded_on_behalf(world):
    guardian = guardian_of(world)
    sid = world.student_ids[0]
    with world.uow() as uow:
        item_id = upload_course_outcome(uow, guardian, student_id=sid, course_id=world.course_id,
                                        title="家長代傳", document=Upload.of(samples.pdf("g"), "g.pdf"),
                                        now=IN_UPLOAD)
    world.run(certification.submit, guardian, item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    world.run(selection.select, guardian, item_id, now=IN_SELECTION)

    rows = trail(world, "course_outcome", item_id)
    assert [r.event for r in rows] == ["upload", "submit", "certify", "select"]
    for row in (rows[0], rows[1], rows[3]):
        assert (row.actor_kind, row.actor_id, row.actor_name) == ("guardian", 900, "家長甲")
        assert (row.on_behalf_kind, row.on_behalf_id, row.on_behalf_name) == ("student", sid, "學生0")
    assert (rows[2].actor_kind, rows[2].on_behalf_kind) == ("staff", None)
    assert stored(world, item_id).student_id == sid

    with pytest.raises(Forbidden):  # not the guardian of student 1
        world.run(upload_performance, guardian, student_id=world.student_ids[1], academic_year=YEAR,
                  category="competition", title="別人的", document=Upload.of(samples.pdf("x"), "x.pdf"),
                  now=IN_UPLOAD)


def test_guardians_are_refused_where_the_policy_says_they_may_not_act(db, files):
    policy = dataclasses.replace(load_policy("xinzhuang"), name="noguardian", guardians_may_act=False)
    world = World(db, files, policy=policy)
    with world.uow() as uow:
        assert uow.policy.guardians_may_act is False
    guardian = guardian_of(world)
    before = audit_count(world)
    with pytest.raises(Forbidden) as refused:
        world.run(upload_course_outcome, guardian, student_id=world.student_ids[0],
                  course_id=world.course_id, title="家長代傳",
                  document=Upload.of(samples.pdf("g"), "g.pdf"), now=IN_UPLOAD)
    assert "家長" in refused.value.message
    item_id = world.upload()  # the student still may
    with pytest.raises(Forbidden):
        world.run(certification.submit, guardian, item_id, now=IN_UPLOAD)
    with world.uow() as uow:
        items = uow.session.scalars(select(Item)).all()
    assert [(i.id, i.state) for i in items] == [(item_id, "draft")]
    assert audit_count(world) == before + 1  # the student's upload only
    assert all(r.actor_kind == "student" for r in trail(world, "course_outcome", item_id))


# -- states no machine knows ------------------------------------------------------------------

def test_a_state_no_machine_knows_is_refused(world):
    bogus = Item(kind="course_outcome", state="bogus")
    with pytest.raises(CorruptState) as refused:
        machine_for(bogus)
    assert refused.value.status == 500
    assert refused.value.details["state"] == "bogus"
    with pytest.raises(CorruptState):
        allowed_events(Item(kind="performance", state="draft"))  # a course outcome's state

    item_id = world.upload()  # and the database will not store one either
    with world.uow() as uow:
        with pytest.raises(DBAPIError):
            uow.session.execute(text("UPDATE items SET state = 'bogus' WHERE id = :id"), {"id": item_id})
    assert stored(world, item_id).state == "draft"


def test_a_batch_cannot_change_state_without_an_audit_row(db, files):
    from persistence.tables import SubmissionBatch
    from workflows.central import batches
    from workflows.items import certification, selection

    world = World(db, files)
    item_id = world.upload(0)
    world.run(certification.submit, world.student(0), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    world.run(selection.select, world.student(0), item_id, now=IN_SELECTION)
    staff = world.staff()
    with world.uow() as uow:
        batch_id = batches.create_batch(uow, staff, "year_outcomes", YEAR, 0, now=AFTER_SELECTION).id
    with world.uow() as uow:
        uow.get(SubmissionBatch, batch_id).state = "submitted"  # skipping export and the audit
        with pytest.raises(UnauditedStateChange):
            uow.session.flush()
