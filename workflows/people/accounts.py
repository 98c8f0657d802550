"""Accounts 帳號: who may sign in, with which password, as whom.

Passwords are argon2id hashes (argon2-cffi); a wrong username and a wrong password answer the
same, and take the same time, so usernames cannot be probed. Signing in returns the account;
`actor_of` turns it into the Actor every workflow takes.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from persistence.db import Database
from persistence.tables import Account, GuardianLink, Staff, StaffRole, Student
from persistence.vocabulary import AccountKind
from workflows.core.actors import Actor
from workflows.core.clock import now_or, taipei_date
from workflows.core.errors import Forbidden, InvalidInput, NotFound
from workflows.core.roles import Role
from workflows.core.transitions import note
from workflows.core.unit_of_work import UnitOfWork, prepare
from workflows.people.actors import staff_actor, student_actor

USERNAME = re.compile(r"[A-Za-z0-9._@-]{3,60}")
PASSWORD_MIN = 10
PASSWORD_MAX = 200
ACCOUNT_ROLES = (Role.ADMIN,)

_hasher = PasswordHasher()


@cache
def dummy_hash() -> str:
    """Verified against when the username is unknown, so both failures cost one argon2
    verification. Made on first need, not at import: a hash takes a fifth of a second of CPU, which
    every command, scheduler and test process paid at start-up. The web app makes it when it is
    created (web.app.create_app), so no sign-in pays for it."""
    return _hasher.hash("not a password of anyone")


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the argon2 parameters (tests use cheap ones; production keeps argon2-cffi's defaults)."""
    global _hasher
    _hasher = hasher
    dummy_hash.cache_clear()


def hash_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"密碼至少要 {PASSWORD_MIN} 個字元。", field="password", limit=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(f"密碼最多 {PASSWORD_MAX} 個字元。", field="password", limit=PASSWORD_MAX)
    return _hasher.hash(password)


def _username(value: str) -> str:
    value = (value or "").strip()
    if not USERNAME.fullmatch(value):
        raise InvalidInput("帳號須為 3–60 個英文字母、數字或 . _ @ - 。", field="username")
    return value


def create_account(uow: UnitOfWork, actor: Actor, *, username: str, password: str, kind: str,
                   student_id: int | None = None, staff_id: int | None = None,
                   name: str | None = None, guardian_of: list[int] | None = None,
                   now: datetime | None = None) -> Account:
    """A student's, a staff member's or a guardian's account (guardian_of: the students)."""
    now = now_or(now)
    uow.require_member(actor)
    if not (actor.kind == "platform" or actor.has(*ACCOUNT_ROLES)):
        raise Forbidden("只有學校平臺管理者可以建立帳號。")
    username = _username(username)
    if uow.session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise InvalidInput(f"帳號「{username}」已有人使用。", field="username")
    if kind == "student":
        person = uow.get(Student, student_id, what="學生")
        name = person.name
        _one_account_each(uow, Account.student_id == student_id, f"學生{person.name}（學號 {person.student_no}）")
    elif kind == "staff":
        person = uow.get(Staff, staff_id, what="教職員")
        name = person.name
        _one_account_each(uow, Account.staff_id == staff_id, f"{person.name}（編號 {person.staff_no}）")
    elif kind == "guardian":
        if not guardian_of:
            raise InvalidInput("家長帳號至少要連結一位學生。", field="guardian_of")
        for sid in guardian_of:
            uow.get(Student, sid, what="學生")
        name = (name or "").strip()
        if not name:
            raise InvalidInput("請填寫家長或法定代理人的姓名。", field="name")
    else:
        raise InvalidInput(f"帳號種類「{kind}」不明：student、staff 或 guardian。", field="kind")
    account = Account(school_id=uow.school_id, username=username, password_hash=hash_password(password),
                      kind=kind, student_id=student_id if kind == "student" else None,
                      staff_id=staff_id if kind == "staff" else None, name=name[:40], active=True,
                      created_at=now, password_changed_at=now)
    uow.session.add(account)
    uow.session.flush()
    for sid in guardian_of or ():
        uow.session.add(GuardianLink(school_id=uow.school_id, account_id=account.id, student_id=sid))
    note(uow.session, school_id=uow.school_id, subject_kind="account", subject_id=account.id,
         event="create_account", actor=actor, at=now, student_id=student_id,
         reason=f"建立{ACCOUNT_KIND_LABELS[kind]}帳號 {username}")
    return account


ACCOUNT_KIND_LABELS = AccountKind.labels()


def _one_account_each(uow: UnitOfWork, condition, who: str) -> None:
    existing = uow.session.scalar(uow.select(Account.username).where(condition))
    if existing is not None:
        raise InvalidInput(f"{who}已經有帳號「{existing}」；每人只能有一個帳號。", field="person")


def grant_role(uow: UnitOfWork, actor: Actor, staff_id: int, role: Role, *, now: datetime | None = None) -> bool:
    """Give a staff member a role (no-op if held). True if it was new."""
    now = now_or(now)
    uow.require_member(actor)
    if not (actor.kind == "platform" or actor.has(*ACCOUNT_ROLES)):
        raise Forbidden("只有學校平臺管理者可以設定職務。")
    uow.get(Staff, staff_id, what="教職員")
    held = uow.session.get(StaffRole, (uow.school_id, staff_id, str(role)))
    if held is not None:
        return False
    uow.session.add(StaffRole(school_id=uow.school_id, staff_id=staff_id, role=str(role)))
    note(uow.session, school_id=uow.school_id, subject_kind="staff", subject_id=staff_id,
         event="grant_role", actor=actor, at=now, reason=f"設定職務 {role}")
    return True


def authenticate(db: Database, username: str, password: str, *, now: datetime | None = None) -> Account:
    """The active account with this username and password, or Forbidden (same words either way).
    A departed teacher's (inactive staff) account signs in only through his certify-only date
    (Taipei, inclusive)."""
    refused = Forbidden("帳號或密碼不正確。")
    with prepare(db).session() as session:
        account = session.scalars(select(Account).where(Account.username == (username or "").strip())).one_or_none()
        if account is None:
            verify_password(dummy_hash(), password or "")
            raise refused
        if not verify_password(account.password_hash, password or ""):
            raise refused
        if not account.active or not _person_active(session, account, taipei_date(now_or(now))):
            raise Forbidden("帳號已停用，請洽學校承辦人員。")
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = _hasher.hash(password)
            session.commit()
        session.expunge(account)
        return account


def verify_password(hashed: str, password: str) -> bool:
    """Whether `password` is the one `hashed` was made from (a malformed hash: no)."""
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _person_active(session, account: Account, today: date) -> bool:
    if account.kind == "staff":
        staff = session.get(Staff, account.staff_id)
        return staff is not None and staff_may_act(staff, today)
    return True


def account_still_open(uow: UnitOfWork, account: Account, now: datetime) -> bool:
    """Whether a signed-in account may go on (a certify-only account ends on its date)."""
    return account.kind != "staff" or staff_may_act(uow.get(Staff, account.staff_id, what="教職員"),
                                                     taipei_date(now))


def staff_may_act(staff: Staff, today: date) -> bool:
    """Active, or a departed teacher whose certify-only account (減緩原帳號消滅時間) still runs
    on `today` (Taipei, inclusive): the one rule for signing in and for a session going on."""
    return staff.active or (staff.certify_only_until is not None and staff.certify_only_until >= today)


def actor_of(uow: UnitOfWork, account: Account) -> Actor:
    """The Actor the workflows take, with roles (staff) or linked students (guardian)."""
    if account.school_id != uow.school_id:
        raise NotFound("找不到資料：只能處理自己學校的資料。")
    if account.kind == "student":
        return student_actor(uow, account.student_id)
    if account.kind == "staff":
        actor = staff_actor(uow, account.staff_id)
        staff = uow.get(Staff, account.staff_id, what="教職員")
        if not staff.active:
            # A certify-only account (a departed teacher): it certifies his own courses, nothing else.
            return Actor("staff", actor.id, actor.name, actor.school_id, frozenset({Role.SUBJECT_TEACHER}))
        return actor
    students = uow.session.scalars(select(GuardianLink.student_id).where(
        GuardianLink.school_id == uow.school_id, GuardianLink.account_id == account.id)).all()
    return Actor("guardian", account.id, account.name, uow.school_id, student_ids=frozenset(students))


def person_ids(uow: UnitOfWork, *, student_nos=(), staff_no: str | None = None) -> tuple[list[int], int | None]:
    """Students' ids by 學號 and a staff member's id by 教職員編號, each one required to exist."""
    students = []
    for number in student_nos:
        found = uow.session.scalar(uow.select(Student.id).where(Student.student_no == number))
        if found is None:
            raise NotFound(f"找不到學號 {number} 的學生。")
        students.append(found)
    staff = None
    if staff_no:
        staff = uow.session.scalar(uow.select(Staff.id).where(Staff.staff_no == staff_no))
        if staff is None:
            raise NotFound(f"找不到教職員編號 {staff_no}。")
    return students, staff
