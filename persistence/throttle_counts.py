"""Failed sign-in attempts counted per key in sign_in_throttle, shared by every worker and host
that uses the database. What the counts mean (locks, limits) is web/sign_in_throttle.py's.

Two kinds of key, told apart by their prefix, forget their failures differently:
- "addr:…" (an address) in fixed windows from the first failure;
- any other (a username, a username and address, a username and device) when no failure came for
  `forget_after`: a guesser who keeps going keeps his back-off.
Each call is one statement in its own short transaction: the sign-in path reads once before the
password check and writes once after it (a failure), or deletes once (a success after failures).
The periodic sweep (workflows/deadlines/run.py) removes the rows with no failure for KEPT_FOR, which
no window or forgetting time may exceed (web/sign_in_throttle.py checks the settings)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, not_, or_, select

from persistence.db import Database
from persistence.tables import SignInThrottle
from persistence.upsert import dialect_insert

ADDRESS = "addr:"
# A row with no failure for this long counts nothing under any allowed setting.
KEPT_FOR = timedelta(days=1)


@dataclass(frozen=True)
class Count:
    failures: int
    first_failure_at: datetime
    last_failure_at: datetime


def _stale(user_since: datetime, window_since: datetime):
    """Rows whose failures no longer count (see the module's docstring)."""
    is_address = SignInThrottle.key.startswith(ADDRESS, autoescape=True)
    return or_(and_(not_(is_address), SignInThrottle.last_failure_at <= user_since),
               and_(is_address, SignInThrottle.first_failure_at <= window_since))


def read(db: Database, keys: list[str]) -> dict[str, Count]:
    """The stored counts of these keys (stale ones included: the caller judges them by time)."""
    with db.session() as session:
        rows = session.execute(select(SignInThrottle.key, SignInThrottle.failures, SignInThrottle.first_failure_at,
                                      SignInThrottle.last_failure_at).where(SignInThrottle.key.in_(keys)))
        return {key: Count(failures, first, last) for key, failures, first, last in rows}


def add_failure(db: Database, keys: list[str], now: datetime, *, user_since: datetime,
                window_since: datetime) -> None:
    """One more failure for each key, atomically (INSERT … ON CONFLICT DO UPDATE on both engines):
    two workers counting the same key at once both count. A stale count starts again at 1."""
    if not keys:
        return
    with db.session() as session:
        insert = dialect_insert(session)
        # Sorted: every transaction locks the rows in one order, so two never wait for each other.
        statement = insert(SignInThrottle).values(
            [dict(key=key, failures=1, first_failure_at=now, last_failure_at=now) for key in sorted(set(keys))])
        stale = _stale(user_since, window_since)
        session.execute(statement.on_conflict_do_update(index_elements=[SignInThrottle.key], set_={
            SignInThrottle.failures: case((stale, 1), else_=SignInThrottle.failures + 1),
            SignInThrottle.first_failure_at: case((stale, statement.excluded.first_failure_at),
                                                  else_=SignInThrottle.first_failure_at),
            SignInThrottle.last_failure_at: statement.excluded.last_failure_at,
        }))
        session.commit()


def forget(db: Database, keys: list[str]) -> None:
    with db.session() as session:
        session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_(keys)))
        session.commit()


def purge(db: Database, *, user_since: datetime, window_since: datetime) -> int:
    """Remove the rows that no longer count; how many."""
    with db.session() as session:
        removed = session.execute(delete(SignInThrottle).where(_stale(user_since, window_since)),
                                  execution_options={"synchronize_session": False}).rowcount
        session.commit()
    return removed


def purge_stale(db: Database, now: datetime) -> int:
    """The sweep's purge: the rows with no failure for KEPT_FOR (a row's first failure is never
    after its last, so both kinds of key are past any window by then)."""
    return purge(db, user_since=now - KEPT_FOR, window_since=now - KEPT_FOR)
