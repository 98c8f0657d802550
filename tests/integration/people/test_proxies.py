"""代理人機制 (seed 000 §五(四)2, seed 002): proxy lists with an order of precedence, periods a
person cannot act, the policy's routes for an absent course teacher, and a departed teacher's
certify-only account."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from persistence.tables import AuditEntry, Course, ProxyAssignment, Staff
from tests.world import IN_TAIL, IN_UPLOAD, World
from workflows.people import accounts, proxies
from workflows.items import certification
from workflows.core.actors import platform_admin
from workflows.core.errors import Forbidden, InvalidInput
from workflows.people.routing import certifiers

NOV_1 = date(2025, 11, 1)  # IN_UPLOAD, Taipei
PASSWORD = "correct horse battery"


def add_staff(world, no, name, *roles) -> int:
    return world.add_staff(no, name, *roles)


def set_route(world, route: str) -> None:
    with world.uow() as uow:
        uow.session.execute(update(Course).where(Course.id == world.course2_id).values(route=route))
        uow.session.commit()


def proxy_list(world, proxy_ids, *, of=None, role=None) -> None:
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=of, principal_role=role,
              proxy_staff_ids=proxy_ids, now=IN_UPLOAD)


def on_leave(world, staff_id, starts=date(2025, 10, 1), ends=None) -> int:
    return world.run(proxies.mark_unavailable, world.staff(), staff_id, starts_on=starts, ends_on=ends,
                     reason="leave", note_text="產假", now=IN_UPLOAD).id


def who_certifies(world, on=NOV_1):
    with world.uow() as uow:
        route = certifiers(uow, uow.get(Course, world.course2_id), on=on)
        return route.staff_ids, route.proxied


@pytest.mark.parametrize("route, role", [("external_multi_elective", "teaching_section"),
                                         ("pe_music_specialty", "pe_music_group")])
def test_an_absent_teachers_course_goes_to_the_office_the_policy_names(db, files, route, role):
    world = World(db, files)  # 新莊: 多元選修外校教師 → 教學組; 體育/音樂專長 → 體育/音樂組
    office = add_staff(world, "S010", "林組長", role)
    away = add_staff(world, "S011", "請假組長", role)
    set_route(world, route)
    on_leave(world, away)
    assert who_certifies(world) == ({world.other_teacher_id}, False)  # not on leave yet
    on_leave(world, world.other_teacher_id)
    assert who_certifies(world) == ({office}, True)  # the office member on leave does not


def test_an_in_school_teachers_course_goes_to_his_duty_proxy_in_order_of_precedence(db, files):
    world = World(db, files)  # 新莊: 校內教師 → 職務代理人
    first, second, third = (add_staff(world, f"T10{n}", f"代理{n}", "subject_teacher") for n in range(3))
    set_route(world, "in_school")
    proxy_list(world, [first, second], of=world.other_teacher_id)
    on_leave(world, world.other_teacher_id)
    assert who_certifies(world) == ({first}, True)

    on_leave(world, first)  # the first proxy is absent too → the second
    assert who_certifies(world) == ({second}, True)

    on_leave(world, second)  # both absent → the first proxy's own list (a chain)
    proxy_list(world, [third], of=first)
    assert who_certifies(world) == ({third}, True)


def test_a_chain_through_cycles_ends_and_the_roles_list_comes_last(db, files):
    world = World(db, files)
    first, second, fallback = (add_staff(world, f"T20{n}", f"代理{n}", "subject_teacher") for n in range(3))
    absent = world.other_teacher_id
    proxy_list(world, [first], of=absent)
    proxy_list(world, [second, absent], of=first)
    proxy_list(world, [first], of=second)  # a cycle first → second → first
    for who in (absent, first, second):
        on_leave(world, who)
    with world.uow() as uow:
        assert proxies.acting_for(uow, absent, NOV_1) is None
    proxy_list(world, [fallback], role="subject_teacher")  # 任課教師's list, after his own
    with world.uow() as uow:
        assert proxies.acting_for(uow, absent, NOV_1).id == fallback
        assert proxies.acting_for(uow, absent, date(2025, 9, 30)).id == first  # before the leave


def test_an_unavailability_counts_from_its_first_to_its_last_day(db, files):
    world = World(db, files)
    proxy = add_staff(world, "T301", "代理老師", "subject_teacher")
    set_route(world, "in_school")
    proxy_list(world, [proxy], of=world.other_teacher_id)
    period = on_leave(world, world.other_teacher_id, date(2025, 11, 3), date(2025, 11, 7))
    assert who_certifies(world, date(2025, 11, 2)) == ({world.other_teacher_id}, False)
    assert who_certifies(world, date(2025, 11, 3)) == ({proxy}, True)
    assert who_certifies(world, date(2025, 11, 7)) == ({proxy}, True)
    assert who_certifies(world, date(2025, 11, 8)) == ({world.other_teacher_id}, False)

    world.run(proxies.end_unavailability, world.staff(), period, ends_on="2025-11-04", now=IN_UPLOAD)
    assert who_certifies(world, date(2025, 11, 5)) == ({world.other_teacher_id}, False)
    with pytest.raises(InvalidInput):
        world.run(proxies.end_unavailability, world.staff(), period, ends_on="2025-11-01", now=IN_UPLOAD)


def test_a_proxy_certifies_on_behalf_of_the_absent_teacher_who_no_longer_can(db, files):
    world = World(db, files)
    set_route(world, "in_school")
    proxy_list(world, [world.teacher_id], of=world.other_teacher_id)
    on_leave(world, world.other_teacher_id)
    item = world.upload(0, course_id=world.course2_id)
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)

    with pytest.raises(Forbidden) as refused:
        world.run(certification.certify, world.staff(world.other_teacher_id), item, now=IN_UPLOAD)
    assert "職務代理人王老師（代理任課教師李老師）" in refused.value.message
    world.run(certification.certify, world.teacher, item, now=IN_UPLOAD)

    with world.uow() as uow:
        row = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "certify")).one()
    assert (row.actor_id, row.on_behalf_kind, row.on_behalf_id, row.on_behalf_name) == (
        world.teacher_id, "staff", world.other_teacher_id, "李老師")


def test_a_departed_teacher_certifies_until_his_certify_only_date_and_cannot_sign_in_after(db, files):
    world = World(db, files)
    set_route(world, "in_school")
    proxy_list(world, [world.teacher_id], of=world.other_teacher_id)
    with world.uow() as uow:
        accounts.create_account(uow, platform_admin(), username="li.013301", password=PASSWORD,
                                kind="staff", staff_id=world.other_teacher_id)
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id).values(active=False))
        uow.commit()
    last_day = date(2026, 2, 5)  # IN_TAIL, Taipei
    world.run(proxies.set_certify_only, world.staff(), world.other_teacher_id, last_day.isoformat(), now=IN_UPLOAD)

    assert who_certifies(world, last_day) == ({world.other_teacher_id}, False)
    assert who_certifies(world, date(2026, 2, 6)) == ({world.teacher_id}, True)

    account = accounts.authenticate(db, "li.013301", PASSWORD, now=IN_TAIL)
    with world.uow() as uow:
        actor = accounts.actor_of(uow, account)
    assert set(actor.roles) == {"subject_teacher"}  # certify-only
    item = world.upload(0, course_id=world.course2_id)
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    world.run(certification.certify, actor, item, now=IN_TAIL)
    with world.uow() as uow:
        row = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "certify")).one()
    assert (row.actor_id, row.on_behalf_id) == (world.other_teacher_id, None)

    with pytest.raises(Forbidden) as refused:
        accounts.authenticate(db, "li.013301", PASSWORD, now=IN_TAIL.replace(day=6))
    assert "帳號已停用" in refused.value.message
    world.run(proxies.set_certify_only, world.staff(), world.other_teacher_id, None, now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        accounts.authenticate(db, "li.013301", PASSWORD, now=IN_TAIL)


def test_only_the_working_group_edits_lists_every_change_is_audited_and_bad_input_keeps_the_old(db, files):
    world = World(db, files)
    proxy_list(world, [world.teacher_id], of=world.other_teacher_id)
    with pytest.raises(Forbidden):
        world.run(proxies.set_proxy_list, world.teacher, principal_staff_id=world.other_teacher_id,
                  proxy_staff_ids=[world.staff_id], now=IN_UPLOAD)
    with pytest.raises(Forbidden):
        world.run(proxies.mark_unavailable, world.teacher, world.other_teacher_id, starts_on="2025-11-01",
                  reason="leave", now=IN_UPLOAD)
    for bad in ([world.other_teacher_id], [world.teacher_id, world.teacher_id]):
        with pytest.raises(InvalidInput):
            proxy_list(world, bad, of=world.other_teacher_id)
    with pytest.raises(InvalidInput):
        world.run(proxies.mark_unavailable, world.staff(), world.other_teacher_id, starts_on="2025-11-05",
                  ends_on="2025-11-01", reason="leave", now=IN_UPLOAD)
    with world.uow() as uow:
        rows = uow.session.execute(select(ProxyAssignment.proxy_staff_id, ProxyAssignment.precedence)).all()
        audit = uow.session.scalars(select(AuditEntry.reason).where(AuditEntry.subject_kind == "proxy_list")).all()
    assert rows == [(world.teacher_id, 1)]
    assert audit == ["李老師的代理人：1. 王老師"]

    proxy_list(world, [world.staff_id, world.teacher_id], of=world.other_teacher_id)
    with world.uow() as uow:
        rows = uow.session.execute(select(ProxyAssignment.proxy_staff_id, ProxyAssignment.precedence)
                                   .order_by(ProxyAssignment.precedence)).all()
    assert rows == [(world.staff_id, 1), (world.teacher_id, 2)]
