"""Multi-school isolation at the session level.

A session bound to a school (session.info["school_id"]) gets every ORM SELECT, UPDATE and DELETE
filtered to that school, and refuses to flush a row of another school. Repositories filter
too; this is the net under them, so a forgotten WHERE cannot leak another school's data.
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from persistence.tables import SchoolScoped


class CrossSchoolWrite(RuntimeError):
    pass


def install(sessions) -> None:
    event.listen(sessions, "do_orm_execute", _filter_by_school)
    event.listen(sessions, "before_flush", _refuse_foreign_rows)


def _filter_by_school(state: ORMExecuteState) -> None:
    school_id = state.session.info.get("school_id")
    if school_id is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(*_criteria(school_id))


def _refuse_foreign_rows(session: Session, _context, _instances) -> None:
    school_id = session.info.get("school_id")
    if school_id is None:
        return
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, SchoolScoped) and row.school_id != school_id:
            raise CrossSchoolWrite(f"{type(row).__name__} of school {row.school_id} "
                                   f"in a unit of work of school {school_id}")


@lru_cache(maxsize=4096)
def _criteria(school_id: int) -> tuple:
    """One option for every school-scoped model: the lambda is applied per mapped class and
    cached by its code, with school_id a bound parameter. (Twenty-odd options, one per model,
    made every query's cache key and compilation cost more than a quarter of a request.)"""
    return (with_loader_criteria(SchoolScoped, lambda cls: cls.school_id == school_id,
                                 include_aliases=True),)
