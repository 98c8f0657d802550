"""An office's work 處室業務 — data entry and correction, central submission, dispute handling —
done by the holders of its role or, while a holder is unavailable, by his proxy 代理人 (seed 000
§五(四)2: 「業務承辦人員出缺時，由代理人依代理順位辦理」).

`as_office` answers who an actor acts as: himself when he holds one of the roles; else, when he is
the first available proxy (workflows/people/proxies.ProxyBook, with its chains) of an unavailable holder,
that holder, so the audit row says "for whom"; else, when nobody holding the role can act and he
is first on the role's own list, the role's first holder. Certification routing is separate
(workflows/people/routing.py): it follows the course's route, not the office.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from persistence.tables import Item, Staff, StaffRole
from workflows.core.actors import Actor, OnBehalf
from workflows.core.clock import now_or, taipei_date
from workflows.core.errors import Forbidden
from workflows.people.proxies import ProxyBook, unavailable_ids
from workflows.core.roles import ROLE_LABELS, Role
from workflows.core.policy import DISPUTE_CATEGORIES
from workflows.core.unit_of_work import UnitOfWork


def _holders(uow: UnitOfWork, roles: tuple[Role, ...]) -> list:
    """Active holders of the roles, (id, name), in a stable order."""
    return list(uow.session.execute(
        select(Staff.id, Staff.name).join(
            StaffRole, (StaffRole.school_id == Staff.school_id) & (StaffRole.staff_id == Staff.id))
        .where(Staff.school_id == uow.school_id, Staff.active.is_(True),
               StaffRole.role.in_([r.value for r in roles]))
        .distinct().order_by(Staff.id)).all())


def as_office(uow: UnitOfWork, actor: Actor, roles: tuple[Role, ...], *,
              now: datetime | None = None, on: date | None = None) -> Actor | None:
    """The actor as he may do the work of `roles` on the Taipei day `on` (of `now`), or None.

    The system and the platform act as themselves; so does a holder of a role, unless he is
    himself marked unavailable that day (then his proxy does his work, not he)."""
    if actor.kind in ("system", "platform"):
        return actor
    if actor.kind != "staff" or actor.id is None:
        return None
    on = on or taipei_date(now_or(now))
    away = unavailable_ids(uow, on)
    if actor.has(*roles):
        return actor if actor.id not in away else None
    holders = _holders(uow, roles)
    absent = [(sid, name) for sid, name in holders if sid in away]
    if not absent and holders:
        return None
    book = ProxyBook.load(uow, on, principals=[sid for sid, _ in absent], unavailable=away)
    if not book.available(actor.id):
        return None
    for sid, name in absent:
        if book.acting_for(sid) == actor.id:
            return actor.acting_for(OnBehalf("staff", sid, name))
    if len(absent) == len(holders):  # nobody holding the role can act: the role's own list
        for role in roles:
            if book.acting_for_role(role.value) == actor.id:
                if holders:
                    return actor.acting_for(OnBehalf("staff", *holders[0]))
                return actor
    return None


def require_office(uow: UnitOfWork, actor: Actor, roles: tuple[Role, ...], doing: str, *,
                   now: datetime | None = None, extra: tuple[Role, ...] = ()) -> Actor:
    """`as_office`, or Forbidden naming the offices: 「只有{offices}（或其代理人）可以{doing}。」.
    `extra` roles may act too, as themselves only (overseers such as the platform administrator)."""
    uow.require_member(actor)
    if extra and actor.kind == "staff" and actor.has(*extra):
        return actor
    acting = as_office(uow, actor, roles, now=now)
    if acting is None:
        offices = "、".join(ROLE_LABELS[r] for r in roles)
        raise Forbidden(f"只有{offices}（或其代理人）可以{doing}。")
    return acting


# -- the offices' duties -------------------------------------------------------------------------

SUBMISSION_OFFICES = (Role.REGISTRY, Role.EQUIPMENT_SECTION, Role.STUDENT_ACTIVITIES)
SUBMISSION_ROLES = (*SUBMISSION_OFFICES, Role.ADMIN)


def require_submission_office(uow: UnitOfWork, actor: Actor, doing: str, *,
                              now: datetime | None = None) -> Actor:
    """The submission offices (or, while one of their people is unavailable, his proxy, audited as
    acting for him), the system and the platform administrator only: the one rule of the batches
    and the receipt import; `doing` completes the refusal. Returns the actor to audit with."""
    return require_office(uow, actor, SUBMISSION_OFFICES, doing, now=now, extra=(Role.ADMIN,))


# Who sees and may settle every dispute 疑義, whatever its category.
DISPUTE_OVERSEERS = (Role.EXECUTIVE_SECRETARY, Role.ADMIN)


def acting_for_dispute_offices(uow: UnitOfWork, actor: Actor, now: datetime | None) -> dict[str, Actor]:
    """{category: the actor as he handles its disputes}: overseers every category as themselves;
    an office's people, or their proxy, that office's categories."""
    if actor.kind != "staff":
        return {}
    if actor.has(*DISPUTE_OVERSEERS):
        return {category: actor for category in DISPUTE_CATEGORIES}
    by_role: dict[str, Actor | None] = {}
    out = {}
    for category, role in uow.policy.dispute_offices.items():
        if role not in by_role:
            by_role[role] = as_office(uow, actor, (Role(role),), now=now)
        if by_role[role] is not None:
            out[category] = by_role[role]
    return out


def categories_for(uow: UnitOfWork, actor: Actor, *, now: datetime | None = None) -> list[str]:
    """The categories whose disputes `actor` handles: all for the overseers, else their offices'
    (and, as a proxy, those of the office of the person he stands in for)."""
    return list(acting_for_dispute_offices(uow, actor, now))


def may_resolve(uow: UnitOfWork, actor: Actor, item: Item, *, now: datetime | None = None) -> bool:
    return item.kind in categories_for(uow, actor, now=now)
