"""The working group's proxy page (代理人名單), the teacher queue showing proxied work with the
absent teacher's name, and a departed teacher's certify-only sign-in."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from persistence.tables import ProxyAssignment, Staff, Unavailability
from tests.integration.web.conftest import post_form, sign_in
from tests.world import IN_UPLOAD
from workflows.items import certification
from workflows.people import proxies

PAGE = "/staff/proxies"


def test_the_working_group_edits_lists_and_availability_and_sees_the_changes(app, client, world, people):
    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "staff")
    assert client.get(PAGE).status_code == 200

    answer = post_form(client, f"{PAGE}/list", {"principal": f"staff:{world.other_teacher_id}",
                                                "proxy_1": str(world.teacher_id), "proxy_2": str(world.staff_id)},
                       page=PAGE)
    assert answer.status_code == 302
    answer = post_form(client, f"{PAGE}/unavailability", {"staff_id": str(world.other_teacher_id),
                                                          "reason": "leave", "starts_on": "2025-10-30",
                                                          "ends_on": "2025-11-20", "note": "病假"}, page=PAGE)
    assert answer.status_code == 302

    page = client.get(PAGE).get_data(as_text=True)
    person = page.split(f'id="person-{world.other_teacher_id}"')[1].split("</tr>")[0]
    assert person.index("王老師") < person.index("陳組長")  # order of precedence
    assert "王老師" in person.split("</ol>")[1]  # acting now: 李老師 is on leave
    assert "病假" in page and "114/10/30 至 114/11/20" in page
    assert "李老師的代理人：1. 王老師、2. 陳組長" in page and "李老師請假" in page  # recent changes


def test_bad_input_answers_in_chinese_and_stores_nothing(app, client, world, people):
    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "staff")
    answer = post_form(client, f"{PAGE}/unavailability", {"staff_id": str(world.other_teacher_id),
                                                          "reason": "leave", "starts_on": "明天"}, page=PAGE)
    assert answer.status_code == 400
    assert "不是有效的日期" in answer.get_data(as_text=True)
    answer = post_form(client, f"{PAGE}/list", {"principal": f"staff:{world.other_teacher_id}",
                                                "proxy_1": str(world.other_teacher_id)}, page=PAGE)
    assert answer.status_code == 400
    assert "不能指定本人" in answer.get_data(as_text=True)
    with world.uow() as uow:
        assert uow.session.scalars(select(Unavailability)).all() == []
        assert uow.session.scalars(select(ProxyAssignment)).all() == []


def test_a_plain_teacher_is_refused(app, client, world, people):
    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "teacher")
    assert client.get(PAGE).status_code == 403
    answer = post_form(client, f"{PAGE}/list", {"principal": f"staff:{world.other_teacher_id}",
                                                "proxy_1": str(world.teacher_id)})
    assert answer.status_code == 403
    with world.uow() as uow:
        assert uow.session.scalars(select(ProxyAssignment)).all() == []


def test_the_teacher_queue_shows_proxied_work_with_the_absent_teachers_name(app, client, world, people):
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=world.other_teacher_id,
              proxy_staff_ids=[world.teacher_id], now=IN_UPLOAD)
    period = world.run(proxies.mark_unavailable, world.staff(), world.other_teacher_id,
                       starts_on=date(2025, 10, 1), reason="incident", now=IN_UPLOAD).id
    item = world.upload(0, course_id=world.course2_id, title="代理的作品")
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)

    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "teacher")
    page = client.get("/teacher/queue").get_data(as_text=True)
    assert "代理的作品" in page and "李老師" in page

    # once the period has ended (the day before), the item is back with 李老師
    world.run(proxies.end_unavailability, world.staff(), period, ends_on="2025-10-31", now=IN_UPLOAD)
    assert "代理的作品" not in client.get("/teacher/queue").get_data(as_text=True)


def test_a_departed_teacher_signs_in_only_through_his_certify_only_date(app, client, world, people):
    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id)
                            .values(active=False, certify_only_until=date(2099, 12, 31)))
        uow.session.commit()
    assert sign_in(client, "teacher2").status_code == 302
    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id)
                            .values(certify_only_until=date(2020, 1, 1)))
        uow.session.commit()
    refused = sign_in(app.test_client(), "teacher2")
    assert refused.status_code == 401
    assert "帳號已停用" in refused.get_data(as_text=True)


def test_a_certify_only_session_ends_on_its_date_even_mid_session(app, client, people, world):
    from datetime import date, datetime, timezone

    from sqlalchemy import update

    from persistence.tables import Staff
    from tests.integration.web.conftest import sign_in

    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id)
                            .values(active=False, certify_only_until=date(2025, 11, 5)))
        uow.commit()
    app.config["NOW"] = datetime(2025, 11, 5, 8, 0, tzinfo=timezone.utc)  # 16:00 Taipei, the last day
    assert sign_in(client, "teacher2").status_code == 302
    assert client.get("/teacher/queue").status_code == 200
    app.config["NOW"] = datetime(2025, 11, 5, 16, 30, tzinfo=timezone.utc)  # 00:30 Taipei, the day after
    assert client.get("/teacher/queue").status_code == 403
    assert client.get("/teacher/queue").status_code == 302  # the session is gone: sign in again


def test_the_status_page_shows_what_proxies_did_for_whom(app, client, world, people):
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=world.other_teacher_id,
              proxy_staff_ids=[world.teacher_id], now=IN_UPLOAD)
    world.run(proxies.mark_unavailable, world.staff(), world.other_teacher_id,
              starts_on=date(2025, 10, 1), reason="leave", now=IN_UPLOAD)
    item = world.upload(0, course_id=world.course2_id, title="代理認證的作品")
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    world.run(certification.certify, world.teacher, item, now=IN_UPLOAD)

    app.config["NOW"] = IN_UPLOAD
    sign_in(client, "staff")
    page = client.get("/staff/status?academic_year=114&semester=1").get_data(as_text=True)
    section = page.split('id="proxied"')[1].split("</section>")[0]
    row = section.split("<tbody>")[1]
    assert "王老師" in row and "李老師" in row and "認證" in row

    sign_in(client, "teacher")  # a homeroom teacher's page is about his class, not the offices' work
    assert 'id="proxied"' not in client.get("/staff/status?academic_year=114&semester=1").get_data(as_text=True)
