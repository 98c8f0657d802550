"""Server-side sign-in sessions 登入階段: a signed-in browser (kind "web", the site's cookie) or an
API token (kind "api").

The browser or the client holds an opaque random value (secrets.token_urlsafe, 256 bits); the
database keeps only its SHA-256 (persistence.tables.SignInSession), so a copy of the table opens
nothing. Every request looks the value up: one query by the unique token_hash index that also
returns the account, its school and, for staff, the staff row and roles, so a unit of work of the
account's school opened on the same session (web.context.school_uow) finds the school and the
actor without another query. Ending a session deletes its row,
so it ends at once: sign-out, `DELETE /api/v1/auth/token`, and every password change, reset or
account 停用, which end all of the account's sessions (`end_all`, called by those workflows in
their own transaction).

Two lifetimes: the absolute one (`expires_at`, fixed at the start) and the idle one, counted from
`last_seen_at`. `last_seen_at` is written only when it is more than TOUCH_EVERY old, so most
requests write nothing; the idle lifetime is therefore kept to within TOUCH_EVERY.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from persistence.db import Database
from persistence.tables import Account, School, SignInSession, Staff, StaffRole
from persistence.vocabulary import SignInKind
from workflows.core.roles import Role
from workflows.core.unit_of_work import prepare
from workflows.people.actors import remember_staff_roles

WEB, API = SignInKind.WEB.value, SignInKind.API.value
KINDS = SignInKind.codes()
TOUCH_EVERY = timedelta(minutes=1)
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours and is not hashed.
_VALUE_MAX = 100


@dataclass(frozen=True)
class Lifetimes:
    """`absolute`: from the start, whatever happens; `idle`: since the last request (None: none)."""

    absolute: timedelta
    idle: timedelta | None = None

    def __post_init__(self):
        if self.absolute <= timedelta(0):
            raise ValueError("a session's absolute lifetime must be positive")
        if self.idle is not None and self.idle <= 2 * TOUCH_EVERY:
            # last_seen_at is written at most once a TOUCH_EVERY: a shorter idle limit would end
            # sessions that are in use.
            raise ValueError(f"a session's idle lifetime must be over {2 * TOUCH_EVERY} (or none)")


@dataclass(frozen=True)
class Signed:
    """A presented value that opened a session: its row id, the account (detached) and the rows read
    with it (`held`: the school and the staff row; the session's identity map is weak, so whoever
    goes on in that session keeps them referenced to find them there). The staff member's roles are
    left for the session's first `actors.staff_actor` (remember_staff_roles)."""

    session_id: int
    account: Account
    held: tuple


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start(session: Session, account: Account, kind: str, lifetimes: Lifetimes, now: datetime) -> str:
    """A new session of `account` in the caller's transaction; the opaque value to hand out (shown
    once, never stored). The account's own expired sessions are removed on the way (by the account
    index: cheap); others go with `purge_expired`."""
    if kind not in KINDS:
        raise ValueError(f"unknown session kind {kind!r}")
    value = secrets.token_urlsafe(32)
    session.execute(delete(SignInSession).where(SignInSession.account_id == account.id,
                                                SignInSession.expires_at <= now),
                    execution_options={"synchronize_session": False})
    session.add(SignInSession(token_hash=digest(value), account_id=account.id, school_id=account.school_id,
                              kind=kind, created_at=now, last_seen_at=now, expires_at=now + lifetimes.absolute))
    session.flush()
    return value


def start_session(db: Database, account: Account, kind: str, lifetimes: Lifetimes, now: datetime) -> str:
    """`start` in a transaction of its own (sign-in, a new API token)."""
    with prepare(db).session() as session:
        value = start(session, account, kind, lifetimes, now)
        session.commit()
    return value


@cache
def _lookup():
    """The one query of every request, built once: building the statement (its joins and
    conditions) cost as much Python as hashing, fetching and checking together."""
    return (select(SignInSession.id, SignInSession.last_seen_at, SignInSession.expires_at,
                   Account, School, Staff, StaffRole.role)
            .join(Account, (Account.id == SignInSession.account_id) & (Account.school_id == SignInSession.school_id))
            .join(School, School.id == Account.school_id)
            .outerjoin(Staff, (Staff.school_id == Account.school_id) & (Staff.id == Account.staff_id))
            .outerjoin(StaffRole, (StaffRole.school_id == Staff.school_id) & (StaffRole.staff_id == Staff.id))
            .where(SignInSession.token_hash == bindparam("token_hash"), SignInSession.kind == bindparam("kind")))


def resolve(session: Session, value, kind: str, lifetimes: Lifetimes, now: datetime) -> Signed | None:
    """The live session `value` opens, with its active account, or None. One query; a write only
    when last_seen_at is over TOUCH_EVERY old, or to remove the session when it has run out. Either
    write is committed here, so the caller's session starts a fresh transaction afterwards (a
    read-only request would otherwise roll it back)."""
    if not isinstance(value, str) or not value or len(value) > _VALUE_MAX:
        return None
    rows = session.execute(_lookup(), {"token_hash": digest(value), "kind": kind}).all()
    if not rows:
        return None
    session_id, last_seen_at, expires_at, account, school, staff, _role = rows[0]
    if now >= expires_at or (lifetimes.idle is not None and now - last_seen_at >= lifetimes.idle) \
            or not account.active:
        session.execute(delete(SignInSession).where(SignInSession.id == session_id),
                        execution_options={"synchronize_session": False})
        session.commit()
        return None
    if now - last_seen_at >= TOUCH_EVERY:
        session.execute(update(SignInSession).where(SignInSession.id == session_id).values(last_seen_at=now),
                        execution_options={"synchronize_session": False})
        session.commit()
    session.expunge(account)
    if staff is not None:
        remember_staff_roles(session, staff.id, frozenset(Role(role) for *_, role in rows if role is not None))
    return Signed(session_id, account, (school, staff))


def signed_in_account(db: Database, value, kind: str, lifetimes: Lifetimes, now: datetime) -> Account | None:
    """`resolve` in a short session of its own; the account (detached) or None."""
    with prepare(db).session() as session:
        found = resolve(session, value, kind, lifetimes, now)
    return found.account if found is not None else None


def end(session: Session, *, value: str | None = None, session_id: int | None = None) -> None:
    """End one session (by the value presented, or by its row id) in the caller's transaction."""
    if session_id is None:
        if not isinstance(value, str) or not value or len(value) > _VALUE_MAX:
            return
        condition = SignInSession.token_hash == digest(value)
    else:
        condition = SignInSession.id == session_id
    session.execute(delete(SignInSession).where(condition), execution_options={"synchronize_session": False})


def end_session(db: Database, *, value: str | None = None, session_id: int | None = None) -> None:
    """`end` in a transaction of its own (sign-out)."""
    with prepare(db).session() as session:
        end(session, value=value, session_id=session_id)
        session.commit()


def end_all(session: Session, account_id: int) -> int:
    """End every session and API token of the account, in the caller's transaction (the password
    change, reset or 停用 that calls it is what the audit records). How many ended."""
    return session.execute(delete(SignInSession).where(SignInSession.account_id == account_id),
                           execution_options={"synchronize_session": False}).rowcount


def purge_expired(db: Database, now: datetime) -> int:
    """Remove every session past its absolute lifetime (the periodic sweep). Sessions past their
    idle lifetime are refused already, and go when their absolute lifetime ends."""
    with prepare(db).session() as session:
        removed = session.execute(delete(SignInSession).where(SignInSession.expires_at <= now),
                                  execution_options={"synchronize_session": False}).rowcount
        session.commit()
    return removed
