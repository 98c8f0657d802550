"""The dispute queue page (/staff/disputes): the responsible office sees open disputes with their
age and settles them with a reason the student then reads on the receipt page; bad input loses
nothing; students and plain teachers are refused."""
from __future__ import annotations

from datetime import timedelta

import pytest

from persistence.tables import Item
from tests.integration.web.conftest import post_form, sign_in
from tests.world import IN_RECEIPT
from workflows.central import receipts

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
