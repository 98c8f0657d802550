"""Guardians (家長或法定代理人): they see their linked students and, where the school's policy
allows, act for them on the student pages — every act audited as on behalf of the student; where
it does not, they only view."""
from __future__ import annotations

import dataclasses
import io

import pytest

from persistence.tables import AuditEntry, Item, Receipt
from tests import samples
from tests.integration.web.conftest import add_accounts, post_form, sign_in
from tests.world import IN_RECEIPT, IN_UPLOAD, YEAR, World
from workflows.core.policy import load_policy


def text(response) -> str:
    return response.get_data(as_text=True)


def item(world, item_id: int) -> Item:
    with world.uow() as uow:
        return uow.get(Item, item_id)


def guardian_audit(world, subject_id: int) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(AuditEntry).where(
            AuditEntry.subject_id == subject_id, AuditEntry.actor_kind == "guardian")
            .order_by(AuditEntry.id)))


def submit(client, world, item_id: int, n: int = 0):
    return post_form(client, f"/students/{world.student_ids[n]}/items/{item_id}/submit",
                     {"version": str(item(world, item_id).version)})


@pytest.fixture
def parent(client, app, people):
    sign_in(client, "parent")
    app.config["NOW"] = IN_UPLOAD
    return client


def test_the_home_page_lists_only_the_linked_students(parent, world):
    world.upload(0)
    page = text(parent.get("/guardian/"))
    assert f'href="/students/{world.student_ids[0]}/items"' in page and "學生0" in page
    assert f"/students/{world.student_ids[1]}/" not in page and "學生1" not in page
    assert "可以代為上傳" in page


def test_a_guardian_sees_and_acts_for_their_child_audited_on_behalf(parent, world):
    child = world.student_ids[0]
    page = text(parent.get(f"/students/{child}/items"))
    assert f'id="outcome-{YEAR}-1"' in page  # the upload form is offered
    response = post_form(parent, f"/students/{child}/outcomes", {
        "course_id": str(world.course_id), "title": "家長代傳的報告",
        "document": (io.BytesIO(samples.pdf("g")), "報告.pdf")})
    assert response.status_code == 302
    with world.uow() as uow:
        item_id = uow.session.scalar(uow.select(Item.id).where(Item.title == "家長代傳的報告"))
    assert item(world, item_id).student_id == child
    followed = submit(parent, world, item_id)
    assert "家長代理學生操作" in text(parent.get(followed.headers["Location"]))
    assert item(world, item_id).state == "submitted"

    rows = guardian_audit(world, item_id)
    assert [r.event for r in rows] == ["upload", "submit"]
    for row in rows:
        assert (row.on_behalf_kind, row.on_behalf_id, row.on_behalf_name) == ("student", child, "學生0")
        assert row.actor_id == parent_account_id(world)


def parent_account_id(world) -> int:
    from persistence.tables import Account
    with world.uow() as uow:
        return uow.session.scalar(uow.select(Account.id).where(Account.kind == "guardian"))


def test_a_guardian_confirms_a_receipt_for_their_child(parent, app, world):
    receipt_id = world.to_receipts((0,))[0]
    app.config["NOW"] = IN_RECEIPT
    response = post_form(parent, f"/students/{world.student_ids[0]}/receipts/{receipt_id}/confirm")
    assert response.status_code == 302
    with world.uow() as uow:
        assert uow.get(Receipt, receipt_id).state == "confirmed"
    [row] = guardian_audit(world, receipt_id)[:1]
    assert row.subject_kind == "receipt" and row.on_behalf_id == world.student_ids[0]


def test_a_guardian_cannot_see_or_act_for_another_student(parent, world):
    other = world.student_ids[1]
    item_id = world.upload(1, title="別人的作品")
    for path in (f"/students/{other}/items", f"/students/{other}/receipts",
                 f"/students/{other}/items/{item_id}/edit"):
        response = parent.get(path)
        assert response.status_code == 404 and "別人的作品" not in text(response)
    assert submit(parent, world, item_id, n=1).status_code == 404
    assert submit(parent, world, item_id, n=0).status_code == 404  # through the child's pages
    assert post_form(parent, f"/students/{other}/outcomes", {
        "course_id": str(world.course_id), "title": "代傳",
        "document": (io.BytesIO(samples.pdf()), "x.pdf")}).status_code == 404
    assert item(world, item_id).state == "draft"
    assert guardian_audit(world, item_id) == []


def test_students_pages_are_not_the_guardian_home(client, people, world):
    sign_in(client, "stu0")
    assert client.get("/guardian/").status_code == 403


# --------------------------------------------------------------------------- view-only policy


@pytest.fixture
def view_only(db, files, client, app):
    """A school whose policy lets guardians view only (no `world` fixture: one school)."""
    policy = dataclasses.replace(load_policy("xinzhuang"), name="viewonly", guardians_may_act=False)
    world = World(db, files, policy=policy)
    add_accounts(world)
    sign_in(client, "parent")
    app.config["NOW"] = IN_UPLOAD
    return world


def test_where_the_policy_says_so_a_guardian_only_views(client, app, view_only):
    world = view_only
    child = world.student_ids[0]
    item_id = world.upload(0, title="孩子的作品")
    home = text(client.get("/guardian/"))
    assert "只能檢視" in home

    page = text(client.get(f"/students/{child}/items"))
    assert "孩子的作品" in page and "只能檢視" in page
    assert f"/items/{item_id}/submit" not in page and f"/items/{item_id}/edit" not in page
    assert 'class="upload"' not in page

    refused = submit(client, world, item_id)
    assert refused.status_code == 403 and "只能檢視" in text(refused)
    upload = post_form(client, f"/students/{child}/outcomes", {
        "course_id": str(world.course_id), "title": "家長代傳",
        "document": (io.BytesIO(samples.pdf()), "x.pdf")})
    assert upload.status_code == 403
    with world.uow() as uow:
        items = uow.session.execute(uow.select(Item).with_only_columns(Item.id, Item.state)).all()
    assert [tuple(row) for row in items] == [(item_id, "draft")]
    assert guardian_audit(world, item_id) == []


def test_where_the_policy_says_so_a_guardian_cannot_confirm_a_receipt(client, app, view_only):
    world = view_only
    receipt_id = world.to_receipts((0,))[0]
    app.config["NOW"] = IN_RECEIPT
    url = f"/students/{world.student_ids[0]}/receipts"
    page = text(client.get(url))
    assert "待確認" in page and "確認收訖</button>" not in page
    assert post_form(client, f"{url}/{receipt_id}/confirm").status_code == 403
    with world.uow() as uow:
        assert uow.get(Receipt, receipt_id).state == "issued"
