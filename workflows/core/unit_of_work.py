"""The unit of work: one transaction, scoped to one school.

Everything a use case reads or writes goes through `uow`; its session only sees the school's
rows (persistence/scoping.py), refuses unaudited state changes (persistence/audit_guard.py),
and turns a lost optimistic-lock race into a clear Conflict.
"""
from __future__ import annotations

from functools import cached_property
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from persistence import audit_guard, locks, scoping
from persistence.db import Database
from persistence.files import FileStore
from persistence.tables import School, Student
from workflows.core.actors import Actor
from workflows.core.errors import Conflict, Forbidden, NotFound
from workflows.core.policy import Policy, school_policy

T = TypeVar("T")


def prepare(db: Database) -> Database:
    """Install the session guards on a Database's sessionmaker (idempotent)."""
    if not getattr(db.sessions, "_portfolio_guarded", False):
        scoping.install(db.sessions)
        audit_guard.install(db.sessions)
        db.sessions._portfolio_guarded = True
    return db


class UnitOfWork:
    """`with UnitOfWork(db, school_id, files) as uow: ...; uow.commit()`."""

    def __init__(self, db: Database, school_id: int, files: FileStore | None = None, *,
                 session: Session | None = None):
        """`session`: an open session of `db` to continue in (a web request reads the signed-in
        account in it first, so the request takes one pooled connection, not two). The unit of
        work owns it from then on and closes it."""
        self.db = prepare(db)
        self.school_id = school_id
        self.files = files
        self.session: Session | None = None
        self._committed = False
        self._adopted = session

    def __enter__(self) -> "UnitOfWork":
        adopted, self._adopted = self._adopted, None
        self.session = adopted if adopted is not None else self.db.session()
        self.session.info["school_id"] = self.school_id
        self._committed = False
        # The session's identity map is weak: rows read by id are kept here for the unit of work's
        # life, so reading the same course or teacher again (the access check, then the workflow,
        # then the answer) costs no query.
        self._held: dict[tuple[type, int], object] = {}
        self._locks: dict[tuple[type, int], object] = {}
        self._locks_of = None  # the transaction self._locks belong to
        school = self.session.get(School, self.school_id)
        if school is None:
            self.session.close()
            raise NotFound(f"找不到學校（編號 {self.school_id}）")
        self.__dict__["school"] = school  # the cached_property below, already read
        self.__dict__.pop("policy", None)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # close() rolls back anything uncommitted; unlike rollback() it leaves the loaded rows
        # readable (detached), so a read-only use case can return them.
        self.session.close()

    def commit(self) -> None:
        try:
            self.session.commit()
        except StaleDataError as error:
            self.session.rollback()
            raise Conflict("資料已被其他人變更，請重新載入後再試一次；您的操作沒有生效。") from error
        except OperationalError as error:
            self.session.rollback()
            if _is_serialisation_failure(error):
                raise Conflict("同時有其他操作進行中，請再試一次；您的操作沒有生效。") from error
            raise
        self._committed = True

    def serialise(self, name: str) -> None:
        """Hold this school's lock `name` until commit: two sweeps of the same part for the same
        school never interleave, so the second finds nothing left to do."""
        locks.hold(self.session, f"sweep:{self.school_id}:{name}")

    def hold_file_store(self) -> None:
        """Before storing a file: it cannot be removed as unreferenced before this commits."""
        locks.hold(self.session, locks.FILE_STORE, shared=True)

    def flush(self) -> None:
        try:
            self.session.flush()
        except StaleDataError as error:
            raise Conflict("資料已被其他人變更，請重新載入後再試一次；您的操作沒有生效。") from error

    # -- reading, always within the school ----------------------------------------------------

    def select(self, what) -> Select:
        """SELECT a model (or one of its columns) of this school only."""
        model = getattr(what, "class_", what)
        return select(what).where(model.school_id == self.school_id)

    def get(self, model: type[T], row_id: int, *, for_update: bool = False, what: str = "資料") -> T:
        """One row of this school by id, or NotFound. `for_update` locks it until commit and
        reads it afresh from the database; locking a row this transaction already holds
        locked costs no query (nobody else can have changed it)."""
        if for_update:
            row = self._locked(model, row_id)
            if row is None:
                row = self.session.scalars(self.select(model).where(model.id == row_id).with_for_update()
                                           .execution_options(populate_existing=True)).one_or_none()
                if row is not None:
                    self._remember_lock(model, row_id, row)
        else:  # the identity map first: a row read earlier in this unit of work costs no query
            row = self.session.get(model, row_id)
            if row is not None and row.school_id != self.school_id:
                row = None
        if row is None:
            raise NotFound(f"找不到{what}（編號 {row_id}）")
        self._held[(model, row_id)] = row
        return row

    def loaded(self, model: type[T], row_id: int) -> T | None:
        """The row if this unit of work already holds it, without a query; else None."""
        row = self._held.get((model, row_id))
        if row is None or row not in self.session or row.school_id != self.school_id:
            return None
        return row

    def hold(self, row) -> None:
        """Keep a row read by a query for the unit of work's life (see `get`)."""
        self._held[(type(row), row.id)] = row

    def _transaction(self):
        # The innermost one: a savepoint rolled back releases the locks taken inside it.
        return self.session.get_nested_transaction() or self.session.get_transaction()

    def _locked(self, model: type, row_id: int):
        if self._locks_of is None or self._locks_of is not self._transaction():
            return None  # committed or rolled back since: the locks are gone
        return self._locks.get((model, row_id))

    def _remember_lock(self, model: type, row_id: int, row) -> None:
        transaction = self._transaction()
        if transaction is not self._locks_of:
            self._locks, self._locks_of = {}, transaction
        self._locks[(model, row_id)] = row

    def lock_student(self, student_id: int) -> Student:
        """Serialise everything one student does that counts against a cap."""
        return self.get(Student, student_id, for_update=True, what="學生")

    @cached_property
    def school(self) -> School:
        return self.session.get(School, self.school_id)

    @cached_property
    def policy(self) -> Policy:
        return school_policy(self.school)

    # -- who may act in it -------------------------------------------------------------------

    def require_member(self, actor: Actor) -> Actor:
        """A school-bound actor acts only in its own school; the platform and the scheduler have
        no school. Answers NotFound, as for any other school's data."""
        if actor.school_id is not None and actor.school_id != self.school_id:
            raise NotFound("找不到資料：只能處理自己學校的資料。")
        if actor.school_id is None and actor.kind not in ("platform", "system"):
            raise Forbidden("無法確認操作者所屬的學校。")
        return actor


def _is_serialisation_failure(error: OperationalError) -> bool:
    return "database is locked" in str(error.orig) or getattr(error.orig, "sqlstate", None) == "40001"
