"""GET /api/v1/queues/certification and GET /api/v1/status/summary: the same numbers the pages
show, to the same people."""
from __future__ import annotations

from persistence.tables import StaffRole
from tests.integration.people.test_routing import absent_teacher
from tests.integration.web.conftest import api_token
from tests.world import IN_UPLOAD
from workflows.items import certification


def _waiting(world, n: int, course_id=None) -> int:
    item_id = world.upload(n, course_id=course_id)
    world.run(certification.submit, world.student(n), item_id, now=IN_UPLOAD)
    return item_id


def test_the_queue_lists_what_waits_for_the_teacher_and_nothing_else(app, client, people, world):
    app.config["NOW"] = IN_UPLOAD
    mine = [_waiting(world, 0), _waiting(world, 1)]
    _waiting(world, 2, course_id=world.course2_id)  # 李老師's course
    body = client.get("/api/v1/queues/certification", headers=api_token(client, "teacher")).get_json()
    assert [row["item_id"] for row in body["rows"]] == mine  # longest waiting first
    assert body["total"] == 2 and not any(row["proxied"] for row in body["rows"])
    assert body["windows"] and body["windows"][0]["is_open"] is True
    other = client.get("/api/v1/queues/certification", headers=api_token(client, "teacher2")).get_json()
    assert other["total"] == 1 and other["rows"][0]["course_name"] == "數學"


def test_a_proxy_sees_the_absent_teachers_items_marked(app, client, people, world):
    app.config["NOW"] = IN_UPLOAD
    item_id = _waiting(world, 2, course_id=world.course2_id)
    absent_teacher(world, "external_multi_elective")  # the policy: the teaching section certifies
    with world.uow() as uow:
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=world.staff_id, role="teaching_section"))
        uow.commit()
    body = client.get("/api/v1/queues/certification", headers=api_token(client, "staff")).get_json()
    assert [row["item_id"] for row in body["rows"]] == [item_id]
    assert body["rows"][0]["proxied"] is True and body["rows"][0]["absent_teacher"] == "李老師"


def test_students_have_no_queue(client, people):
    response = client.get("/api/v1/queues/certification", headers=api_token(client, "stu0"))
    assert response.status_code == 403 and response.get_json()["error"] == "forbidden"


def test_the_summary_counts_move_when_an_item_is_certified(app, client, people, world):
    app.config["NOW"] = IN_UPLOAD
    first, second = _waiting(world, 0), _waiting(world, 1)
    office = api_token(client, "staff")

    def summary():
        response = client.get("/api/v1/status/summary?academic_year=114&semester=1", headers=office)
        assert response.status_code == 200, response.get_json()
        return response.get_json()
    before = summary()
    assert before["counts"]["course_outcome"]["states"]["submitted"] == 2
    world.run(certification.certify, world.teacher, first, now=IN_UPLOAD)
    after = summary()
    assert after["counts"]["course_outcome"]["states"]["submitted"] == 1
    assert after["counts"]["course_outcome"]["states"]["certified"] == 1
    rate = next(r for r in after["certification_rate"] if r["class_name"] == "101")
    assert (rate["certified"], rate["submitted"], rate["rate"]) == (1, 2, 0.5)
    assert rate["band"] == "low"


def test_the_summary_is_for_staff_who_see_a_school_or_a_class(client, people):
    for who, status in (("stu0", 403), ("parent", 403), ("teacher2", 403), ("teacher", 200), ("staff", 200)):
        response = client.get("/api/v1/status/summary?academic_year=114", headers=api_token(client, who))
        assert response.status_code == status, who
    homeroom = client.get("/api/v1/status/summary?academic_year=114", headers=api_token(client, "teacher"))
    assert homeroom.get_json()["scope"] == {"whole_school": False, "classes": ["101"]}


def test_resolve_is_offered_only_to_the_office_the_policy_routes_the_dispute_to(app, client, people, world):
    from tests.integration.people.test_routing import staff_with
    from tests.integration.web.conftest import PASSWORD
    from tests.world import IN_RECEIPT
    from workflows.people import accounts
    from workflows.central import receipts
    from workflows.core.actors import platform_admin

    receipt_id = world.to_receipts((0,))[0]
    world.run(receipts.dispute, world.student(0), receipt_id, reason="不是最後的版本", now=IN_RECEIPT)
    clerk = staff_with(world, "S009", "註冊組員", "registry")  # registry handles basic data, not outcomes
    with world.uow() as uow:
        accounts.create_account(uow, platform_admin(), username="clerk.013301", password=PASSWORD,
                                kind="staff", staff_id=clerk)
        uow.commit()
    with world.uow() as uow:
        from persistence.tables import Item
        item_id = uow.session.scalar(uow.select(Item.id).where(Item.receipt_id == receipt_id))
    app.config["NOW"] = IN_RECEIPT

    def events(who):
        body = client.get(f"/api/v1/artefacts/{item_id}", headers=api_token(client, who)).get_json()
        return {e["event"] for e in body["available_events"]}
    assert "resolve" in events("staff")  # 設備組 submits course outcomes: their disputes are its own
    assert "resolve" not in events("clerk")
    refused = client.post(f"/api/v1/artefacts/{item_id}/events/resolve", json={"reason": "已更正"},
                          headers=api_token(client, "clerk"))
    assert refused.status_code == 403
