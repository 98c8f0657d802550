"""The dispute queue page (/staff/disputes): the responsible office sees open disputes with their
age and settles them with a reason the student then reads on the receipt page; bad input loses
nothing; students and plain teachers are refused."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from persistence.tables import AuditEntry, Item, Receipt
from tests.integration.central.test_semester_receipts import csv_file, receipt_of, rows_for, run_import, submitted
from tests.integration.web.conftest import post_form, sign_in
from tests.world import IN_RECEIPT
from workflows.central import disputes, receipts

QUEUE = "/staff/disputes"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def disputed(world, people, app):
    receipt_id = world.to_receipts((0,))[0]
    world.run(receipts.dispute, world.student(0), receipt_id, reason="檔案版本不對", now=IN_RECEIPT)
    app.config["NOW"] = IN_RECEIPT + timedelta(days=3, hours=2)
    with world.uow() as uow:
        return uow.session.scalars(uow.select(Item).where(Item.receipt_id == receipt_id)).one().id


def stored(world, item_id) -> Item:
    with world.uow() as uow:
        return uow.get(Item, item_id)


def audit_rows(world) -> int:
    with world.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry))


def version_shown(page: str, anchor: str) -> str:
    """The version the settlement form of the queue's row `anchor` carries."""
    row = page.split(f'id="{anchor}"')[1].split("</tr>")[0]
    return re.search(r'name="version" value="(\d+)"', row).group(1)


def test_the_office_sees_the_queue_with_ages_and_settles_a_dispute(app, client, world, disputed):
    sign_in(client, "staff")
    page = client.get(QUEUE)
    assert page.status_code == 200
    body = text(page)
    assert f'id="dispute-{disputed}"' in body and "檔案版本不對" in body and "3 日 2 小時" in body
    assert "學生0" in body and "設備組" in body

    done = post_form(client, f"{QUEUE}/{disputed}/resolve", {"kind": "resubmit", "reason": "已更正，下一批次重新提交"},
                     page=QUEUE, follow_redirects=True)
    assert done.status_code == 200 and "已處理" in text(done) and "目前沒有待處理的疑義" in text(done)
    item = stored(world, disputed)
    assert (item.state, item.resolution, item.resolution_note) == ("resolved", "resubmit", "已更正，下一批次重新提交")

    student = app.test_client()
    sign_in(student, "stu0")
    receipt_page = text(student.get(f"/students/{world.student_ids[0]}/receipts"))
    assert "學校處理說明（已更正資料，將重新提交）：已更正，下一批次重新提交" in receipt_page


@pytest.mark.parametrize("form, message", [({"kind": "answered", "reason": " "}, "請填寫處理說明"),
                                           ({"kind": "later", "reason": "稍後"}, "處理方式「later」不存在")])
def test_bad_input_is_shown_on_the_queue_and_nothing_changes(client, world, disputed, form, message):
    sign_in(client, "staff")
    refused = post_form(client, f"{QUEUE}/{disputed}/resolve", form, page=QUEUE)
    assert refused.status_code == 400
    assert message in text(refused)
    assert form["reason"] in text(refused)  # what was typed is kept
    assert stored(world, disputed).state == "disputed"


def test_a_stale_queue_is_refused_and_the_first_settlement_stands(app, client, world, disputed):
    """Settled in another tab or by a colleague after the queue was opened: the old page's settlement
    is refused with the stale-page words, and nothing changes."""
    sign_in(client, "staff")
    version = version_shown(text(client.get(QUEUE)), f"dispute-{disputed}")
    world.run(disputes.resolve, world.staff(), disputed, kind="answered", reason="檔案無誤", now=app.config["NOW"])
    before = audit_rows(world)

    stale = post_form(client, f"{QUEUE}/{disputed}/resolve",
                      {"version": version, "kind": "resubmit", "reason": "已更正，下一批次重新提交"}, page=QUEUE)
    assert stale.status_code == 409
    assert "這個項目在你開啟頁面後已被變更" in text(stale) and "你的操作沒有生效" in text(stale)
    item = stored(world, disputed)
    assert (item.state, item.resolution, item.resolution_note) == ("resolved", "answered", "檔案無誤")
    assert audit_rows(world) == before


def test_a_semester_receipt_settlement_carries_the_version_the_queue_showed(app, client, world, people, tmp_path):
    batch_id = submitted(world, tmp_path)
    run_import(world, batch_id, csv_file(rows_for(world)))
    receipt_id = receipt_of(world, 0, batch_id).id
    world.run(receipts.dispute, world.student(0), receipt_id, reason="班級不對", now=IN_RECEIPT)
    app.config["NOW"] = IN_RECEIPT
    sign_in(client, "staff")
    version = int(version_shown(text(client.get(QUEUE)), f"dispute-receipt-{receipt_id}"))
    with world.uow() as uow:
        assert version == uow.get(Receipt, receipt_id).version
    before = audit_rows(world)

    other = post_form(client, f"{QUEUE}/receipts/{receipt_id}/resolve",
                      {"version": str(version + 1), "kind": "answered", "reason": "班級正確"}, page=QUEUE)
    assert other.status_code == 409 and "這份收訖明細在你開啟頁面後已被變更" in text(other)
    assert audit_rows(world) == before and f'id="dispute-receipt-{receipt_id}"' in text(client.get(QUEUE))

    done = post_form(client, f"{QUEUE}/receipts/{receipt_id}/resolve",
                     {"version": str(version), "kind": "answered", "reason": "班級正確"}, page=QUEUE)
    assert done.status_code == 302 and audit_rows(world) == before + 1


@pytest.mark.parametrize("who", ["stu0", "teacher", "parent"])
def test_students_parents_and_plain_teachers_are_refused(client, world, disputed, who):
    sign_in(client, who)
    assert client.get(QUEUE).status_code == 403
    refused = post_form(client, f"{QUEUE}/{disputed}/resolve", {"kind": "answered", "reason": "我來處理"})
    assert refused.status_code == 403
    assert "檔案版本不對" not in text(refused)
    assert stored(world, disputed).state == "disputed"


def test_signed_out_visitors_are_sent_to_sign_in(client, disputed):
    response = client.get(QUEUE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
