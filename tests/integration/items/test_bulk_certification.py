"""Bulk certification 批次認證 and its undo 復原 (workflows/items/bulk.py), on SQLite and PostgreSQL:
the same rules as certifying one item, all or nothing, audited one row per item."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from persistence.tables import AuditEntry, Course, Item, Staff
from tests.integration.people.test_routing import staff_with
from tests.world import AFTER_CERTIFICATION, IN_TAIL, IN_UPLOAD, YEAR, World
from workflows.school import calendar
from workflows.items import certification, selection
from workflows.items.bulk import BULK_MAX, bulk_certify, undo_certification
from workflows.core.errors import Conflict, Forbidden, InvalidInput, InvalidTransition, RuleViolation


@pytest.fixture
def world(db, files):
    return World(db, files)


def waiting(world, n: int = 0, *, course_id=None, title="作品") -> int:
    item_id = world.upload(n, course_id=course_id, title=title)
    world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
    return item_id


def items(world, ids) -> dict[int, Item]:
    with world.uow() as uow:
        return {i: uow.get(Item, i) for i in ids}


def states(world, ids) -> list[str]:
    found = items(world, ids)
    return [found[i].state for i in ids]


def audit(world, event: str) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(AuditEntry.event == event)
                                        .order_by(AuditEntry.subject_id)))


def absent_other_teacher(world) -> None:
    """李老師 left; 新莊 routes his external multi-elective course to the teaching section."""
    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id).values(active=False))
        uow.session.execute(update(Course).where(Course.id == world.course2_id)
                            .values(route="external_multi_elective"))
        uow.session.commit()


def test_bulk_certify_certifies_each_item_as_one_at_a_time_would(world):
    ids = [waiting(world, n) for n in range(3)]
    versions = {i: item.version for i, item in items(world, ids).items()}

    done = world.run(bulk_certify, world.teacher, ids, expected_versions=versions, now=IN_TAIL)

    assert done == sorted(ids)
    for item in items(world, ids).values():
        assert item.state == "certified"
        assert (item.certified_by_id, item.certified_at) == (world.teacher_id, IN_TAIL)
        assert item.certified_document_sha256 == item.document_sha256
    rows = audit(world, "certify")
    assert [(r.subject_id, r.from_state, r.to_state, r.actor_name) for r in rows] == [
        (i, "submitted", "certified", "王老師") for i in sorted(ids)]


def test_one_refusal_certifies_none_and_names_the_item(world):
    mine = [waiting(world, 0), waiting(world, 1)]
    others = waiting(world, 2, course_id=world.course2_id, title="李老師的課")

    with pytest.raises(Forbidden) as refused:
        world.run(bulk_certify, world.teacher, [*mine, others], expected_versions=None, now=IN_UPLOAD)

    assert f"「李老師的課」（編號 {others}）" in refused.value.message
    assert "任課教師李老師認證" in refused.value.message
    assert states(world, [*mine, others]) == ["submitted"] * 3
    assert audit(world, "certify") == []


def test_an_item_not_waiting_stops_the_whole_batch(world):
    ready = waiting(world, 0)
    draft = world.upload(1, title="草稿")
    with pytest.raises(InvalidTransition) as refused:
        world.run(bulk_certify, world.teacher, [ready, draft], expected_versions=None, now=IN_UPLOAD)
    assert "「草稿」" in refused.value.message and "草稿" in refused.value.message
    assert states(world, [ready, draft]) == ["submitted", "draft"]


def test_a_stale_page_certifies_nothing(world):
    ids = [waiting(world, 0), waiting(world, 1)]
    seen = {i: item.version for i, item in items(world, ids).items()}
    # The student withdrew and resubmitted the second after the teacher's page was loaded.
    world.run(certification.withdraw, world.student(1), ids[1], now=IN_UPLOAD)
    world.run(certification.submit, world.student(1), ids[1], now=IN_UPLOAD)

    with pytest.raises(Conflict) as refused:
        world.run(bulk_certify, world.teacher, ids, expected_versions=seen, now=IN_UPLOAD)

    assert "已被變更" in refused.value.message and refused.value.details["item_id"] == ids[1]
    assert states(world, ids) == ["submitted", "submitted"]


def test_bulk_certify_needs_the_certification_window(world):
    ids = [waiting(world, 0)]
    with pytest.raises(RuleViolation) as refused:
        world.run(bulk_certify, world.teacher, ids, expected_versions=None, now=AFTER_CERTIFICATION)
    assert refused.value.rule == "window_closed"
    assert states(world, ids) == ["submitted"]


def test_bulk_certify_refuses_an_empty_or_oversized_choice(world):
    with pytest.raises(InvalidInput):
        world.run(bulk_certify, world.teacher, [], expected_versions=None, now=IN_UPLOAD)
    with pytest.raises(RuleViolation) as refused:
        world.run(bulk_certify, world.teacher, range(1, BULK_MAX + 2), expected_versions=None, now=IN_UPLOAD)
    assert refused.value.limit == BULK_MAX


def test_a_proxy_bulk_certifies_on_the_absent_teachers_behalf(world):
    section = staff_with(world, "S010", "林組長", "teaching_section")
    ids = [waiting(world, n, course_id=world.course2_id) for n in range(2)]
    absent_other_teacher(world)

    world.run(bulk_certify, world.staff(section), ids, expected_versions=None, now=IN_UPLOAD)

    rows = audit(world, "certify")
    assert [(r.actor_id, r.on_behalf_id, r.on_behalf_name) for r in rows] == [
        (section, world.other_teacher_id, "李老師")] * 2
    assert {item.certified_by_id for item in items(world, ids).values()} == {section}


def test_undo_puts_the_items_back_in_the_queue_and_clears_the_certification(world):
    ids = [waiting(world, n) for n in range(2)]
    world.run(bulk_certify, world.teacher, ids, expected_versions=None, now=IN_UPLOAD)

    done = world.run(undo_certification, world.teacher, ids, now=IN_TAIL)

    assert done == sorted(ids)
    for item in items(world, ids).values():
        assert item.state == "submitted"
        assert item.certified_by_id is item.certified_at is None
        assert item.certified_document_sha256 is item.certified_media_sha256 is None
    rows = audit(world, "revoke_certification")
    assert [(r.subject_id, r.from_state, r.to_state, r.actor_name, r.at) for r in rows] == [
        (i, "certified", "submitted", "王老師", IN_TAIL) for i in sorted(ids)]
    # Back in the queue: it can be certified again.
    world.run(certification.certify, world.teacher, ids[0], now=IN_TAIL)
    assert states(world, ids) == ["certified", "submitted"]


def test_undo_is_refused_once_the_certification_window_closed(world):
    ids = [waiting(world, 0)]
    world.run(bulk_certify, world.teacher, ids, expected_versions=None, now=IN_UPLOAD)
    with pytest.raises(RuleViolation) as refused:
        world.run(undo_certification, world.teacher, ids, now=AFTER_CERTIFICATION)
    assert refused.value.rule == "window_closed" and "截止" in refused.value.message
    assert states(world, ids) == ["certified"]
    assert audit(world, "revoke_certification") == []


def test_undo_only_of_ones_own_certifications(world):
    first = staff_with(world, "S010", "林組長", "teaching_section")
    second = staff_with(world, "S011", "張組員", "teaching_section")
    ids = [waiting(world, n, course_id=world.course2_id) for n in range(2)]
    absent_other_teacher(world)
    world.run(bulk_certify, world.staff(first), ids[:1], expected_versions=None, now=IN_UPLOAD)
    world.run(bulk_certify, world.staff(second), ids[1:], expected_versions=None, now=IN_UPLOAD)

    with pytest.raises(Forbidden) as refused:
        world.run(undo_certification, world.staff(second), ids, now=IN_UPLOAD)
    assert "不是你認證的" in refused.value.message
    assert states(world, ids) == ["certified", "certified"]  # all or nothing

    world.run(undo_certification, world.staff(first), ids[:1], now=IN_UPLOAD)
    row = audit(world, "revoke_certification")[0]
    assert (row.actor_id, row.on_behalf_name) == (first, "李老師")  # audited as the proxy's act


def test_undo_is_refused_for_a_teacher_who_does_not_certify_the_course(world):
    ids = [waiting(world, 0)]
    world.run(bulk_certify, world.teacher, ids, expected_versions=None, now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        world.run(undo_certification, world.staff(world.other_teacher_id), ids, now=IN_UPLOAD)
    assert states(world, ids) == ["certified"]


def test_undo_is_refused_once_the_student_selected_the_item(world):
    # A school whose selection window overlaps the certification window.
    staff = world.staff()
    with world.uow() as uow:
        calendar.define_window(uow, staff, "selection", YEAR, 0, date(2025, 10, 1),
                               date(2026, 9, 13), now=IN_UPLOAD)
        uow.commit()
    ids = [waiting(world, 0)]
    world.run(bulk_certify, world.teacher, ids, expected_versions=None, now=IN_UPLOAD)
    world.run(selection.select, world.student(0), ids[0], now=IN_UPLOAD)

    with pytest.raises(InvalidTransition) as refused:
        world.run(undo_certification, world.teacher, ids, now=IN_UPLOAD)
    assert "已勾選" in refused.value.message
    assert states(world, ids) == ["selected"]


def test_undo_twice_is_refused_the_second_time(world):
    ids = [waiting(world, 0)]
    world.run(bulk_certify, world.teacher, ids, expected_versions=None, now=IN_UPLOAD)
    world.run(undo_certification, world.teacher, ids, now=IN_UPLOAD)
    with pytest.raises(InvalidTransition):
        world.run(undo_certification, world.teacher, ids, now=IN_UPLOAD)
    assert len(audit(world, "revoke_certification")) == 1


def test_undo_from_a_stale_page_revokes_nothing(world):
    ids = [waiting(world, 0), waiting(world, 1)]
    world.run(bulk_certify, world.teacher, ids, expected_versions=None, now=IN_UPLOAD)
    seen = {i: item.version for i, item in items(world, ids).items()}
    # Undone and certified again in another tab after this page was loaded.
    world.run(undo_certification, world.teacher, ids[1:], now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, ids[1], now=IN_UPLOAD)

    with pytest.raises(Conflict) as refused:
        world.run(undo_certification, world.teacher, ids, expected_versions=seen, now=IN_UPLOAD)

    assert "已被變更" in refused.value.message and refused.value.details["item_id"] == ids[1]
    assert states(world, ids) == ["certified", "certified"]
    assert len(audit(world, "revoke_certification")) == 1
