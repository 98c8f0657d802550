"""Training records 研習、宣導、訓練紀錄: the working group runs a training, a workshop and a parent
session at least once a year each (seeds 002 and 003); this is the record of what was held.

A record is kept as held (date, title, audience, attendees); a wrong one is deleted with a
reason, and the audit row keeps what it said.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from persistence.tables import TRAINING_KINDS, TrainingSession
from persistence.vocabulary import TrainingKind
from workflows.people import working_group
from workflows.core.actors import Actor
from workflows.core.clock import academic_year_of, roc_date, taipei_date
from workflows.core.fields import date_field
from workflows.core.errors import InvalidInput
from workflows.core.numbers import echoed, whole
from workflows.core.transitions import note
from workflows.core.unit_of_work import UnitOfWork

KIND_LABELS = TrainingKind.labels()
# Who records and deletes: the executive secretary (執行秘書) and the school's administrator;
# the working group's offices read.
EDITOR_ROLES = working_group.EDITOR_ROLES
TITLE_MAX = 100
AUDIENCE_MAX = 100
REASON_MAX = 200
ATTENDEES_MAX = 100_000


can_edit = working_group.can_edit


def require_editor(uow: UnitOfWork, actor: Actor) -> None:
    working_group.require_editor(uow, actor, "登錄或刪除研習、宣導紀錄")


def require_reader(uow: UnitOfWork, actor: Actor) -> None:
    working_group.require_reader(uow, actor, "研習、宣導紀錄")


def _attendees(value) -> int:
    count = whole(str(value if value is not None else ""), beyond=ATTENDEES_MAX + 1)
    if count is None:
        raise InvalidInput(f"出席人數「{value if value is not None else ''}」不是整數。", field="attendees")
    if not 0 <= count <= ATTENDEES_MAX:
        raise InvalidInput(f"出席人數須介於 0 至 {ATTENDEES_MAX} 人，收到「{echoed(value)}」。", field="attendees",
                           limit=ATTENDEES_MAX)
    return count


def record_session(uow: UnitOfWork, actor: Actor, *, kind: str, held_on, title: str, audience: str,
                   attendees, now: datetime) -> int:
    """Record a session already held; it counts for the academic year of `held_on`."""
    require_editor(uow, actor)
    if kind not in TRAINING_KINDS:
        raise InvalidInput(f"未知的場次類別「{kind}」；可用：" + "、".join(KIND_LABELS.values()), field="kind")
    day = date_field(held_on, field="held_on", label="辦理日期", required=True)
    if day > taipei_date(now):
        raise InvalidInput(f"辦理日期 {roc_date(day)} 尚未到來；請於辦理後再登錄。", field="held_on")
    title = working_group.form_text(title, field="title", label="名稱", limit=TITLE_MAX)
    audience = working_group.form_text(audience, field="audience", label="對象", limit=AUDIENCE_MAX)
    row = TrainingSession(school_id=uow.school_id, academic_year=academic_year_of(day), kind=kind,
                          held_on=day, title=title, audience=audience,
                          attendees=_attendees(attendees), created_at=now)
    uow.session.add(row)
    uow.session.flush()
    note(uow.session, school_id=uow.school_id, subject_kind="training", subject_id=row.id,
         event="record_training", to_state=_summary(row), actor=actor, at=now)
    uow.commit()
    return row.id


def delete_session(uow: UnitOfWork, actor: Actor, session_id: int, *, reason: str, now: datetime) -> None:
    """Delete a wrongly recorded session; the audit row keeps what it said and why it went."""
    require_editor(uow, actor)
    why = working_group.form_text(reason, field="reason", label="刪除原因", limit=REASON_MAX)
    row = uow.get(TrainingSession, session_id, for_update=True, what="研習、宣導紀錄")
    note(uow.session, school_id=uow.school_id, subject_kind="training", subject_id=row.id,
         event="delete_training", from_state=_summary(row), actor=actor, at=now, reason=why)
    uow.session.delete(row)
    uow.commit()


def _summary(row: TrainingSession) -> str:
    return (f"{KIND_LABELS[row.kind]}｜{row.held_on.isoformat()}｜{row.title}｜{row.audience}"
            f"｜{row.attendees} 人")[:500]


@dataclass(frozen=True)
class SessionView:
    id: int
    kind: str
    kind_label: str
    held_on: date
    title: str
    audience: str
    attendees: int


def sessions(uow: UnitOfWork, actor: Actor, academic_year: int) -> list[SessionView]:
    require_reader(uow, actor)
    rows = uow.session.scalars(uow.select(TrainingSession).where(TrainingSession.academic_year == academic_year)
                               .order_by(TrainingSession.held_on, TrainingSession.id))
    return [SessionView(r.id, r.kind, KIND_LABELS[r.kind], r.held_on, r.title, r.audience, r.attendees)
            for r in rows]


def missing_kinds(uow: UnitOfWork, academic_year: int) -> list[str]:
    """The kinds with no session recorded in the year (each is due at least once a year)."""
    held = set(uow.session.scalars(uow.select(TrainingSession.kind).where(
        TrainingSession.academic_year == academic_year).distinct()))
    return [kind for kind in TRAINING_KINDS if kind not in held]
