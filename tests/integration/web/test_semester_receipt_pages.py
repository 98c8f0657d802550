"""Pages of the semester receipts: the student's receipts page shows what a basic-data and a
course-records receipt cover (basic data with the ID masked, cadre rows, grade rows); the
dispute queue lists a semester receipt's dispute with its age, and settling it there shows the
office's reason on the student's page."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.central.test_semester_receipts import (add_cadre, add_grade, csv_file, national_id,
                                                      receipt_of, rows_for, run_import, submitted)
from tests.integration.web.conftest import post_form, sign_in
from tests.world import IN_RECEIPT
from workflows.central import receipts

QUEUE = "/staff/disputes"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def semester_receipts(world, people, app, tmp_path):
    add_cadre(world, 0, position="風紀股長")
    add_grade(world, 0, subject="物理", score=58, passed=False)
    basic = submitted(world, tmp_path)
    run_import(world, basic, csv_file(rows_for(world)))
    courses = submitted(world, tmp_path, "semester_courses")
    run_import(world, courses, csv_file(rows_for(world, (0,), "修課紀錄")))
    app.config["NOW"] = IN_RECEIPT
    return {"basic": receipt_of(world, 0, basic).id, "courses": receipt_of(world, 0, courses).id}


def test_the_student_sees_the_basic_data_cadre_and_grade_rows_a_receipt_covers(client, world, semester_receipts):
    sign_in(client, "stu0")
    page = client.get(f"/students/{world.student_ids[0]}/receipts")
    assert page.status_code == 200
    body = text(page)
    nid = national_id(world, 0)
    assert "第 1 學期基本資料及幹部紀錄收訖明細" in body and "第 1 學期修課紀錄收訖明細" in body
    assert nid not in body and f"{nid[:3]}****{nid[-3:]}" in body  # the ID masked
    assert "風紀股長" in body and "101 班" in body and "日間部" in body
    assert "物理" in body and "<td>58</td>" in body and "<td>否</td>" in body
    assert body.count("確認收訖</button>") == 2  # each can be confirmed or disputed


def test_the_queue_lists_a_semester_dispute_with_its_age_and_the_student_reads_the_answer(
        app, client, world, semester_receipts):
    receipt_id = semester_receipts["courses"]
    world.run(receipts.dispute, world.student(0), receipt_id, reason="物理補考已及格", now=IN_RECEIPT)
    app.config["NOW"] = IN_RECEIPT + timedelta(days=1, hours=4)
    sign_in(client, "staff")
    body = text(client.get(QUEUE))
    assert f'id="dispute-receipt-{receipt_id}"' in body
    assert "物理補考已及格" in body and "1 日 4 小時" in body and "修課紀錄" in body and "註冊組" in body

    done = post_form(client, f"{QUEUE}/receipts/{receipt_id}/resolve",
                     {"kind": "answered", "reason": "補考成績將於下學期登錄"}, page=QUEUE, follow_redirects=True)
    assert done.status_code == 200 and "目前沒有待處理的疑義" in text(done)

    student = app.test_client()
    sign_in(student, "stu0")
    page = text(student.get(f"/students/{world.student_ids[0]}/receipts"))
    assert "學校處理說明（學校回覆）：補考成績將於下學期登錄" in page


def test_a_settlement_without_a_reason_is_refused_on_the_queue_and_the_dispute_stays(
        app, client, world, semester_receipts):
    receipt_id = semester_receipts["basic"]
    world.run(receipts.dispute, world.student(0), receipt_id, reason="班級不對", now=IN_RECEIPT)
    sign_in(client, "staff")
    refused = post_form(client, f"{QUEUE}/receipts/{receipt_id}/resolve", {"kind": "answered", "reason": " "},
                        page=QUEUE)
    assert refused.status_code == 400 and "請填寫處理說明" in text(refused)
    assert f'id="dispute-receipt-{receipt_id}"' in text(client.get(QUEUE))
