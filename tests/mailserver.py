"""A real SMTP server for tests (aiosmtpd on 127.0.0.1): what the outbox delivers arrives here."""
from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from persistence.mail import SmtpMailer, SmtpSettings

SENDER = "portfolio@school.example.edu.tw"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)


class Recorder:
    """aiosmtpd handler: keeps every accepted envelope; refuses the addresses in `refuse`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MailServer(Recorder):
    """An SMTP server on a port of its own that a test can start (again) and stop."""

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> MailServer:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def mailer(self) -> SmtpMailer:
        return SmtpMailer(SmtpSettings(host="127.0.0.1", port=self.port, sender=SENDER, timeout=5))

    @property
    def recipients(self) -> list[str]:
        return [address for envelope in self.received for address in envelope.rcpt_tos]
