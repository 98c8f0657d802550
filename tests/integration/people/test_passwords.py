"""Passwords (workflows/people/passwords.py) on SQLite and PostgreSQL: a person changes their own, the
school's platform admin resets someone's to a temporary one, the operator sets one; every rule,
every refusal changing nothing, and the audit never holding a password or a hash."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from persistence.tables import Account, AuditEntry
from tests.world import IN_UPLOAD, World
from workflows.people import accounts, passwords, sign_in_sessions
from workflows.core.actors import Actor, platform_admin
from workflows.core.clock import utc_now
from workflows.core.errors import Forbidden, InvalidInput, NotFound

OLD = "correct horse battery"
NEW = "a brand new passphrase"
LATER = IN_UPLOAD + timedelta(hours=1)


@pytest.fixture
def world(db, files) -> World:
    return World(db, files)


@pytest.fixture
def ids(world) -> dict[str, int]:
    made = {}
    with world.uow() as uow:
        admin = platform_admin()
        made["stu0"] = accounts.create_account(uow, admin, username="stu0", password=OLD, kind="student",
                                               student_id=world.student_ids[0], now=IN_UPLOAD).id
        made["teacher"] = accounts.create_account(uow, admin, username="teacher", password=OLD, kind="staff",
                                                  staff_id=world.teacher_id, now=IN_UPLOAD).id
        made["staff"] = accounts.create_account(uow, admin, username="staff", password=OLD, kind="staff",
                                                staff_id=world.staff_id, now=IN_UPLOAD).id
        made["parent"] = accounts.create_account(uow, admin, username="parent", password=OLD, kind="guardian",
                                                 name="學生0家長", guardian_of=[world.student_ids[0]],
                                                 now=IN_UPLOAD).id
        uow.commit()
    return made


def _actor(world: World, ids: dict, who: str) -> Actor:
    with world.uow() as uow:
        return accounts.actor_of(uow, uow.get(Account, ids[who]))


def _account(world: World, account_id: int) -> Account:
    with world.uow() as uow:
        return uow.get(Account, account_id)


LIFETIMES = sign_in_sessions.Lifetimes(absolute=timedelta(hours=8), idle=timedelta(hours=2))
KINDS = (sign_in_sessions.WEB, sign_in_sessions.API)


def _signed_in(world: World, account_id: int) -> list[str]:
    """A browser's session and an API token of the account."""
    account = _account(world, account_id)
    return [sign_in_sessions.start_session(world.db, account, kind, LIFETIMES, utc_now()) for kind in KINDS]


def _still_open(world: World, values: list[str]) -> list[bool]:
    return [sign_in_sessions.signed_in_account(world.db, value, kind, LIFETIMES, utc_now()) is not None
            for value, kind in zip(values, KINDS)]


def _password_audit(world: World) -> list[AuditEntry]:
    with world.uow() as uow:
        return list(uow.session.scalars(uow.select(AuditEntry).where(
            AuditEntry.event.in_(passwords.PASSWORD_EVENTS)).order_by(AuditEntry.id)))


def _change(world, ids, who="stu0", *, current=OLD, new=NEW, confirm=None):
    actor = _actor(world, ids, who)
    with world.uow() as uow:
        account = passwords.change_password(uow, actor, ids[who], current=current, new=new,
                                            confirm=new if confirm is None else confirm, now=LATER)
        uow.commit()
        return account


def _refused(world, ids, who="stu0", **typed) -> InvalidInput:
    before = _account(world, ids[who])
    with pytest.raises(InvalidInput) as refused:
        _change(world, ids, who, **typed)
    after = _account(world, ids[who])
    assert (after.password_hash, after.password_changed_at) == (before.password_hash, before.password_changed_at)
    assert _password_audit(world) == []
    return refused.value


# -- change ---------------------------------------------------------------------------------

def test_a_wrong_current_password_changes_nothing(world, ids):
    refused = _refused(world, ids, current="not my password")
    assert refused.field == "current_password" and "目前的密碼不正確" in refused.message
    assert accounts.authenticate(world.db, "stu0", OLD).id == ids["stu0"]


def test_a_new_password_under_the_minimum_is_refused_naming_it(world, ids):
    short = "x" * (accounts.PASSWORD_MIN - 1)
    refused = _refused(world, ids, new=short)
    assert refused.field == "new_password"
    assert refused.details["limit"] == accounts.PASSWORD_MIN and f"至少要 {accounts.PASSWORD_MIN} 個字元" in refused.message
    _change(world, ids, new="y" * accounts.PASSWORD_MIN)  # exactly the minimum is enough


def test_the_two_entries_must_be_equal(world, ids):
    refused = _refused(world, ids, confirm=NEW + "!")
    assert refused.field == "confirm_password" and "兩次輸入的新密碼不一樣" in refused.message


def test_the_new_password_must_differ_from_the_current_one(world, ids):
    refused = _refused(world, ids, new=OLD)
    assert refused.field == "new_password" and "不能和目前的密碼相同" in refused.message


def test_every_broken_rule_is_named_at_once(world, ids):
    refused = _refused(world, ids, current="wrong", new="short", confirm="other")
    assert set(refused.details["fields"]) == {"current_password", "new_password", "confirm_password"}
    assert refused.field == "current_password"


def test_a_change_stores_a_new_argon2_hash_and_audits_without_the_password(world, ids):
    before = _account(world, ids["stu0"])
    sessions, others = _signed_in(world, ids["stu0"]), _signed_in(world, ids["teacher"])
    _change(world, ids)
    after = _account(world, ids["stu0"])
    assert after.password_hash.startswith("$argon2id$") and after.password_hash != before.password_hash
    assert after.password_changed_at == LATER
    # Every session and token of the account ended with it; another account's did not.
    assert _still_open(world, sessions) == [False, False] and _still_open(world, others) == [True, True]
    with pytest.raises(Forbidden):
        accounts.authenticate(world.db, "stu0", OLD)
    assert accounts.authenticate(world.db, "stu0", NEW).id == ids["stu0"]
    [entry] = _password_audit(world)
    assert (entry.event, entry.subject_kind, entry.subject_id) == ("password_changed", "account", ids["stu0"])
    assert (entry.actor_kind, entry.actor_id, entry.actor_name, entry.at) == (
        "student", world.student_ids[0], "學生0", LATER)
    stored = " ".join(str(getattr(entry, c.key)) for c in AuditEntry.__table__.columns)
    assert NEW not in stored and OLD not in stored and after.password_hash not in stored
    assert not passwords.must_change_password(world.db, after)


@pytest.mark.parametrize("who", ["teacher", "parent"])
def test_staff_and_guardians_change_their_own_too(world, ids, who):
    _change(world, ids, who)
    assert accounts.authenticate(world.db, who, NEW).id == ids[who]


def test_nobody_changes_someone_elses_password(world, ids):
    actor = _actor(world, ids, "parent")  # the guardian of stu0, still not stu0
    with world.uow() as uow, pytest.raises(Forbidden):
        passwords.change_password(uow, actor, ids["stu0"], current=OLD, new=NEW, confirm=NEW, now=LATER)
    assert _password_audit(world) == []


# -- reset by the school's admin ------------------------------------------------------------

def _reset(world, ids, who="stu0", *, by="staff"):
    actor = _actor(world, ids, by)
    with world.uow() as uow:
        done = passwords.reset_password(uow, actor, ids[who], now=LATER)
        uow.commit()
    return done


def test_the_admin_resets_to_a_temporary_password_that_must_be_changed(world, ids):
    sessions, admins = _signed_in(world, ids["stu0"]), _signed_in(world, ids["staff"])
    done = _reset(world, ids)
    assert len(done.password) >= accounts.PASSWORD_MIN and done.account.username == "stu0"
    after = _account(world, ids["stu0"])
    assert _still_open(world, sessions) == [False, False] and _still_open(world, admins) == [True, True]
    assert accounts.authenticate(world.db, "stu0", done.password).id == ids["stu0"]
    with pytest.raises(Forbidden):
        accounts.authenticate(world.db, "stu0", OLD)
    assert passwords.must_change_password(world.db, after)
    [entry] = _password_audit(world)
    assert (entry.event, entry.subject_id, entry.actor_kind, entry.actor_id, entry.actor_name) == (
        "password_reset", ids["stu0"], "staff", world.staff_id, "陳組長")
    assert "stu0" in entry.reason and done.password not in entry.reason
    assert after.password_hash not in " ".join(str(getattr(entry, c.key)) for c in AuditEntry.__table__.columns)
    # The holder's own change ends the temporary state.
    _change(world, ids, current=done.password)
    assert not passwords.must_change_password(world.db, _account(world, ids["stu0"]))
    assert passwords.temporary_password() != passwords.temporary_password()


@pytest.mark.parametrize("by", ["teacher", "stu0", "parent"])
def test_only_the_admin_role_resets(world, ids, by):
    before = _account(world, ids["stu0"] if by != "stu0" else ids["teacher"])
    with pytest.raises(Forbidden):
        _reset(world, ids, "stu0" if by != "stu0" else "teacher", by=by)
    assert _account(world, before.id).password_hash == before.password_hash
    assert _password_audit(world) == []


def test_another_schools_account_is_not_found(world, ids, db, files):
    far = World(db, files, code="013302")
    with far.uow() as uow:
        foreign = accounts.create_account(uow, platform_admin(), username="far.student", password=OLD,
                                          kind="student", student_id=far.student_ids[0]).id
        uow.commit()
    actor = _actor(world, ids, "staff")
    with world.uow() as uow:
        with pytest.raises(NotFound):
            passwords.reset_password(uow, actor, foreign, now=LATER)
        with pytest.raises(NotFound):
            passwords.account_for_reset(uow, actor, foreign)
        assert all(r.username != "far.student" for r in passwords.list_accounts(uow, actor, query="far").rows)
    assert accounts.authenticate(db, "far.student", OLD).id == foreign


def test_the_admin_changes_their_own_password_not_by_reset(world, ids):
    with pytest.raises(InvalidInput) as refused:
        _reset(world, ids, "staff", by="staff")
    assert "變更密碼" in refused.value.message
    assert _password_audit(world) == []


def test_the_account_list_searches_and_pages(world, ids):
    with world.uow() as uow:
        for n in range(passwords.PAGE_SIZE + 3):
            accounts.create_account(uow, platform_admin(), username=f"guardian{n:02d}", password=OLD,
                                    kind="guardian", name=f"家長{n:02d}", guardian_of=[world.student_ids[1]])
        uow.commit()
    actor, teacher = _actor(world, ids, "staff"), _actor(world, ids, "teacher")
    with world.uow() as uow:
        first = passwords.list_accounts(uow, actor)
        assert (first.total, first.pages, len(first.rows)) == (passwords.PAGE_SIZE + 7, 2, passwords.PAGE_SIZE)
        second = passwords.list_accounts(uow, actor, page=2)
        assert len(second.rows) == 7 and not {r.id for r in first.rows} & {r.id for r in second.rows}
        assert passwords.list_accounts(uow, actor, page=99).page == 2
        by_name = passwords.list_accounts(uow, actor, query="學生0")
        assert {r.username for r in by_name.rows} == {"stu0", "parent"}  # the student and 學生0家長
        by_number = passwords.list_accounts(uow, actor, query=f"{world.code[-3:]}0000")  # 學號
        assert [r.username for r in by_number.rows] == ["stu0"]
        assert passwords.list_accounts(uow, actor, query="%").total == 0  # a wildcard is a character
        with pytest.raises(Forbidden):
            passwords.list_accounts(uow, teacher)


# -- the operator (CLI) ---------------------------------------------------------------------

def test_the_operator_sets_a_password_with_the_same_rules(world, ids):
    operator = Actor("platform", None, "命令列管理者")
    assert passwords.school_of_username(world.db, "teacher") == world.school_id
    with pytest.raises(NotFound):
        passwords.school_of_username(world.db, "nobody")
    sessions = _signed_in(world, ids["teacher"])
    for bad, field_rule in (("short", "password_min_length"), (OLD, "not_current")):
        with world.uow() as uow, pytest.raises(InvalidInput) as refused:
            passwords.set_password(uow, operator, "teacher", bad, now=LATER)
        assert refused.value.details["rule"] == field_rule
    assert _still_open(world, sessions) == [True, True]  # a refusal ends nothing
    with world.uow() as uow:
        passwords.set_password(uow, operator, "teacher", NEW, now=LATER)
        uow.commit()
    assert _still_open(world, sessions) == [False, False]
    assert accounts.authenticate(world.db, "teacher", NEW).id == ids["teacher"]
    [entry] = _password_audit(world)
    assert (entry.event, entry.actor_kind, entry.actor_name) == ("password_set", "platform", "命令列管理者")
    assert NEW not in (entry.reason or "")
    assert not passwords.must_change_password(world.db, _account(world, ids["teacher"]))
    with world.db.session() as session:
        assert session.scalar(select(Account.password_changed_at).where(Account.id == ids["teacher"])) == LATER
