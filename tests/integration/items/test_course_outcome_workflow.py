"""A course outcome's life through the real workflows, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from persistence.tables import AuditEntry, Item, Receipt
from tests import samples
from tests.world import (AFTER_CERTIFICATION, AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_TAIL,
                         IN_UPLOAD, YEAR, World)
from workflows.items import certification, selection
from workflows.central import receipts
from workflows.core.errors import Forbidden, InvalidInput, InvalidTransition, RuleViolation
from workflows.items.uploads import Upload, delete_item, edit_item


@pytest.fixture
def world(db, files):
    return World(db, files)


def item(world, item_id) -> Item:
    with world.uow() as uow:
        return uow.get(Item, item_id)


def audit(world, item_id) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(select(AuditEntry).where(
            AuditEntry.subject_id == item_id, AuditEntry.subject_kind == "course_outcome")
            .order_by(AuditEntry.id)))


def test_full_life_is_audited_step_by_step(world):
    student, teacher, staff = world.student(), world.teacher, world.staff()
    item_id = world.upload()
    world.run(certification.submit, student, item_id, now=IN_UPLOAD)
    world.run(certification.certify, teacher, item_id, now=IN_UPLOAD)
    world.run(selection.select, student, item_id, now=IN_SELECTION)
    issued = world.run(receipts.submit_selected, staff, kind="course_outcome", academic_year=YEAR,
                       confirmation_window_id=world.receipt_window_id, now=AFTER_SELECTION)
    assert issued == 1
    receipt_id = item(world, item_id).receipt_id
    world.run(receipts.confirm, student, receipt_id, now=IN_RECEIPT)

    assert item(world, item_id).state == "receipt_confirmed"
    trail = [(a.event, a.from_state, a.to_state, a.actor_name) for a in audit(world, item_id)]
    assert trail == [
        ("upload", None, "draft", "學生0"),
        ("submit", "draft", "submitted", "學生0"),
        ("certify", "submitted", "certified", "王老師"),
        ("select", "certified", "selected", "學生0"),
        ("submit_central", "selected", "submitted_central", "陳組長"),
        ("confirm_receipt", "submitted_central", "receipt_confirmed", "學生0"),
    ]
    stored = item(world, item_id)
    assert all(a.file_hash == f"document={stored.document_sha256}" for a in audit(world, item_id))
    assert world.files.exists(stored.document_sha256)


def test_certification_records_what_the_teacher_saw(world):
    item_id = world.upload()
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    certified = item(world, item_id)
    assert certified.certified_document_sha256 == certified.document_sha256
    assert certified.certified_by_id == world.teacher_id


def test_replacing_a_certified_file_voids_the_certification(world):
    item_id = world.upload(data=samples.pdf("v1"))
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)

    world.run(edit_item, world.student(), item_id, document=Upload.of(samples.pdf("v1"), "same.pdf"), now=IN_UPLOAD)
    assert item(world, item_id).state == "certified"  # identical content: certification kept

    world.run(edit_item, world.student(), item_id, document=Upload.of(samples.pdf("v2"), "new.pdf"), now=IN_UPLOAD)
    voided = item(world, item_id)
    assert voided.state == "draft"
    assert voided.certified_document_sha256 is None and voided.certified_at is None
    last = audit(world, item_id)[-1]
    assert (last.event, last.from_state, last.to_state) == ("void_certification", "certified", "draft")
    assert "認證失效" in last.reason


def test_reject_needs_a_reason_and_the_student_may_resubmit_while_uploads_are_open(world):
    item_id = world.upload()
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    with pytest.raises(InvalidInput) as missing:
        world.run(certification.reject, world.teacher, item_id, reason="  ", now=IN_UPLOAD)
    assert missing.value.field == "reason"
    world.run(certification.reject, world.teacher, item_id, reason="檔案無法開啟", now=IN_UPLOAD)
    assert item(world, item_id).rejection_reason == "檔案無法開啟"
    world.run(certification.resubmit, world.student(), item_id, now=IN_UPLOAD)
    assert item(world, item_id).state == "submitted"


def test_in_the_teacher_only_tail_a_rejection_is_final(world):
    item_id = world.upload()
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    world.run(certification.reject, world.teacher, item_id, reason="與課程無關", now=IN_TAIL)
    with pytest.raises(RuleViolation) as refused:
        world.run(certification.resubmit, world.student(), item_id, now=IN_TAIL)
    assert refused.value.rule == "teacher_only_tail"
    assert "教師認證期間" in refused.value.message
    assert item(world, item_id).state == "rejected"


def test_teachers_certify_in_the_tail_but_not_after_it(world):
    first, second = world.upload(title="一"), world.upload(title="二")
    for item_id in (first, second):
        world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, first, now=IN_TAIL)
    with pytest.raises(RuleViolation) as late:
        world.run(certification.certify, world.teacher, second, now=AFTER_CERTIFICATION)
    assert late.value.rule == "window_closed"
    assert "115/02/06 23:59" in late.value.message  # 3 working days after 115/02/03, Taipei time


def test_only_the_course_teacher_certifies(world):
    item_id = world.upload()
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        world.run(certification.certify, world.staff(world.other_teacher_id), item_id, now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        world.run(certification.certify, world.student(), item_id, now=IN_UPLOAD)
    assert item(world, item_id).state == "submitted"


def test_a_student_acts_only_on_their_own_items(world):
    item_id = world.upload(0)
    with pytest.raises(Forbidden):
        world.run(certification.submit, world.student(1), item_id, now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        world.run(delete_item, world.student(1), item_id, now=IN_UPLOAD)


def test_an_event_the_diagram_forbids_names_the_state_and_what_is_allowed(world):
    item_id = world.upload()
    with pytest.raises(InvalidTransition) as refused:
        world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    error = refused.value
    assert error.status == 409
    assert error.details["state"] == "draft"
    assert set(error.details["allowed_events"]) == {"submit", "delete", "lock"}
    assert "草稿" in error.message and "送出認證" in error.message


def test_drafts_are_edited_and_deleted_only_while_the_upload_window_is_open(world):
    item_id = world.upload()
    with pytest.raises(RuleViolation) as closed:
        world.run(edit_item, world.student(), item_id, title="新標題", now=AFTER_CERTIFICATION)
    assert closed.value.rule == "window_closed"
    with pytest.raises(RuleViolation):
        world.run(delete_item, world.student(), item_id, now=AFTER_CERTIFICATION)
    world.run(delete_item, world.student(), item_id, now=IN_UPLOAD)
    assert item(world, item_id).state == "deleted"


def test_only_certified_outcomes_can_be_selected(world):
    item_id = world.upload()
    with pytest.raises(RuleViolation) as refused:
        world.run(selection.select, world.student(), item_id, now=IN_SELECTION)
    assert refused.value.rule == "select_requires_certified"


def test_selection_respects_its_window(world):
    item_id = world.upload()
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    with pytest.raises(RuleViolation) as early:
        world.run(selection.select, world.student(), item_id, now=IN_UPLOAD)
    assert early.value.rule == "window_not_open"
    world.run(selection.select, world.student(), item_id, now=IN_SELECTION)
    world.run(selection.unselect, world.student(), item_id, now=IN_SELECTION)
    world.run(selection.select, world.student(), item_id, now=IN_SELECTION)
    with pytest.raises(RuleViolation):
        world.run(selection.unselect, world.student(), item_id, now=AFTER_SELECTION)
    assert item(world, item_id).state == "selected"


def test_the_stale_page_guard_refuses_an_outdated_version(world):
    from workflows.core.errors import Conflict

    item_id = world.upload()
    seen = item(world, item_id).version
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    with pytest.raises(Conflict):
        world.run(certification.certify, world.teacher, item_id, expected_version=seen, now=IN_UPLOAD)
    assert item(world, item_id).state == "submitted"


def test_a_dispute_needs_a_reason_and_marks_the_items(world):
    item_id = world.upload()
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)
    world.run(selection.select, world.student(), item_id, now=IN_SELECTION)
    world.run(receipts.submit_selected, world.staff(), kind="course_outcome", academic_year=YEAR,
              confirmation_window_id=world.receipt_window_id, now=AFTER_SELECTION)
    receipt_id = item(world, item_id).receipt_id
    with pytest.raises(InvalidInput):
        world.run(receipts.dispute, world.student(), receipt_id, reason="", now=IN_RECEIPT)
    world.run(receipts.dispute, world.student(), receipt_id, reason="提交的檔案不是我上傳的版本", now=IN_RECEIPT)
    with world.uow() as uow:
        assert uow.get(Receipt, receipt_id).state == "disputed"
    assert item(world, item_id).state == "disputed"


def test_submission_waits_for_the_selection_window_to_close(world):
    with pytest.raises(RuleViolation) as refused:
        world.run(receipts.submit_selected, world.staff(), kind="course_outcome", academic_year=YEAR,
                  confirmation_window_id=world.receipt_window_id, now=IN_SELECTION)
    assert refused.value.rule == "selection_still_open"


def test_an_item_waiting_for_certification_cannot_be_edited(world):
    item_id = world.upload()
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    with pytest.raises(RuleViolation) as refused:
        world.run(edit_item, world.student(), item_id, title="改標題", now=IN_UPLOAD)
    assert refused.value.rule == "not_editable"
    assert "已送出認證" in refused.value.message
    assert item(world, item_id).title == "作品"


def items_count(world) -> int:
    from sqlalchemy import func

    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Item))


def test_a_renamed_executable_is_refused_and_nothing_is_recorded(world):
    with pytest.raises(RuleViolation) as refused:
        world.upload(data=samples.exe())
    assert refused.value.rule == "kind_not_allowed" and refused.value.field == "document"
    assert "執行檔" in refused.value.message and "pdf" in refused.value.message
    assert items_count(world) == 0


def test_a_file_over_the_policy_limit_is_refused_before_it_is_stored(world):
    limit = 4 * 1024 * 1024  # xinzhuang: course outcome documents up to 4 MB
    world.upload(data=samples.big(limit), title="剛好")
    with pytest.raises(RuleViolation) as refused:
        world.upload(data=samples.big(limit + 1), title="太大")
    assert refused.value.rule == "file_too_large" and refused.value.limit == limit
    assert "4 MB" in refused.value.message
    assert items_count(world) == 1
    assert not list((world.files.root / "tmp").glob("*"))  # no half-written file left behind


def test_a_performance_takes_a_link_and_refuses_a_bad_one(world):
    from workflows.items.uploads import upload_performance

    student = world.student()
    with world.uow() as uow:
        item_id = upload_performance(uow, student, student_id=world.student_ids[0], academic_year=YEAR,
                                     category="volunteer", title="淨灘志工",
                                     external_link="https://example.org/certificate/1", now=IN_UPLOAD)
    assert item(world, item_id).state == "uploaded"
    with world.uow() as uow, pytest.raises(InvalidInput) as refused:
        upload_performance(uow, student, student_id=world.student_ids[0], academic_year=YEAR,
                           category="volunteer", title="連結", external_link="javascript:alert(1)", now=IN_UPLOAD)
    assert refused.value.field == "external_link"


def test_an_edit_says_whether_it_voided_the_certification(world):
    item_id = world.upload(data=samples.pdf("v1"))
    world.run(certification.submit, world.student(), item_id, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item_id, now=IN_UPLOAD)

    same = world.run(edit_item, world.student(), item_id, document=Upload.of(samples.pdf("v1"), "same.pdf"),
                     now=IN_UPLOAD)
    assert (same.item.state, same.voided_certification) == ("certified", False)
    retitled = world.run(edit_item, world.student(), item_id, title="改過的標題", now=IN_UPLOAD)
    assert (retitled.item.state, retitled.voided_certification) == ("certified", False)
    replaced = world.run(edit_item, world.student(), item_id, document=Upload.of(samples.pdf("v2"), "new.pdf"),
                         now=IN_UPLOAD)
    assert (replaced.item.state, replaced.voided_certification) == ("draft", True)
    # A draft's new file has no certification to void.
    again = world.run(edit_item, world.student(), item_id, document=Upload.of(samples.pdf("v3"), "v3.pdf"),
                      now=IN_UPLOAD)
    assert (again.item.state, again.voided_certification) == ("draft", False)
