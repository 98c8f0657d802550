"""What every `portfolio` command shares: the global options' `Context`, the operator acting from
the command line, and `run`, which turns a domain error into a message and exit code 1."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from persistence.db import Database, default_url
from persistence.files import LocalFileStore
from persistence.mail import SmtpMailer, SmtpSettings
from workflows.core.actors import Actor
from workflows.core.errors import DomainError
from workflows.core.unit_of_work import UnitOfWork
from workflows.school.schools import school_by_code

OPERATOR = Actor("platform", None, "命令列管理者")


class Context:
    def __init__(self, db_url: str | None, data_dir: str | None, smtp: SmtpSettings | None = None):
        self.db_url = db_url or default_url()
        self.data_dir = Path(data_dir or "instance/files")
        self.smtp = smtp
        self._db: Database | None = None

    @property
    def mailer(self) -> SmtpMailer | None:
        return SmtpMailer(self.smtp) if self.smtp else None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database.from_url(self.db_url)
        return self._db

    def use_database(self, db_url: str) -> None:
        """Another database than the global --db (`serve --db`), opened when first used."""
        self.db_url, self._db = db_url, None

    @property
    def files(self) -> LocalFileStore:
        return LocalFileStore(self.data_dir)

    def school_uow(self, code: str) -> UnitOfWork:
        return UnitOfWork(self.db, school_by_code(self.db, code).id, self.files)


pass_context = click.make_pass_decorator(Context)


def run(action):
    """Domain errors become a clear message and exit code 1, never a traceback."""
    try:
        return action()
    except DomainError as error:
        click.echo(f"錯誤：{error.message}", err=True)
        for line in error.details.get("errors", []):
            click.echo(f"  {line}", err=True)
        sys.exit(1)
