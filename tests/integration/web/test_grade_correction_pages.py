"""Grade-correction pages 成績更正: the queue and forms in zh-TW, students refused, a request drafted,
signed and sent back through the pages, and the printable 學生學業成績更正申請表."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from persistence.tables import GradeCorrection
from tests.integration.web.conftest import post_form, sign_in
from tests.records_support import audit_rows, course_code, student_no
from tests.world import IN_UPLOAD
from workflows.school import calendar
from workflows.records import grades
from workflows.people.actors import staff_actor

AFTER_LOCK = datetime(2026, 2, 11, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def app(app):
    app.config["NOW"] = AFTER_LOCK
    return app


@pytest.fixture
def graded(world, people):
    """Student 0's 國語文 grade 55, and the term locked after 115/02/10."""
    with world.uow() as uow:
        calendar.define_window(uow, staff_actor(uow, world.staff_id), "grade_check", 114, 1, date(2026, 2, 1),
                               date(2026, 2, 10), now=IN_UPLOAD)
        uow.commit()
    world.run(grades.enter_grade, world.staff(), student_id=world.student_ids[0], now=IN_UPLOAD, academic_year=114,
              semester=1, course_code=course_code(world), subject="國語文", grade_level=1, credits=4, score=55,
              passed="否", credit_counted="否")
    return world


def requests(world) -> list[GradeCorrection]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(GradeCorrection).order_by(GradeCorrection.id)))


def draft_via_page(client, world):
    return post_form(client, "/staff/grade-corrections", {
        "academic_year": "114", "semester": "1", "subject": "國語文", "course_code": course_code(world),
        "teacher_id": str(world.teacher_id), "kind": "exam", "exam_no": "1", "reason": "entry_error",
        "explanation": "第一次段考登載錯誤", "lines": f"{student_no(world, 0)} 68"})


def test_the_teacher_drafts_and_signs_through_the_pages_in_zh_tw(client, graded):
    world = graded
    sign_in(client, "teacher")
    index = client.get("/staff/grade-corrections")
    assert index.status_code == 200
    body = index.get_data(as_text=True)
    assert "成績更正申請" in body and "填寫成績更正申請" in body and 'lang="zh-Hant-TW"' in body
    form = client.get(f"/staff/grade-corrections/new?prefill=1&academic_year=114&semester=1&subject=國語文"
                      f"&kind=exam&lines={student_no(world, 0)}+68")
    assert form.status_code == 200 and f"{student_no(world, 0)} 55 68" in form.get_data(as_text=True)

    created = draft_via_page(client, world)
    assert created.status_code == 302
    [request] = requests(world)
    page = client.get(f"/staff/grade-corrections/{request.id}").get_data(as_text=True)
    assert "草稿" in page and "授課教師簽章" in page and "55" in page and "68" in page

    signed = post_form(client, f"/staff/grade-corrections/{request.id}/sign", {"version": str(request.version)})
    assert signed.status_code == 302
    assert requests(world)[0].state == "teacher_signed"
    row = audit_rows(world, "grade_correction", request.id)[-1]
    assert (row.event, row.actor_name) == ("sign_teacher", "王老師")
    # Not his step any more: the page offers no signature, and a forged post is refused.
    page = client.get(f"/staff/grade-corrections/{request.id}").get_data(as_text=True)
    assert 'id="sign"' not in page and "等待「承辦人」簽章" in page
    again = post_form(client, f"/staff/grade-corrections/{request.id}/sign", {"version": str(request.version + 1)})
    assert again.status_code == 403
    assert requests(world)[0].state == "teacher_signed"


def test_the_clerk_sends_back_with_a_reason_through_the_page(client, graded):
    world = graded
    sign_in(client, "teacher")
    draft_via_page(client, world)
    [request] = requests(world)
    post_form(client, f"/staff/grade-corrections/{request.id}/sign", {"version": str(request.version)})
    other = client.application.test_client()
    sign_in(other, "staff")
    queue = other.get("/staff/grade-corrections").get_data(as_text=True)
    assert 'id="mine"' in queue and f"第 {request.id} 號" in queue
    version = str(requests(world)[0].version)
    refused = post_form(other, f"/staff/grade-corrections/{request.id}/send-back", {"version": version, "reason": " "})
    assert refused.status_code == 400 and "請填寫退回原因" in refused.get_data(as_text=True)
    done = post_form(other, f"/staff/grade-corrections/{request.id}/send-back",
                     {"version": version, "reason": "原成績請附試卷影本"})
    assert done.status_code == 302
    assert requests(world)[0].state == "drafted"
    page = other.get(f"/staff/grade-corrections/{request.id}").get_data(as_text=True)
    assert "原成績請附試卷影本" in page and "退回" in page


def test_students_and_parents_are_refused(client, graded):
    sign_in(client, "stu0")
    assert client.get("/staff/grade-corrections").status_code == 403
    assert client.get("/staff/grade-corrections/new").status_code == 403
    other = client.application.test_client()
    sign_in(other, "parent")
    assert other.get("/staff/grade-corrections").status_code == 403


def test_the_print_view_mirrors_the_paper_form_without_navigation(client, graded):
    world = graded
    sign_in(client, "teacher")
    draft_via_page(client, world)
    [request] = requests(world)
    post_form(client, f"/staff/grade-corrections/{request.id}/sign", {"version": str(request.version)})
    printed = client.get(f"/staff/grade-corrections/{request.id}/print")
    assert printed.status_code == 200
    body = printed.get_data(as_text=True)
    assert "學生學業成績更正申請表" in body and "@media print" in body
    assert "認證佇列" not in body and "<nav" not in body
    for box in ("授課教師簽章", "承辦人簽章", "註冊組長簽章", "教務主任簽章", "校長簽章", "登錄人簽章"):
        assert box in body
    assert "王老師<br>115/02/11" in body  # the teacher's signature with its Taipei date
    assert "☑ 第 1 次定期成績" in body and "☑ 登載錯誤" in body and "第一次段考登載錯誤" in body
