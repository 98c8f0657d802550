"""Disputes 疑義: each disputed item goes to the office the policy names for its category; the
office (or the executive secretary / admin) settles it by answering the student or by marking it
corrected for resubmission, with a reason the student reads; nobody else can."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from persistence.tables import AuditEntry, Item
from tests.world import IN_RECEIPT, World
from workflows.central import disputes, receipts
from workflows.core.errors import Conflict, Forbidden, InvalidInput, InvalidTransition
from workflows.core.policy import load_policy
from workflows.central.portfolio_view import student_receipts


def add_staff(world: World, no: str, name: str, roles: list[str]):
    with world.uow() as uow:  # setup: a staff member with exactly these roles
        staff_id = world._staff(uow.session, no, name, roles)
        uow.commit()
    return world.staff(staff_id)


@pytest.fixture
def offices(world):
    return {"equipment": add_staff(world, "S010", "林組長", ["equipment_section"]),
            "activities": add_staff(world, "S011", "張組長", ["student_activities"]),
            "registry": add_staff(world, "S012", "黃組長", ["registry"])}


@pytest.fixture
def world(db, files):
    return World(db, files)


def disputed_item(world, n: int = 0, *, kind: str = "course_outcome", now=IN_RECEIPT,
                  reason: str = "檔案與我上傳的不同") -> int:
    receipt_id = world.to_receipts((n,), kind=kind)[n]
    world.run(receipts.dispute, world.student(n), receipt_id, reason=reason, now=now)
    with world.uow() as uow:
        return uow.session.scalars(uow.select(Item).where(Item.receipt_id == receipt_id)).one().id


def queue(world, actor, now=IN_RECEIPT):
    return world.run(disputes.dispute_queue, actor, now=now)


def stored(world, item_id) -> Item:
    with world.uow() as uow:
        return uow.get(Item, item_id)


def test_a_dispute_goes_to_the_office_of_its_category_with_its_age(world, offices):
    outcome = disputed_item(world, 0, now=IN_RECEIPT)
    performance = disputed_item(world, 1, kind="performance", now=IN_RECEIPT + timedelta(hours=5),
                                reason="少了一張獎狀")
    later = IN_RECEIPT + timedelta(days=2, hours=7)
    equipment = queue(world, offices["equipment"], later)
    assert [(r.item_id, r.kind, r.office, r.reason) for r in equipment] == [
        (outcome, "course_outcome", "equipment_section", "檔案與我上傳的不同")]
    assert (equipment[0].disputed_at, equipment[0].age, equipment[0].age_text) == (
        IN_RECEIPT, timedelta(days=2, hours=7), "2 日 7 小時")
    assert [(r.item_id, r.office_label) for r in queue(world, offices["activities"], later)] == [
        (performance, "訓育組")]
    assert queue(world, offices["registry"], later) == []  # registry has basic data and grades
    # The executive secretary sees both, oldest first.
    assert [r.item_id for r in queue(world, world.staff(), later)] == [outcome, performance]


def test_a_plain_teacher_has_no_dispute_queue(world):
    disputed_item(world)
    with pytest.raises(Forbidden):
        queue(world, world.teacher)


def test_the_office_answers_the_student_and_the_student_reads_why(world, offices):
    item_id = disputed_item(world)
    world.run(disputes.resolve, offices["equipment"], item_id, kind="answered",
              reason="經查提交檔案與你上傳的相同，雜湊一致。", now=IN_RECEIPT + timedelta(days=1))
    item = stored(world, item_id)
    assert (item.state, item.resolution, item.resolution_note) == (
        "resolved", "answered", "經查提交檔案與你上傳的相同，雜湊一致。")
    with world.uow() as uow:
        audit = uow.session.execute(select(AuditEntry.event, AuditEntry.actor_name, AuditEntry.reason).where(
            AuditEntry.subject_id == item_id, AuditEntry.subject_kind == "course_outcome")
            .order_by(AuditEntry.id.desc())).first()
    assert tuple(audit) == ("resolve", "林組長", "經查提交檔案與你上傳的相同，雜湊一致。")
    assert queue(world, offices["equipment"]) == []
    page = world.run(student_receipts, world.student(0), world.student_ids[0], now=IN_RECEIPT)
    shown = page.receipts[0].items[0]
    assert (shown.resolution, shown.resolution_note) == ("answered", "經查提交檔案與你上傳的相同，雜湊一致。")


def test_the_office_marks_a_corrected_item_for_resubmission(world, offices):
    item_id = disputed_item(world, kind="performance")
    world.run(disputes.resolve, offices["activities"], item_id, kind="resubmit",
              reason="已更正獎狀檔案，將於下一批次重新提交。", now=IN_RECEIPT)
    item = stored(world, item_id)
    assert (item.state, item.resolution) == ("resolved", "resubmit")


@pytest.mark.parametrize("who", ["registry", "activities"])
def test_another_office_cannot_settle_it_and_nothing_changes(world, offices, who):
    item_id = disputed_item(world)  # a course outcome: equipment section's
    before = stored(world, item_id)
    with pytest.raises(Forbidden) as refused:
        world.run(disputes.resolve, offices[who], item_id, kind="answered", reason="不是我的", now=IN_RECEIPT)
    assert "課程學習成果的疑義由設備組處理" in refused.value.message
    after = stored(world, item_id)
    assert (after.state, after.version, after.resolution) == (before.state, before.version, None)


def test_students_and_teachers_cannot_settle_a_dispute(world):
    item_id = disputed_item(world)
    for actor in (world.student(0), world.teacher):
        with pytest.raises(Forbidden):
            world.run(disputes.resolve, actor, item_id, kind="answered", reason="自己處理", now=IN_RECEIPT)
    assert stored(world, item_id).state == "disputed"


def test_a_resolution_needs_a_known_kind_a_reason_and_a_dispute(world, offices):
    item_id = disputed_item(world)
    with pytest.raises(InvalidInput) as no_reason:
        world.run(disputes.resolve, offices["equipment"], item_id, kind="answered", reason="  ", now=IN_RECEIPT)
    assert no_reason.value.field == "reason"
    with pytest.raises(InvalidInput) as bad_kind:
        world.run(disputes.resolve, offices["equipment"], item_id, kind="ignore", reason="x", now=IN_RECEIPT)
    assert bad_kind.value.field == "kind"
    assert stored(world, item_id).state == "disputed"
    world.run(disputes.resolve, offices["equipment"], item_id, kind="answered", reason="已回覆", now=IN_RECEIPT)
    with pytest.raises(InvalidTransition):
        world.run(disputes.resolve, offices["equipment"], item_id, kind="resubmit", reason="再一次", now=IN_RECEIPT)
    assert stored(world, item_id).resolution == "answered"


def test_the_policy_decides_the_office(db, files):
    policy = replace(load_policy("xinzhuang"), name="registry-outcomes",
                     dispute_offices={**load_policy("xinzhuang").dispute_offices, "course_outcome": "registry"})
    world = World(db, files, policy=policy)
    registry = add_staff(world, "S012", "黃組長", ["registry"])
    equipment = add_staff(world, "S010", "林組長", ["equipment_section"])
    item_id = disputed_item(world)
    assert [r.item_id for r in queue(world, registry)] == [item_id]
    with pytest.raises(Forbidden):  # no category is the equipment section's any more
        queue(world, equipment)
    with pytest.raises(Forbidden):
        world.run(disputes.resolve, equipment, item_id, kind="answered", reason="x", now=IN_RECEIPT)
    world.run(disputes.resolve, registry, item_id, kind="answered", reason="註冊組已回覆", now=IN_RECEIPT)
    assert (stored(world, item_id).resolution, stored(world, item_id).resolution_note) == ("answered", "註冊組已回覆")


def test_a_stale_receipt_page_neither_confirms_nor_disputes(world):
    receipt_id = world.to_receipts((0,))[0]
    seen = world.run(student_receipts, world.student(0), world.student_ids[0], now=IN_RECEIPT).receipts[0].version
    world.run(receipts.confirm, world.student(0), receipt_id, expected_version=seen, now=IN_RECEIPT)
    with pytest.raises(Conflict) as refused:
        world.run(receipts.dispute, world.student(0), receipt_id, reason="其實少了一件", expected_version=seen,
                  now=IN_RECEIPT)
    assert "這份收訖明細在你開啟頁面後已被變更" in refused.value.message
    assert refused.value.details["state"] == "confirmed"
    with world.uow() as uow:
        assert uow.session.scalars(uow.select(Item.state).where(Item.receipt_id == receipt_id)).all() == [
            "receipt_confirmed"]


def test_a_stale_dispute_page_settles_nothing(world, offices):
    item_id = disputed_item(world)
    seen = stored(world, item_id).version
    world.run(disputes.resolve, offices["equipment"], item_id, kind="answered", reason="已回覆",
              expected_version=seen, now=IN_RECEIPT)
    with pytest.raises(Conflict) as refused:
        world.run(disputes.resolve, offices["equipment"], item_id, kind="resubmit", reason="再處理一次",
                  expected_version=seen, now=IN_RECEIPT)
    assert "這個項目在你開啟頁面後已被變更" in refused.value.message
    assert (stored(world, item_id).resolution, stored(world, item_id).resolution_note) == ("answered", "已回覆")
