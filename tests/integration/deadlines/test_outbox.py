"""The outbox against a real SMTP server (aiosmtpd on 127.0.0.1), on SQLite and PostgreSQL.

Messages are queued the way the application queues them (a deadline sweep, or `outbox.queue`
inside a unit of work) and delivered with the real `SmtpMailer`. Each test checks what a person
would notice: which e-mails arrived, to whom, with what text, and what the outbox rows say
afterwards. Time never passes for real: every step gets an explicit `now`.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from persistence.tables import Item, OutboxMessage, Student
from scheduler.service import Service
from tests.mailserver import SENDER
from tests.world import AFTER_CERTIFICATION, IN_UPLOAD, World
from workflows.items import certification
from workflows.deadlines import outbox
from workflows.deadlines.run import run_due
from workflows.deadlines.outbox import MAX_ATTEMPTS, STALE_CLAIM, Delivery, Message, deliver


# The upload window's reminder moment: students with drafts get a "remind_drafts" message.
REMINDER_TIME = datetime(2026, 1, 29, 1, 0, tzinfo=timezone.utc)


# -- helpers ---------------------------------------------------------------------------------

def rows(db) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def row_for(db, email_address: str | None) -> OutboxMessage:
    (row,) = [r for r in rows(db) if r.email == email_address]
    return row


def emails(world) -> list[str]:
    with world.uow() as uow:
        return [uow.get(Student, sid).email for sid in world.student_ids]


def with_drafts(db, files, students=(0, 1)) -> World:
    """A school where `students` have drafts and the upload reminder has been swept."""
    world = World(db, files)
    for n in students:
        world.upload(n)
    run_due(db, files, REMINDER_TIME)
    return world


def receipt_reminder(world, n: int = 0) -> Message:
    """The message the receipt-confirmation reminder would queue for student `n`."""
    return Message("remind_receipt", "student", world.student_ids[n], f"學生{n}", emails(world)[n],
                   world.receipt_window_id, datetime(2026, 10, 18, 16, 0, tzinfo=timezone.utc),
                   "【學習歷程】收訖明細請確認", f"學生{n} 同學您好：\n\n請確認課程學習成果收訖明細。")


def queue(world, messages: list[Message], now: datetime = REMINDER_TIME) -> int:
    with world.uow() as uow:
        added = outbox.queue(uow, messages, now)
        uow.commit()
    return added


# -- tests -----------------------------------------------------------------------------------

def test_swept_reminders_arrive_intact_once_each(db, files, smtp):
    world = with_drafts(db, files)
    addresses = emails(world)[:2]
    assert sorted(r.email for r in rows(db)) == sorted(addresses)
    assert {(r.kind, r.status) for r in rows(db)} == {("remind_drafts", "pending")}

    now = REMINDER_TIME + timedelta(minutes=1)
    assert deliver(db, smtp.mailer, now) == Delivery(sent=2)

    assert sorted(smtp.recipients) == sorted(addresses)
    for n, address in enumerate(addresses):
        (envelope,) = [e for e in smtp.received if e.rcpt_tos == [address]]
        assert envelope.mail_from == SENDER
        mail = envelope.message
        assert mail["To"].addresses[0].addr_spec == address
        assert mail["To"].addresses[0].display_name == f"學生{n}"
        assert "測試高中013301" in mail["From"].addresses[0].display_name
        assert mail["From"].addresses[0].addr_spec == SENDER
        assert "課程學習成果上傳" in mail["Subject"] and "截止" in mail["Subject"]
        message_id = mail["Message-ID"]
        assert message_id.startswith("<outbox-") and message_id.endswith("@school.example.edu.tw>")
        body = mail.get_body(("plain",))
        assert body.get_content_charset() == "utf-8"
        text = body.get_content()
        assert text.startswith(f"學生{n} 同學您好：")
        assert "課程學習成果" in text and "作品" in text and "請勿直接回覆" in text
    assert all((r.status, r.sent_at, r.attempts, r.last_error) == ("sent", now, 1, None) for r in rows(db))

    assert deliver(db, smtp.mailer, now + timedelta(hours=1)) == Delivery()
    assert len(smtp.received) == 2


def test_server_down_retries_later_and_then_delivers(db, files, server):
    world = with_drafts(db, files, students=(0,))
    now = REMINDER_TIME

    assert deliver(db, server.mailer, now) == Delivery(retrying=1)
    (row,) = rows(db)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, now + timedelta(minutes=1))
    assert row.last_error and "refused" in row.last_error.lower()

    server.start()
    assert deliver(db, server.mailer, now + timedelta(seconds=59)) == Delivery()
    assert server.received == []

    later = now + timedelta(minutes=1)
    assert deliver(db, server.mailer, later) == Delivery(sent=1)
    assert server.recipients == emails(world)[:1]
    (row,) = rows(db)
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("sent", 2, later, None)


def test_after_the_last_attempt_a_message_is_failed_for_good(db, files, server):
    with_drafts(db, files, students=(0,))
    now = REMINDER_TIME
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = deliver(db, server.mailer, now)
        (row,) = rows(db)
        assert row.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert result == Delivery(retrying=1) and row.status == "pending"
            assert row.next_attempt_at > now
            now = row.next_attempt_at
    assert result == Delivery(failed=1)
    assert row.status == "failed" and row.last_error and row.sent_at is None

    server.start()
    assert deliver(db, server.mailer, now + timedelta(days=30)) == Delivery()
    assert server.received == [] and rows(db)[0].status == "failed"


def test_a_refused_recipient_is_retried_and_the_others_are_sent(db, files, smtp):
    world = with_drafts(db, files, students=(0, 1, 2))
    refused = emails(world)[1]
    smtp.refuse.add(refused)
    now = REMINDER_TIME

    assert deliver(db, smtp.mailer, now) == Delivery(sent=2, retrying=1)
    assert sorted(smtp.recipients) == sorted(set(emails(world)) - {refused})
    row = row_for(db, refused)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, now + timedelta(minutes=1))
    assert "550" in row.last_error and "mailbox unavailable" in row.last_error
    assert [r.status for r in rows(db) if r.email != refused] == ["sent", "sent"]

    smtp.refuse.clear()
    assert deliver(db, smtp.mailer, now + timedelta(minutes=1)) == Delivery(sent=1)
    assert smtp.recipients[-1] == refused and len(smtp.received) == 3


def test_a_person_without_email_is_recorded_and_never_sent(db, files, smtp):
    world = World(db, files)
    with world.uow() as uow:
        uow.get(Student, world.student_ids[1]).email = None
        uow.commit()
    world.upload(0)
    world.upload(1)
    run_due(db, files, REMINDER_TIME)

    no_address = row_for(db, None)
    assert no_address.recipient_id == world.student_ids[1] and no_address.status == "no_address"

    assert deliver(db, smtp.mailer, REMINDER_TIME) == Delivery(sent=1)
    assert deliver(db, smtp.mailer, REMINDER_TIME + timedelta(days=7)) == Delivery()
    assert smtp.recipients == emails(world)[:1]
    no_address = row_for(db, None)
    assert (no_address.status, no_address.attempts, no_address.sent_at) == ("no_address", 0, None)


def test_a_stale_claim_is_delivered_and_a_fresh_one_is_left_alone(db, files, smtp):
    world = World(db, files)
    queue(world, [receipt_reminder(world, 0), receipt_reminder(world, 1)])
    stale_address, fresh_address = emails(world)[:2]
    now = REMINDER_TIME + timedelta(hours=1)
    # A deliverer crashed mid-send long ago; another one is sending right now.
    for address, claimed_at in ((stale_address, now - STALE_CLAIM - timedelta(seconds=1)),
                                (fresh_address, now)):
        with db.session() as session, session.begin():
            session.execute(update(OutboxMessage).where(OutboxMessage.email == address)
                            .values(status="sending", claimed_at=claimed_at))

    assert deliver(db, smtp.mailer, now) == Delivery(sent=1)
    assert smtp.recipients == [stale_address]
    assert (row_for(db, stale_address).status, row_for(db, stale_address).sent_at) == ("sent", now)
    fresh = row_for(db, fresh_address)
    assert (fresh.status, fresh.claimed_at, fresh.attempts) == ("sending", now, 0)


def test_delivery_failure_never_blocks_the_sweep(db, files, server):
    world = World(db, files)
    draft = world.upload(0)
    waiting = world.upload(1)
    world.run(certification.submit, world.student(1), waiting, now=IN_UPLOAD)
    reports: list[str] = []
    service = Service(db, files, server.mailer, clock=lambda: AFTER_CERTIFICATION, report=reports.append)

    result = service.run("test")

    assert result.ok
    with world.uow() as uow:
        assert uow.get(Item, draft).state == "locked"
        assert uow.get(Item, waiting).state == "not_certified"
    queued = rows(db)
    assert queued and {r.kind for r in queued} == {"report_not_certified"}
    retry_at = AFTER_CERTIFICATION + timedelta(minutes=1)
    assert all((r.status, r.attempts, r.next_attempt_at) == ("pending", 1, retry_at) for r in queued)
    assert any("稍後重試" in line for line in reports)

    server.start()
    assert deliver(db, server.mailer, retry_at) == Delivery(sent=len(queued))
    assert "逾期未認證" in server.received[0].message["Subject"]


def test_the_same_message_is_queued_and_sent_once(db, files, smtp):
    world = World(db, files)
    reminder = receipt_reminder(world, 0)
    assert queue(world, [reminder]) == 1
    assert queue(world, [reminder, reminder], REMINDER_TIME + timedelta(hours=1)) == 0
    assert len(rows(db)) == 1

    world.upload(1)
    run_due(db, files, REMINDER_TIME)
    run_due(db, files, REMINDER_TIME + timedelta(hours=6))
    assert len(rows(db)) == 2

    assert deliver(db, smtp.mailer, REMINDER_TIME + timedelta(hours=6)) == Delivery(sent=2)
    # The same sweep and the same message again, after delivery: nothing new goes out.
    assert queue(world, [reminder], REMINDER_TIME + timedelta(days=1)) == 0
    run_due(db, files, REMINDER_TIME + timedelta(days=1))
    assert deliver(db, smtp.mailer, REMINDER_TIME + timedelta(days=1)) == Delivery()
    assert sorted(smtp.recipients) == sorted(emails(world)[:2])


def test_the_listing_leaves_sent_messages_out_unless_asked(db, files, smtp):
    world = with_drafts(db, files)
    queue(world, [replace(receipt_reminder(world), email=None)])
    deliver(db, smtp.mailer, REMINDER_TIME + timedelta(minutes=1))

    assert [m.status for m in outbox.list_messages(db, include_sent=True)] == ["sent", "sent", "no_address"]
    assert [m.status for m in outbox.list_messages(db)] == ["no_address"]
