"""Sending mail over SMTP: the outbox's way out (workflows/deadlines/outbox.py). Settings come from the
command line or the environment (PORTFOLIO_SMTP_HOST, _PORT, _FROM, _USER, _PASSWORD,
_STARTTLS); with no host, nothing is sent and messages wait in the outbox."""
from __future__ import annotations

import os
import smtplib
import ssl
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Iterator


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "portfolio@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_env(cls, environ=os.environ) -> "SmtpSettings | None":
        host = environ.get("PORTFOLIO_SMTP_HOST")
        if not host:
            return None
        return cls(host=host, port=int(environ.get("PORTFOLIO_SMTP_PORT", "25")),
                   sender=environ.get("PORTFOLIO_SMTP_FROM", cls.sender),
                   username=environ.get("PORTFOLIO_SMTP_USER") or None,
                   password=environ.get("PORTFOLIO_SMTP_PASSWORD") or None,
                   starttls=environ.get("PORTFOLIO_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"))


class _Session:
    def __init__(self, smtp: smtplib.SMTP):
        self.smtp = smtp

    def send(self, message: EmailMessage) -> None:
        refused = self.smtp.send_message(message)
        if refused:  # some recipients refused: for one recipient this is a failure
            raise smtplib.SMTPRecipientsRefused(refused)


class SmtpMailer:
    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.sender = settings.sender

    @contextmanager
    def session(self) -> Iterator[_Session]:
        s = self.settings
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            yield _Session(smtp)
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
