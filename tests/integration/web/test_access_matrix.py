"""Who may reach another person's data through the API: every role, in the same school and in
another school, against every endpoint that names someone's artefact, student or receipt.

The rule the table follows: whoever may not SEE the thing gets 404, exactly as for an id that
does not exist (so ids cannot be probed); whoever may see it but not do this to it gets 403.
Lists never fail for naming someone else: they only ever narrow, so they answer 200 with or
without the data. Whatever the status, nothing of the owner's leaks into the body unless the
table says the caller may see it.
"""
from __future__ import annotations

import io

import pytest

from persistence.tables import Item, Receipt, Staff, StaffRole
from tests import samples
from tests.integration.web.conftest import PASSWORD, add_accounts
from tests.world import AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_UPLOAD, YEAR, World
from workflows.people import accounts
from workflows.items import certification, selection
from workflows.central import receipts
from workflows.core.actors import platform_admin

OWNER_NAME = "林小甲"  # student 0 of school 013301, whose data everyone reaches for
DRAFT_TITLE = "甲生數學成果草稿"
SUBMITTED_TITLE = "甲生數學成果送審"
RECEIPT_TITLE = "甲生國文成果已提交"

SHOWN, HIDDEN = "shown", "hidden"  # a list answers 200 with or without the owner's data

# Accounts in each school (tests/integration/web/conftest.add_accounts, plus teacher3):
# stu0 the owner, stu1 another student, parent the owner's guardian, teacher2 李老師 who teaches
# 數學 (the course of the items below) and is nobody's homeroom teacher, teacher3 張老師 who
# teaches nothing of theirs, teacher 王老師 the homeroom teacher (導師) of the owner's class 101,
# staff 陳組長 of the registry and the equipment section (whole school, submits to the ministry).
ROLES = {
    "owner": "stu0", "other student": "stu1", "guardian": "parent", "subject teacher": "teacher2",
    "other teacher": "teacher3", "homeroom teacher": "teacher", "staff office": "staff",
}
ENDPOINTS = ("GET artefact", "GET artefacts?student_id", "POST artefacts (for owner)",
             "POST submit (student's event)", "POST certify (teacher's event)",
             "GET receipts?student_id", "POST receipt confirm")

# The matrix. Columns in the order of ENDPOINTS.
SAME_SCHOOL = {
    "owner":            (200, SHOWN,  201, 200, 403, SHOWN,  200),
    "other student":    (404, HIDDEN, 404, 404, 404, HIDDEN, 404),
    "guardian":         (200, SHOWN,  201, 200, 403, SHOWN,  200),
    "subject teacher":  (200, SHOWN,  404, 403, 200, 403,    404),
    "other teacher":    (404, HIDDEN, 404, 404, 404, 403,    404),
    "homeroom teacher": (200, SHOWN,  403, 403, 403, 403,    403),
    "staff office":     (200, SHOWN,  403, 403, 403, SHOWN,  403),
}
# The same roles held in school 013302: nothing of school 013301 exists for them.
OTHER_SCHOOL = {
    "owner":            (404, HIDDEN, 404, 404, 404, HIDDEN, 404),
    "other student":    (404, HIDDEN, 404, 404, 404, HIDDEN, 404),
    "guardian":         (404, HIDDEN, 404, 404, 404, HIDDEN, 404),
    "subject teacher":  (404, HIDDEN, 404, 404, 404, 403,    404),
    "other teacher":    (404, HIDDEN, 404, 404, 404, 403,    404),
    "homeroom teacher": (404, HIDDEN, 404, 404, 404, 403,    404),
    "staff office":     (404, HIDDEN, 404, 404, 404, HIDDEN, 404),
}
CELLS = [pytest.param(school, role, endpoint, expected, id=f"{school}-{role}-{endpoint}")
         for school, table in (("013301", SAME_SCHOOL), ("013302", OTHER_SCHOOL))
         for role, row in table.items() for endpoint, expected in zip(ENDPOINTS, row, strict=True)]


def _add_teacher3(world: World) -> None:
    with world.uow() as uow:
        staff = Staff(school_id=world.school_id, staff_no="T003", name="張老師")
        uow.session.add(staff)
        uow.session.flush()
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=staff.id, role="subject_teacher"))
        accounts.create_account(uow, platform_admin(), username=f"teacher3.{world.code}", password=PASSWORD,
                                kind="staff", staff_id=staff.id)
        uow.commit()


class Scene:
    """School 013301 with the owner's items (a draft and a submitted 數學 outcome) and, for the
    receipt columns, a receipt; school 013302 with the same roles and data of its own."""

    def __init__(self, db, files, app):
        self.app = app
        self.home = World(db, files)
        self.home.set_student(0, name=OWNER_NAME)
        self.far = World(db, files, code="013302")
        for world in (self.home, self.far):
            add_accounts(world)
            _add_teacher3(world)
            world.upload(0, course_id=world.course2_id, title="自己學校的作品")  # each school has data
        self.owner_id = self.home.student_ids[0]
        self.draft = self.home.upload(0, course_id=self.home.course2_id, title=DRAFT_TITLE)
        self.submitted = self.home.upload(0, course_id=self.home.course2_id, title=SUBMITTED_TITLE)
        self.home.run(certification.submit, self.home.student(0), self.submitted, now=IN_UPLOAD)
        self.receipt = None
        app.config["NOW"] = IN_UPLOAD

    def issue_receipt(self) -> None:
        home = self.home
        item = home.upload(0, title=RECEIPT_TITLE)
        home.run(certification.submit, home.student(0), item, now=IN_UPLOAD)
        home.run(certification.certify, home.teacher, item, now=IN_UPLOAD)
        home.run(selection.select, home.student(0), item, now=IN_SELECTION)
        home.run(receipts.submit_selected, home.staff(), kind="course_outcome", academic_year=YEAR,
                 confirmation_window_id=home.receipt_window_id, now=AFTER_SELECTION)
        with home.uow() as uow:
            self.receipt = uow.get(Item, item).receipt_id
        self.app.config["NOW"] = IN_RECEIPT

    def secrets(self, endpoint: str) -> list[str]:
        """What of the owner's this endpoint could show: their name and the artefacts' titles."""
        return [OWNER_NAME, *([RECEIPT_TITLE] if "receipt" in endpoint else [DRAFT_TITLE, SUBMITTED_TITLE])]


@pytest.fixture
def scene(db, files, app) -> Scene:
    return Scene(db, files, app)


def _token(client, username: str) -> dict:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _call(client, scene: Scene, endpoint: str, headers: dict):
    owner = scene.owner_id
    if endpoint == "GET artefact":
        return client.get(f"/api/v1/artefacts/{scene.draft}", headers=headers)
    if endpoint == "GET artefacts?student_id":
        return client.get(f"/api/v1/artefacts?student_id={owner}", headers=headers)
    if endpoint == "POST artefacts (for owner)":
        return client.post("/api/v1/artefacts", headers=headers, content_type="multipart/form-data", data={
            "kind": "performance", "student_id": str(owner), "academic_year": str(YEAR),
            "category": "volunteer", "title": "代為上傳的志工服務",
            "document": (io.BytesIO(samples.pdf("志工")), "志工.pdf")})
    if endpoint == "POST submit (student's event)":
        return client.post(f"/api/v1/artefacts/{scene.draft}/events/submit", headers=headers)
    if endpoint == "POST certify (teacher's event)":
        return client.post(f"/api/v1/artefacts/{scene.submitted}/events/certify", headers=headers)
    if endpoint == "GET receipts?student_id":
        return client.get(f"/api/v1/receipts?student_id={owner}", headers=headers)
    if endpoint == "POST receipt confirm":
        return client.post(f"/api/v1/receipts/{scene.receipt}/events/confirm", headers=headers)
    raise AssertionError(endpoint)


def _stored(scene: Scene) -> dict:
    """The owner's stored artefacts: (state, version) by id, receipts included."""
    with scene.home.uow() as uow:
        items = {("item", i.id): (i.state, i.version) for i in uow.session.scalars(uow.select(Item))}
        receipts_ = {("receipt", r.id): (r.state, r.version) for r in uow.session.scalars(uow.select(Receipt))}
    return {**items, **receipts_}


@pytest.mark.parametrize("school, role, endpoint, expected", CELLS)
def test_access_matrix(client, scene, school, role, endpoint, expected):
    if "receipt" in endpoint:
        scene.issue_receipt()
    headers = _token(client, f"{ROLES[role]}.{school}")
    before = _stored(scene)
    response = _call(client, scene, endpoint, headers)
    body = response.get_data(as_text=True)
    assert response.status_code == (200 if expected in (SHOWN, HIDDEN) else expected), body[:400]
    assert response.mimetype == "application/json"
    succeeded = isinstance(expected, int) and expected < 300
    if expected == SHOWN:
        assert all(secret in body for secret in scene.secrets(endpoint)), body[:400]
    elif succeeded and "event" in endpoint and "receipt" not in endpoint:
        # An item's event answers the item's new state (not its contents): the positive control
        # is that it is the owner's item that moved.
        answer = response.get_json()
        assert (answer["id"], answer["state"]) in ((scene.draft, "submitted"), (scene.submitted, "certified"))
    elif succeeded:
        assert OWNER_NAME in body  # the positive control of the check below
    else:
        leaked = [secret for secret in scene.secrets(endpoint) if secret in body]
        assert not leaked, f"{leaked} shown to {role} of {school}: {body[:400]}"
    # Only an allowed act changes anything stored.
    assert (_stored(scene) != before) == (endpoint.startswith("POST") and succeeded)
