"""Passwords 密碼: a person changes their own (變更密碼), the school's platform admin
(學校平臺管理者) resets someone's to a temporary one (重設密碼), and the operator sets one from the
command line (`portfolio user passwd`).

Every path hashes with workflows/people/accounts.py's argon2 hasher and its length rule, sets
`password_changed_at` and writes an audit row (never the password, never the hash). Every path
also ends all of the account's sign-in sessions and API tokens in the same transaction
(workflows/people/sign_in_sessions.py); the web starts a new session for the browser that made the change.

An account whose latest password event is an admin's reset holds a temporary password that the
admin has seen: the site sends it to 變更密碼 before anything else (`must_change_password`), and
the API gives it no token (`require_chosen_password`). The audit log already says which event came
last, so no column is needed for it.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from persistence.db import Database
from persistence.tables import Account, AuditEntry, Staff, Student
from workflows.people import accounts, sign_in_sessions
from workflows.people.accounts import ACCOUNT_KIND_LABELS, ACCOUNT_ROLES, PASSWORD_MAX, PASSWORD_MIN
from workflows.core.clock import now_or
from workflows.core.actors import Actor
from workflows.core.errors import Forbidden, InvalidInput, NotFound, PasswordChangeRequired
from workflows.core.transitions import note
from workflows.core.unit_of_work import UnitOfWork, prepare

CHANGED, RESET, SET = "password_changed", "password_reset", "password_set"
PASSWORD_EVENTS = (CHANGED, RESET, SET)
ACTIVATED, DEACTIVATED = "activate_account", "deactivate_account"
PAGE_SIZE = 20
QUERY_MAX = 60

# Temporary passwords are read aloud or copied from a screen: no 0/O, 1/l/I look-alikes.
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
_GROUP = 4
_GROUPS = max(3, math.ceil(PASSWORD_MIN / _GROUP))  # 12 symbols, about 59 bits, and never under the minimum


def temporary_password() -> str:
    """A random password such as k7p3-x9m2-q4rt (hyphens only to help reading it out)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(_GROUP)) for _ in range(_GROUPS))


# -- 變更密碼: the signed-in person's own --------------------------------------------------------

def change_password(uow: UnitOfWork, actor: Actor, account_id: int, *, current: str, new: str, confirm: str,
                    now: datetime | None = None) -> Account:
    """The holder of the account replaces its password. Every rule broken is reported at once in
    `details["fields"]` ({field: message}); the first one is the error's message and field.
    Nothing changes on any refusal."""
    now = now_or(now)
    uow.require_member(actor)
    account = uow.get(Account, account_id, for_update=True, what="帳號")
    if not _holds(actor, account):
        raise Forbidden("只能變更自己的密碼。")
    current, new, confirm = current or "", new or "", confirm or ""
    problems: dict[str, tuple[str, str, int | None]] = {}
    # Always one argon2 verification, also for an empty entry: the answer takes the same time.
    if not accounts.verify_password(account.password_hash, current):
        problems["current_password"] = ("目前的密碼不正確，請再輸入一次。" if current else "請輸入目前的密碼。",
                                        "current_password", None)
    rule = _new_password_problem(new)
    if rule is not None:
        problems["new_password"] = rule
    elif "current_password" not in problems and new == current:
        problems["new_password"] = _NOT_CURRENT
    if not confirm:
        problems["confirm_password"] = ("請再輸入一次新密碼。", "confirm_required", None)
    elif confirm != new:
        problems["confirm_password"] = ("兩次輸入的新密碼不一樣，請重新輸入。", "confirm_matches", None)
    if problems:
        field, (message, rule_name, limit) = next(iter(problems.items()))
        raise InvalidInput(message, field=field, rule=rule_name, limit=limit,
                           fields={name: text for name, (text, _, _) in problems.items()})
    _store(uow, account, new, event=CHANGED, actor=actor, now=now, reason="本人變更密碼")
    return account


def _holds(actor: Actor, account: Account) -> bool:
    """Whether `actor` is the person signed in with `account` (actor_of's mapping, reversed)."""
    if actor.on_behalf is not None or actor.school_id != account.school_id:
        return False
    if account.kind == "student":
        return actor.kind == "student" and actor.id == account.student_id
    if account.kind == "staff":
        return actor.kind == "staff" and actor.id == account.staff_id
    return actor.kind == "guardian" and actor.id == account.id


_NOT_CURRENT = ("新密碼不能和目前的密碼相同，請換一個新的。", "not_current", None)


def _new_password_problem(new: str) -> tuple[str, str, int | None] | None:
    # The numbers are accounts.py's, the same create_account enforces; the words name the new one.
    if not new:
        return ("請輸入新密碼。", "required", None)
    if len(new) < PASSWORD_MIN:
        return (f"新密碼太短：至少要 {PASSWORD_MIN} 個字元。", "password_min_length", PASSWORD_MIN)
    if len(new) > PASSWORD_MAX:
        return (f"新密碼太長：最多 {PASSWORD_MAX} 個字元。", "password_max_length", PASSWORD_MAX)
    return None


def _store(uow: UnitOfWork, account: Account, password: str, *, event: str, actor: Actor, now: datetime,
           reason: str) -> None:
    account.password_hash = accounts.hash_password(password)
    account.password_changed_at = now
    # Whoever held a session or a token of the account (maybe the one who learnt the old
    # password) is out at once; the audit row below is the record of it.
    sign_in_sessions.end_all(uow.session, account.id)
    # The audit says who and when, never the password or its hash.
    note(uow.session, school_id=uow.school_id, subject_kind="account", subject_id=account.id,
         event=event, actor=actor, at=now, reason=reason)
    uow.flush()


# -- 重設密碼: the school's platform admin -------------------------------------------------------

@dataclass(frozen=True)
class AccountRow:
    id: int
    username: str
    name: str
    kind: str
    kind_label: str
    number: str | None  # 學號 or 教職員編號
    class_name: str | None
    active: bool
    password_changed_at: datetime
    temporary: bool  # reset by an admin, not yet changed by its holder

    @property
    def status_label(self) -> str:
        return "啟用" if self.active else "停用"


@dataclass(frozen=True)
class AccountPage:
    rows: list[AccountRow]
    query: str
    page: int
    pages: int
    total: int
    page_size: int = PAGE_SIZE


@dataclass(frozen=True)
class Reset:
    """The answer of a reset: `password` is shown once to the admin and kept nowhere."""

    account: AccountRow
    password: str
    at: datetime


def require_account_admin(uow: UnitOfWork, actor: Actor) -> Actor:
    """The school's platform admin (the role that creates accounts) or the platform operator."""
    uow.require_member(actor)
    if not (actor.kind == "platform" or (actor.is_staff and actor.has(*ACCOUNT_ROLES))):
        raise Forbidden("只有學校平臺管理者可以查看帳號清單及重設密碼。")
    return actor


def list_accounts(uow: UnitOfWork, actor: Actor, *, query: str = "", page: int = 1) -> AccountPage:
    """The school's accounts by username, PAGE_SIZE a page; `query` matches part of the username,
    the name, the 學號 or the 教職員編號 (any case)."""
    require_account_admin(uow, actor)
    query = (query or "").strip()[:QUERY_MAX]
    statement = _account_rows(uow)
    if query:
        statement = statement.where(or_(Account.username.icontains(query, autoescape=True),
                                        Account.name.icontains(query, autoescape=True),
                                        Student.student_no.icontains(query, autoescape=True),
                                        Staff.staff_no.icontains(query, autoescape=True)))
    total = uow.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    found = uow.session.execute(statement.order_by(Account.username)
                                .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return AccountPage(_rows(uow, found), query, page, pages, total)


def account_for_reset(uow: UnitOfWork, actor: Actor, account_id: int) -> AccountRow:
    """The account the reset page names: the admin only, and only the school's (else 404)."""
    require_account_admin(uow, actor)
    return _row(uow, account_id)


def reset_password(uow: UnitOfWork, actor: Actor, account_id: int, *, now: datetime | None = None) -> Reset:
    """A new random temporary password for the account; its holder must change it at the next
    sign-in. The role is checked before the id is looked up, so nobody else can probe ids."""
    now = now_or(now)
    require_account_admin(uow, actor)
    account = uow.get(Account, account_id, for_update=True, what="帳號")
    if _holds(actor, account):
        raise InvalidInput("不能重設自己的密碼，請用「變更密碼」。", field="account", rule="not_own_account")
    password = temporary_password()
    _store(uow, account, password, event=RESET, actor=actor, now=now,
           reason=f"重設{ACCOUNT_KIND_LABELS[account.kind]}帳號 {account.username} 的密碼（暫時密碼，本人須於下次登入時變更）")
    return Reset(_row(uow, account_id), password, now)


def set_active(uow: UnitOfWork, actor: Actor, account_id: int, active: bool, *,
               now: datetime | None = None) -> AccountRow:
    """停用 (active=False) or 啟用 an account of the school (the admin only). 停用 refuses sign-in
    and ends every session and API token of the account at once; 啟用 lets it sign in again with
    its password. Setting what already holds changes nothing and writes no audit row."""
    now = now_or(now)
    require_account_admin(uow, actor)
    account = uow.get(Account, account_id, for_update=True, what="帳號")
    if _holds(actor, account):
        raise InvalidInput("不能停用或啟用自己的帳號。", field="account", rule="not_own_account")
    if account.active != active:
        account.active = active
        if not active:
            sign_in_sessions.end_all(uow.session, account.id)
        label = ACCOUNT_KIND_LABELS[account.kind]
        note(uow.session, school_id=uow.school_id, subject_kind="account", subject_id=account.id,
             event=ACTIVATED if active else DEACTIVATED, actor=actor, at=now,
             from_state="inactive" if active else "active", to_state="active" if active else "inactive",
             reason=f"{'啟用' if active else '停用'}{label}帳號 {account.username}")
        uow.flush()
    return _row(uow, account_id)


def _account_rows(uow: UnitOfWork):
    return (uow.select(Account).add_columns(Student.student_no, Student.class_name, Staff.staff_no)
            .outerjoin(Student, (Student.school_id == Account.school_id) & (Student.id == Account.student_id))
            .outerjoin(Staff, (Staff.school_id == Account.school_id) & (Staff.id == Account.staff_id)))


def _row(uow: UnitOfWork, account_id: int) -> AccountRow:
    found = uow.session.execute(_account_rows(uow).where(Account.id == account_id)).all()
    if not found:
        raise NotFound(f"找不到帳號（編號 {account_id}）")
    return _rows(uow, found)[0]


def _rows(uow: UnitOfWork, found) -> list[AccountRow]:
    latest = _latest_password_events(uow.session, uow.school_id, [a.id for a, *_ in found])
    return [AccountRow(a.id, a.username, a.name, a.kind, ACCOUNT_KIND_LABELS.get(a.kind, a.kind),
                       student_no or staff_no, class_name, a.active, a.password_changed_at,
                       latest.get(a.id) == RESET)
            for a, student_no, class_name, staff_no in found]


def _latest_password_events(session, school_id: int, account_ids: list[int]) -> dict[int, str]:
    if not account_ids:
        return {}
    rows = session.execute(select(AuditEntry.subject_id, AuditEntry.event).where(
        AuditEntry.school_id == school_id, AuditEntry.subject_kind == "account",
        AuditEntry.subject_id.in_(account_ids), AuditEntry.event.in_(PASSWORD_EVENTS))
        .order_by(AuditEntry.id)).all()
    # Ids, not times: a test clock (or a clock set back) must not reorder what happened.
    return {account_id: event for account_id, event in rows}


def must_change_password(db: Database, account: Account) -> bool:
    """Whether the account still holds a temporary password an admin set (and saw)."""
    with prepare(db).session() as session:
        latest = _latest_password_events(session, account.school_id, [account.id])
    return latest.get(account.id) == RESET


def require_chosen_password(db: Database, account: Account) -> None:
    """Refuse what a temporary password must not open (an API token): the admin who set it has
    seen it, so it only lets its holder choose their own."""
    if must_change_password(db, account):
        raise PasswordChangeRequired("這是學校平臺管理者重設的暫時密碼：請先登入網站變更密碼，再取得權杖。")


# -- the command line: `portfolio user passwd` ----------------------------------------------------

def school_of_username(db: Database, username: str) -> int:
    """The school of an account: usernames are unique across the deployment."""
    with prepare(db).session() as session:
        school_id = session.scalar(select(Account.school_id).where(Account.username == (username or "").strip()))
    if school_id is None:
        raise NotFound(f"找不到帳號「{(username or '').strip()}」。")
    return school_id


def set_password(uow: UnitOfWork, actor: Actor, username: str, password: str, *,
                 now: datetime | None = None) -> Account:
    """The operator (or the school's admin) sets a chosen password, with the same rules as a
    change: the minimum length, and not the current password."""
    now = now_or(now)
    require_account_admin(uow, actor)
    username = (username or "").strip()
    account = uow.session.scalars(uow.select(Account).where(Account.username == username)
                                  .with_for_update()).one_or_none()
    if account is None:
        raise NotFound(f"找不到帳號「{username}」。")
    rule = _new_password_problem(password or "")
    if rule is not None:
        message, rule_name, limit = rule
        raise InvalidInput(message, field="password", rule=rule_name, limit=limit)
    if accounts.verify_password(account.password_hash, password):
        message, rule_name, limit = _NOT_CURRENT
        raise InvalidInput(message, field="password", rule=rule_name, limit=limit)
    _store(uow, account, password, event=SET, actor=actor, now=now, reason=f"設定帳號 {username} 的密碼")
    return account
