"""Who certifies when the course teacher cannot (代理人機制, seed 000 §五(四)2): the policy routes
his kind of course to a role, whose members certify on his behalf, audited as such."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from persistence.tables import AuditEntry, Course, Staff, StaffRole
from tests.world import IN_UPLOAD, World
from workflows.items import certification
from workflows.core.errors import Forbidden


def absent_teacher(world, route: str) -> None:
    with world.uow() as uow:
        uow.session.execute(update(Staff).where(Staff.id == world.other_teacher_id).values(active=False))
        uow.session.execute(update(Course).where(Course.id == world.course2_id).values(route=route))
        uow.session.commit()


def staff_with(world, no, name, role) -> int:
    with world.uow() as uow:
        staff = Staff(school_id=world.school_id, staff_no=no, name=name)
        uow.session.add(staff)
        uow.session.flush()
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=staff.id, role=role))
        uow.session.commit()
        return staff.id


def waiting_item(world) -> int:
    item = world.upload(0, course_id=world.course2_id)
    world.run(certification.submit, world.student(0), item, now=IN_UPLOAD)
    return item


def test_the_teaching_section_certifies_for_an_absent_external_teacher_on_his_behalf(db, files):
    world = World(db, files)  # 新莊: external multi-elective → 教學組
    section = staff_with(world, "S010", "林組長", "teaching_section")
    item = waiting_item(world)
    absent_teacher(world, "external_multi_elective")

    world.run(certification.certify, world.staff(section), item, now=IN_UPLOAD)

    with world.uow() as uow:
        row = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "certify")).one()
    assert (row.actor_id, row.actor_name) == (section, "林組長")
    assert (row.on_behalf_kind, row.on_behalf_id, row.on_behalf_name) == ("staff", world.other_teacher_id, "李老師")


def test_nobody_else_certifies_and_the_absent_teacher_no_longer_can(db, files):
    world = World(db, files)
    item = waiting_item(world)
    absent_teacher(world, "external_multi_elective")
    for who in (world.other_teacher_id, world.teacher_id, world.staff_id):
        with pytest.raises(Forbidden) as refused:
            world.run(certification.certify, world.staff(who), item, now=IN_UPLOAD)
        assert "教學組（代理任課教師李老師）" in refused.value.message


def test_a_duty_proxy_route_waits_for_the_working_groups_list(db, files):
    world = World(db, files)
    item = waiting_item(world)
    absent_teacher(world, "in_school")  # 新莊: in-school teacher → his duty proxy
    with pytest.raises(Forbidden) as refused:
        world.run(certification.certify, world.staff(world.staff_id), item, now=IN_UPLOAD)
    assert "職務代理人" in refused.value.message
