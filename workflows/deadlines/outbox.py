"""The outbox: messages to people (reminders, reports, notices).

A sweep queues messages in its own transaction (`queue`), so a message exists exactly when the
sweep's effect does. Delivery (`deliver`) is separate and later: it claims due messages, sends
each through a `Mailer`, and records the outcome; a failed attempt is retried with a growing
delay and never blocks or undoes a sweep. Delivery is at-least-once: a crash between the SMTP
server's acceptance and the database update sends that one message again after `STALE_CLAIM`.
"""
from __future__ import annotations

import logging
import smtplib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Protocol

from sqlalchemy import and_, or_, select, update

from persistence.db import Database
from persistence.tables import OutboxMessage, School
from persistence.upsert import insert_ignoring_duplicates

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=2)
STALE_CLAIM = timedelta(minutes=10)  # a claim older than this was lost with its process
BATCH = 200
FOOTER = "\n\n（本信由學生學習歷程檔案系統自動寄出，請勿直接回覆。）"


@dataclass(frozen=True)
class Message:
    """One message to one person about one window boundary (`due_at`)."""

    kind: str
    recipient_kind: str  # "student" | "staff"
    recipient_id: int
    recipient_name: str
    email: str | None
    window_id: int
    due_at: datetime
    subject: str
    body: str

    @property
    def key(self) -> tuple:
        return (self.kind, self.recipient_kind, self.recipient_id, self.window_id, self.due_at)


def queue(uow, messages: list[Message], now: datetime) -> int:
    """Add the messages not queued before (same kind, person, window and deadline); returns how
    many are new. Runs inside the caller's transaction."""
    if not messages:
        return 0
    windows = {m.window_id for m in messages}
    existing = set(map(tuple, uow.session.execute(select(
        OutboxMessage.kind, OutboxMessage.recipient_kind, OutboxMessage.recipient_id,
        OutboxMessage.window_id, OutboxMessage.due_at).where(
        OutboxMessage.school_id == uow.school_id, OutboxMessage.window_id.in_(windows),
        OutboxMessage.kind.in_({m.kind for m in messages})))))
    fresh = {m.key: m for m in messages if m.key not in existing}
    rows = [dict(school_id=uow.school_id, kind=m.kind, recipient_kind=m.recipient_kind,
                 recipient_id=m.recipient_id, recipient_name=m.recipient_name, email=m.email,
                 window_id=m.window_id, due_at=m.due_at, subject=m.subject[:200],
                 body=m.body + FOOTER, created_at=now, attempts=0,
                 status="pending" if m.email else "no_address", next_attempt_at=now)
            for m in fresh.values()]
    # The unique key is the net under the pre-check: a concurrent sweep cannot add a duplicate.
    insert_ignoring_duplicates(uow.session, OutboxMessage, rows)
    return len(rows)


def list_messages(db: Database, *, include_sent: bool = False) -> list[OutboxMessage]:
    """Every school's messages, oldest first: those still to send or given up on (pending,
    sending, failed, no address), or all of them with `include_sent`."""
    with db.session() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if not include_sent:
            query = query.where(OutboxMessage.status != "sent")
        return list(session.scalars(query))


# -- delivery --------------------------------------------------------------------------------

class MailSession(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Mailer(Protocol):
    """Opens a session with the mail server; `send` raises on any failure."""

    sender: str

    def session(self) -> AbstractContextManager[MailSession]: ...


@dataclass
class Delivery:
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"寄出 {self.sent}、稍後重試 {self.retrying}、放棄 {self.failed}"


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, … minutes after the n-th failed attempt, at most two hours."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def deliver(db: Database, mailer: Mailer, now: datetime, *, batch: int = BATCH) -> Delivery:
    """Send every message due at `now` (all schools), batch by batch, until none is due."""
    result = Delivery()
    while True:
        claimed = _claim(db, now, batch)
        if not claimed:
            return result
        _send(db, mailer, claimed, now, result)
        if len(claimed) < batch:
            return result


def _claim(db: Database, now: datetime, batch: int) -> list[tuple[OutboxMessage, School]]:
    with db.session() as session, session.begin():
        # Claims left by a process that died mid-send go back to the queue.
        session.execute(update(OutboxMessage).where(
            OutboxMessage.status == "sending", OutboxMessage.claimed_at <= now - STALE_CLAIM)
            .values(status="pending").execution_options(synchronize_session=False))
        due = select(OutboxMessage).where(
            OutboxMessage.status == "pending",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now)
        ).order_by(OutboxMessage.id).limit(batch)
        if db.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)  # two deliverers never take the same row
        rows = list(session.scalars(due))
        for row in rows:
            row.status, row.claimed_at = "sending", now
        schools = {s.id: s for s in session.scalars(
            select(School).where(School.id.in_({r.school_id for r in rows})))}
        return [(row, schools[row.school_id]) for row in rows]


def _email(row: OutboxMessage, school: School, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((f"{school.name} 學習歷程檔案", sender))
    message["To"] = formataddr((row.recipient_name, row.email))
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<outbox-{row.id}.{school.code}@{domain}>"
    message["X-Portfolio-Outbox-Id"] = str(row.id)
    message.set_content(row.body)
    return message


def _send(db: Database, mailer: Mailer, claimed, now: datetime, result: Delivery) -> None:
    outcomes: list[tuple[int, Exception | None]] = []
    try:
        with mailer.session() as smtp:
            for row, school in claimed:
                try:
                    smtp.send(_email(row, school, mailer.sender))
                    outcomes.append((row.id, None))
                except Exception as error:  # noqa: BLE001 - recorded on the row and retried
                    outcomes.append((row.id, error))
                    if _connection_lost(error):
                        raise
    except Exception as error:  # noqa: BLE001 - cannot connect, or the connection dropped
        log.warning("outbox: mail server unavailable: %s", error)
        done = {row_id for row_id, _ in outcomes}
        outcomes += [(row.id, error) for row, _ in claimed if row.id not in done]
    attempts = {row.id: row.attempts + 1 for row, _ in claimed}
    with db.session() as session, session.begin():
        for row_id, error in outcomes:
            values: dict = {"attempts": attempts[row_id], "claimed_at": None}
            if error is None:
                values.update(status="sent", sent_at=now, last_error=None)
                result.sent += 1
            elif attempts[row_id] >= MAX_ATTEMPTS:
                values.update(status="failed", last_error=_describe(error))
                result.failed += 1
            else:
                values.update(status="pending", last_error=_describe(error),
                              next_attempt_at=now + retry_delay(attempts[row_id]))
                result.retrying += 1
            session.execute(update(OutboxMessage).where(and_(
                OutboxMessage.id == row_id, OutboxMessage.status == "sending")).values(**values)
                .execution_options(synchronize_session=False))


def _connection_lost(error: Exception) -> bool:
    return isinstance(error, (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError))


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]
