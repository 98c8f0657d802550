"""No code path changes a state without writing an audit row.

Workflows announce every audited change (`announce`) just before they write the audit row; at
flush time any audited row (item, receipt, batch, grade correction) whose state changed without an announcement stops the flush.
Each announcement covers one flush, so two changes need two audit rows.
"""
from __future__ import annotations

from weakref import WeakSet

from sqlalchemy import event
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.orm import Session

from persistence.tables import GradeCorrection, Item, Receipt, SubmissionBatch

AUDITED = (Item, Receipt, SubmissionBatch, GradeCorrection)


class UnauditedStateChange(RuntimeError):
    pass


def announce(session: Session, row) -> None:
    session.info.setdefault("audited", WeakSet()).add(row)


def install(sessions) -> None:
    event.listen(sessions, "before_flush", _require_audit)


def _require_audit(session: Session, _context, _instances) -> None:
    announced = session.info.setdefault("audited", WeakSet())
    for row in (*session.new, *session.dirty):
        if isinstance(row, AUDITED) and get_history(row, "state").has_changes():
            if row not in announced:
                raise UnauditedStateChange(
                    f"{type(row).__name__} {row.id} changed state without an audit row")
    # Every announcement covers this flush only, whether or not its row changed state.
    announced.clear()
