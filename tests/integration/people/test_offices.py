"""An office's work beyond certification — central submission, dispute handling (and data entry,
tested with the records) — goes to the proxy of a person who is unavailable (seed 000 §五(四)2),
and every act the proxy does is audited as on behalf of the person he stands in for."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from persistence.tables import AuditEntry, Item, StaffRole
from tests.world import AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, World
from workflows.central import batches, disputes, receipts
from workflows.people import offices, proxies
from workflows.items import selection
from workflows.core.errors import Forbidden
from workflows.people.offices import as_office
from workflows.people.actors import staff_actor
from workflows.core.roles import Role

LEAVE_STARTS = date(2025, 10, 1)


def add_staff(world: World, no: str, name: str, *roles: str) -> int:
    with world.uow() as uow:
        staff_id = world._staff(uow.session, no, name, list(roles))
        uow.commit()
    return staff_id


def on_leave(world: World, staff_id: int, starts=LEAVE_STARTS, ends=None) -> None:
    world.run(proxies.mark_unavailable, world.staff(), staff_id, starts_on=starts, ends_on=ends,
              reason="leave", note_text="病假", now=AFTER_SELECTION)


def proxy_list(world: World, proxy_ids, *, of=None, role=None) -> None:
    world.run(proxies.set_proxy_list, world.staff(), principal_staff_id=of, principal_role=role,
              proxy_staff_ids=proxy_ids, now=AFTER_SELECTION)


@pytest.fixture
def world(db, files):
    return World(db, files)


@pytest.fixture
def people(world):
    """A registry clerk with a proxy list of two subject teachers, and a bystander teacher."""
    clerk = add_staff(world, "S020", "黃組長", "registry")
    first = add_staff(world, "T020", "代理一", "subject_teacher")
    second = add_staff(world, "T021", "代理二", "subject_teacher")
    proxy_list(world, [first, second], of=clerk)
    return {"clerk": clerk, "first": first, "second": second}


def acting(world, staff_id, roles=(Role.REGISTRY,), on=AFTER_SELECTION):
    with world.uow() as uow:
        return as_office(uow, staff_actor(uow, staff_id), roles, now=on)


def test_a_proxy_acts_for_the_office_only_while_its_person_is_away(world, people):
    assert acting(world, people["first"]) is None  # the clerk is at work
    assert acting(world, people["clerk"]).on_behalf is None
    on_leave(world, people["clerk"])
    stand_in = acting(world, people["first"])
    assert (stand_in.on_behalf.id, stand_in.on_behalf.name) == (people["clerk"], "黃組長")
    assert acting(world, people["second"]) is None  # second in order: not while the first can act
    assert acting(world, people["clerk"]) is None  # on leave: his work is his proxy's

    on_leave(world, people["first"])  # the first proxy is away too → the second
    assert acting(world, people["second"]).on_behalf.id == people["clerk"]
    assert acting(world, people["first"]) is None


def test_the_leave_has_dates(world, people):
    on_leave(world, people["clerk"], starts=date(2026, 9, 1), ends=date(2026, 9, 5))
    assert acting(world, people["first"], on=AFTER_SELECTION) is None  # 2026-09-14: back at work
    assert acting(world, people["first"], on=AFTER_SELECTION.replace(day=3)).on_behalf.id == people["clerk"]


def test_when_nobody_holds_the_office_the_roles_own_list_acts(world):
    stand_in = add_staff(world, "T030", "代理組長", "subject_teacher")
    assert acting(world, stand_in, roles=(Role.COUNSELLING,)) is None  # nobody on the list yet
    proxy_list(world, [stand_in], role="counselling")
    assert acting(world, stand_in, roles=(Role.COUNSELLING,)) is not None


def test_a_proxy_creates_and_submits_a_batch_audited_for_the_absent_clerk(world, people):
    """The world's 陳組長 also holds registry: make him a non-submitter so the clerk is alone."""
    with world.uow() as uow:
        uow.session.execute(StaffRole.__table__.delete().where(
            StaffRole.staff_id == world.staff_id,
            StaffRole.role.in_(["registry", "equipment_section"])))
        uow.commit()
    for n in range(2):
        item_id = world.upload_performance(n)
        world.run(selection.select, world.student(n), item_id, now=IN_SELECTION)
    bystander = world.staff(people["second"])
    with pytest.raises(Forbidden, match="代理人"):
        world.run(batches.create_batch, bystander, "year_performances", 114, now=AFTER_SELECTION)

    on_leave(world, people["clerk"])
    proxy = world.staff(people["first"])
    batch = world.run(batches.create_batch, proxy, "year_performances", 114, now=AFTER_SELECTION)
    with world.uow() as uow:
        rows = uow.session.execute(select(AuditEntry.actor_name, AuditEntry.on_behalf_name).where(
            AuditEntry.subject_kind == "batch", AuditEntry.subject_id == batch.id)).all()
    assert rows == [("代理一", "黃組長")]
    with pytest.raises(Forbidden):  # the second proxy is not first in order
        world.run(batches.cancel_batch, bystander, batch.id, reason="x", now=AFTER_SELECTION)


def test_a_proxy_settles_the_disputes_of_the_absent_office_and_the_audit_says_for_whom(world, people):
    """Grades' and basic data's disputes go to the registry (policy); the outcome disputes to the
    equipment section, which the clerk's proxy does not stand in for."""
    with world.uow() as uow:  # 陳組長 keeps his overseer roles only
        uow.session.execute(StaffRole.__table__.delete().where(
            StaffRole.staff_id == world.staff_id, StaffRole.role.in_(["registry", "equipment_section"])))
        uow.commit()
    equipment = add_staff(world, "S021", "林組長", "equipment_section")
    receipt_id = world.to_receipts((0,), kind="course_outcome")[0]
    world.run(receipts.dispute, world.student(0), receipt_id, reason="成績有誤", now=IN_RECEIPT)
    with world.uow() as uow:
        item_id = uow.session.scalars(uow.select(Item.id).where(Item.receipt_id == receipt_id)).one()
    proxy = world.staff(people["first"])
    assert world.run(offices.categories_for, proxy, now=IN_RECEIPT) == []

    on_leave(world, people["clerk"])
    assert set(world.run(offices.categories_for, proxy, now=IN_RECEIPT)) == {"basic_data", "courses"}
    with pytest.raises(Forbidden, match="設備組"):  # not his office's category
        world.run(disputes.resolve, proxy, item_id, kind="answered", reason="已查核", now=IN_RECEIPT)

    # The equipment section's only member goes on leave too, with the same first proxy.
    proxy_list(world, [people["first"]], of=equipment)
    on_leave(world, equipment)
    world.run(disputes.resolve, proxy, item_id, kind="answered", reason="檔案無誤，已查核", now=IN_RECEIPT)
    with world.uow() as uow:
        actor, for_whom = uow.session.execute(
            select(AuditEntry.actor_name, AuditEntry.on_behalf_name).where(
                AuditEntry.subject_id == item_id, AuditEntry.event == "resolve")).one()
    assert (actor, for_whom) == ("代理一", "林組長")
