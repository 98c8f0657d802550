"""The learning-portfolio working group 學習歷程工作小組 (seed 002): its executive secretary
執行秘書 (教務主任) and the school's platform administrator edit the group's lists and forms (proxy
lists, the self-check form, training records); the offices that see the whole school read them."""
from __future__ import annotations

from workflows.core.actors import Actor
from workflows.core.errors import Forbidden, InvalidInput
from workflows.core.roles import Role
from workflows.core.unit_of_work import UnitOfWork

EDITOR_ROLES = (Role.EXECUTIVE_SECRETARY, Role.ADMIN)
# Offices of the working group (工作小組) that see every student of their school.
WHOLE_SCHOOL_ROLES = frozenset({Role.REGISTRY, Role.EQUIPMENT_SECTION, Role.STUDENT_ACTIVITIES,
                                Role.TEACHING_SECTION, Role.EXECUTIVE_SECRETARY, Role.PRINCIPAL,
                                Role.ADMIN, Role.COUNSELLING})


def sees_whole_school(actor: Actor) -> bool:
    return actor.is_staff and actor.has(*WHOLE_SCHOOL_ROLES)


def can_edit(actor: Actor) -> bool:
    return actor.is_staff and actor.has(*EDITOR_ROLES)


def require_editor(uow: UnitOfWork, actor: Actor, doing: str) -> None:
    """Forbidden unless an editor: 「只有執行秘書（教務主任）或學校平臺管理者可以{doing}。」"""
    uow.require_member(actor)
    if not can_edit(actor):
        raise Forbidden(f"只有執行秘書（教務主任）或學校平臺管理者可以{doing}。")


def require_reader(uow: UnitOfWork, actor: Actor, what: str) -> None:
    """Forbidden unless an editor or an office that sees the whole school."""
    uow.require_member(actor)
    if not (can_edit(actor) or sees_whole_school(actor)):
        raise Forbidden(f"只有工作小組的處室可以查看{what}。")


def form_text(value, *, field: str, label: str, limit: int) -> str:
    """Text on the group's forms (the self-check form, training records): required, at most
    `limit` characters, refused as input (400) naming the field."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"請填寫{label}。", field=field)
    if len(text) > limit:
        raise InvalidInput(f"{label}最多 {limit} 字，目前 {len(text)} 字。", field=field, limit=limit)
    return text
