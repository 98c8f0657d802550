"""Paper-mail notices for departed students whose receipt window is open: one printed page each,
with the address, what to check, the period in Taipei time, and how to answer; printing is
audited."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from persistence.tables import AuditEntry, Window
from tests.world import IN_RECEIPT, World
from web.notices import render_notices
from workflows.central import receipts
from workflows.core.errors import Forbidden, InvalidInput
from workflows.deadlines.notices import paper_notices


def notices(world, actor=None, window_id=None):
    actor = actor or world.staff()
    with world.uow() as uow:
        return paper_notices(uow, actor, window_id or world.receipt_window_id, now=IN_RECEIPT)


def test_one_page_per_departed_student_with_address_items_and_period(db, files):
    world = World(db, files)
    world.to_receipts((0, 1, 2))
    world.depart(1, mailing_address="811 高雄市楠梓區中山路 1 號", guardian_name="王大明")
    world.depart(2)

    batch = notices(world)
    html = render_notices(batch)

    assert [n.name for n in batch.notices] == ["學生1", "學生2"]  # not the one still in school
    assert len(re.findall(r'<section class="notice">', html)) == 2
    assert "811 高雄市楠梓區中山路 1 號" in html and "王大明" in html
    assert "無通訊地址" in html  # 學生2: the office sees it must add one first
    assert "作品" in html and "國語文" in html  # the item and its course
    assert "115/10/04 00:00 起，至 115/10/18 23:59 止" in html
    assert "逾期未確認也未提出疑義者，視為確認" in html and "註冊組" in html
    with world.uow() as uow:
        printed = uow.session.scalars(select(AuditEntry).where(AuditEntry.event == "paper_notice")).all()
    assert sorted(r.student_id for r in printed) == world.student_ids[1:]
    assert all(r.from_state == r.to_state == "issued" for r in printed)


def test_a_student_who_already_answered_needs_no_notice(db, files):
    world = World(db, files)
    receipt_of = world.to_receipts((1,))
    world.depart(1, mailing_address="臺南市")
    world.run(receipts.confirm, world.student(1), receipt_of[1], now=IN_RECEIPT)
    assert notices(world).notices == []


def test_only_the_office_prints_and_only_for_a_receipt_window(db, files):
    world = World(db, files)
    with pytest.raises(Forbidden):
        notices(world, actor=world.teacher)
    with world.uow() as uow:
        other = uow.session.scalars(select(Window.id).where(Window.kind == "selection")).one()
    with pytest.raises(InvalidInput):
        notices(world, window_id=other)
