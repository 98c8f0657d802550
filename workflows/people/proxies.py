"""Proxies 代理人機制 (seed 000 §五(四)2, seed 002 代理人名單): for every role and every named
person the working group (工作小組) keeps a proxy list in order of precedence (代理順位); a
person can be marked unavailable for a period (leave, departed, incident); a departed teacher may
keep a certify-only account until a date the school sets (減緩原帳號消滅時間).

Who acts for an unavailable person (`acting_for`): the first available proxy on his own list; if
every one of them is unavailable, their own lists are followed in the same order (a chain); then
the lists of the roles he holds. Cycles are cut: nobody is considered twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, or_, select

from persistence.tables import (UNAVAILABILITY_REASONS, AuditEntry, ProxyAssignment, Staff, StaffRole,
                                Unavailability)
from persistence.vocabulary import UnavailabilityReason
from workflows.people import working_group
from workflows.core.actors import Actor
from workflows.core.clock import now_or, taipei_date
from workflows.core.fields import date_field
from workflows.core.errors import InvalidInput
from workflows.core.roles import ROLE_LABELS, Role
from workflows.core.transitions import note
from workflows.core.unit_of_work import UnitOfWork

# Who edits the lists: the working group's executive secretary and the platform administrator.
EDITOR_ROLES = working_group.EDITOR_ROLES
REASON_LABELS = UnavailabilityReason.labels()
NOTE_MAX = 200
LIST_MAX = 10
AUDIT_KINDS = ("proxy_list", "unavailability", "certify_only")


can_edit = working_group.can_edit


def require_editor(uow: UnitOfWork, actor: Actor) -> None:
    working_group.require_editor(uow, actor, "修改代理人名單與請假紀錄")


def require_viewer(uow: UnitOfWork, actor: Actor) -> None:
    working_group.require_reader(uow, actor, "代理人名單")


def covering(on: date):
    """An unavailability covers the Taipei day `on`: inclusive dates, no end = until further
    notice. The SQL form; `covers` is the same rule for periods already read."""
    return (Unavailability.starts_on <= on) & (
        Unavailability.ends_on.is_(None) | (Unavailability.ends_on >= on))


def covers(starts_on: date, ends_on: date | None, on: date) -> bool:
    return starts_on <= on and (ends_on is None or ends_on >= on)


def unavailable_ids(uow, on: date) -> frozenset[int]:
    """Staff of the school with an unavailability covering `on` (Taipei): one query, few rows."""
    return frozenset(uow.session.scalars(uow.select(Unavailability.staff_id).where(covering(on))))


# -- the proxy book: every list of the school, read once ------------------------------------------

@dataclass
class ProxyBook:
    """The school's proxy lists and who can act on one day, read in a few queries whatever the
    number of people asked about."""

    on: date
    unavailable: frozenset[int]
    by_person: dict[int, list[int]] = field(default_factory=dict)
    by_role: dict[str, list[int]] = field(default_factory=dict)
    active: dict[int, bool] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    roles_of: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, uow, on: date, *, principals=(), unavailable: frozenset[int] | None = None) -> "ProxyBook":
        book = cls(on, unavailable if unavailable is not None else unavailable_ids(uow, on))
        rows = uow.session.execute(uow.select(ProxyAssignment).order_by(ProxyAssignment.precedence,
                                                                         ProxyAssignment.id)).scalars()
        for row in rows:
            if row.principal_staff_id is not None:
                book.by_person.setdefault(row.principal_staff_id, []).append(row.proxy_staff_id)
            else:
                book.by_role.setdefault(row.principal_role, []).append(row.proxy_staff_id)
        people = {p for ps in (*book.by_person.values(), *book.by_role.values()) for p in ps}
        people |= set(book.by_person) | set(principals)
        if people:
            for sid, name, active in uow.session.execute(
                    uow.select(Staff.id).add_columns(Staff.name, Staff.active).where(Staff.id.in_(sorted(people)))):
                book.active[sid], book.names[sid] = active, name
            for sid, role in uow.session.execute(select(StaffRole.staff_id, StaffRole.role).where(
                    StaffRole.school_id == uow.school_id, StaffRole.staff_id.in_(sorted(people)))):
                book.roles_of.setdefault(sid, []).append(role)
        order = {r.value: n for n, r in enumerate(Role)}
        for roles in book.roles_of.values():
            roles.sort(key=lambda r: order.get(r, len(order)))
        return book

    def available(self, staff_id: int) -> bool:
        return self.active.get(staff_id, False) and staff_id not in self.unavailable

    def acting_for(self, staff_id: int) -> int | None:
        """The first available proxy of this person on the book's day, or None."""
        seen = {staff_id}
        found = self._through(self.by_person.get(staff_id, []), seen)
        if found is None:
            for role in self.roles_of.get(staff_id, []):
                found = self._through(self.by_role.get(role, []), seen)
                if found is not None:
                    break
        return found

    def acting_for_role(self, role: str) -> int | None:
        """The first available proxy on a role's list (when none of its holders can act)."""
        return self._through(self.by_role.get(role, []), set())

    def _through(self, proxies: list[int], seen: set[int]) -> int | None:
        # The list itself first (代理順位), then the chains of those on it who are absent too.
        absent = []
        for proxy in proxies:
            if proxy in seen:
                continue
            seen.add(proxy)
            if self.available(proxy):
                return proxy
            absent.append(proxy)
        for proxy in absent:
            found = self._through(self.by_person.get(proxy, []), seen)
            if found is not None:
                return found
        return None


def acting_for(uow, staff_id: int, on: date) -> Staff | None:
    """Who acts for `staff_id` on `on` (Taipei day): see the module docstring. None if nobody."""
    found = ProxyBook.load(uow, on, principals=[staff_id]).acting_for(staff_id)
    return uow.get(Staff, found, what="教職員") if found is not None else None


# -- changes by the working group ---------------------------------------------------------------

_PERIODS = "portfolio.unavailability_periods"


def known_periods(uow) -> dict[int, list[tuple[date, date | None]]]:
    # Each teacher's unavailability periods, read once per unit of work (its session): the access
    # check, the certification and the answer after commit ask again without a query.
    return uow.session.info.setdefault(_PERIODS, {})


def forget_periods(uow) -> None:
    """After an unavailability changes within this unit of work."""
    uow.session.info.pop(_PERIODS, None)


def _principal(uow, staff_id: int | None, role: str | None) -> tuple[str, int]:
    """(label, audit subject id) of a list's principal: a named person or a role."""
    if (staff_id is None) == (role is None):
        raise InvalidInput("請選擇一位教職員或一個職務（只能擇一）。", field="principal")
    if staff_id is not None:
        staff = uow.get(Staff, staff_id, what="教職員")
        return staff.name, staff.id
    try:
        code = Role(role)
    except ValueError:
        raise InvalidInput(f"職務「{role}」不明。", field="principal_role") from None
    return ROLE_LABELS[code], 0


def set_proxy_list(uow: UnitOfWork, actor: Actor, *, principal_staff_id: int | None = None,
                   principal_role: str | None = None, proxy_staff_ids: list[int],
                   now: datetime | None = None) -> list[ProxyAssignment]:
    """Replace the proxy list of a person or a role by `proxy_staff_ids` in order of precedence
    (1, 2, …). An empty list clears it. Audited (subject proxy_list)."""
    now = now_or(now)
    require_editor(uow, actor)
    label, subject_id = _principal(uow, principal_staff_id, principal_role)
    ids = [int(i) for i in proxy_staff_ids]
    if len(set(ids)) != len(ids):
        raise InvalidInput("代理人名單中有重複的人員。", field="proxies")
    if principal_staff_id is not None and principal_staff_id in ids:
        raise InvalidInput("不能指定本人為自己的代理人。", field="proxies")
    if len(ids) > LIST_MAX:
        raise InvalidInput(f"代理人最多 {LIST_MAX} 位。", field="proxies", limit=LIST_MAX)
    found = {s.id: s for s in uow.session.scalars(uow.select(Staff).where(Staff.id.in_(ids)))} if ids else {}
    names = []
    for sid in ids:
        proxy = found.get(sid) or uow.get(Staff, sid, what="教職員")  # NotFound, in its usual words
        if not proxy.active:
            raise InvalidInput(f"{proxy.name}的帳號已停用，不能擔任代理人。", field="proxies")
        names.append(proxy.name)
    condition = (ProxyAssignment.principal_staff_id == principal_staff_id if principal_staff_id is not None
                 else ProxyAssignment.principal_role == principal_role)
    uow.session.execute(delete(ProxyAssignment).where(ProxyAssignment.school_id == uow.school_id, condition))
    rows = [ProxyAssignment(school_id=uow.school_id, principal_staff_id=principal_staff_id,
                            principal_role=principal_role, proxy_staff_id=sid, precedence=n,
                            created_at=now) for n, sid in enumerate(ids, start=1)]
    uow.session.add_all(rows)
    listed = "、".join(f"{n}. {name}" for n, name in enumerate(names, start=1)) or "（清空）"
    note(uow.session, school_id=uow.school_id, subject_kind="proxy_list", subject_id=subject_id,
         event="set_proxy_list", actor=actor, at=now,
         reason=f"{label}{'' if principal_staff_id is not None else f'（{principal_role}）'}的代理人：{listed}"[:500])
    uow.commit()
    return rows


def mark_unavailable(uow: UnitOfWork, actor: Actor, staff_id: int, *, starts_on, ends_on=None,
                     reason: str, note_text: str | None = None, now: datetime | None = None) -> Unavailability:
    """A period (Taipei dates, inclusive; no end = until further notice) the person cannot act."""
    now = now_or(now)
    require_editor(uow, actor)
    staff = uow.get(Staff, staff_id, what="教職員")
    starts = date_field(starts_on, field="starts_on", label="開始日期", required=True)
    ends = date_field(ends_on, field="ends_on", label="結束日期", required=False)
    if ends is not None and ends < starts:
        raise InvalidInput("結束日期不能早於開始日期。", field="ends_on")
    if reason not in UNAVAILABILITY_REASONS:
        raise InvalidInput(f"原因「{reason}」不明：請假、離職或突發狀況。", field="reason")
    text = (note_text or "").strip() or None
    if text is not None and len(text) > NOTE_MAX:
        raise InvalidInput(f"說明最多 {NOTE_MAX} 個字。", field="note", limit=NOTE_MAX)
    row = Unavailability(school_id=uow.school_id, staff_id=staff.id, starts_on=starts, ends_on=ends,
                         reason=reason, note=text, created_at=now)
    uow.session.add(row)
    uow.session.flush()
    forget_periods(uow)
    period = f"{starts.isoformat()} 起" + (f"至 {ends.isoformat()}" if ends else "（未定結束日）")
    note(uow.session, school_id=uow.school_id, subject_kind="unavailability", subject_id=row.id,
         event="mark_unavailable", actor=actor, at=now,
         reason=f"{staff.name}{REASON_LABELS[reason]}：{period}" + (f"；{text}" if text else ""))
    uow.commit()
    return row


def end_unavailability(uow: UnitOfWork, actor: Actor, unavailability_id: int, *, ends_on,
                       now: datetime | None = None) -> Unavailability:
    """Set the last day of an unavailability (the person is back the day after)."""
    now = now_or(now)
    require_editor(uow, actor)
    row = uow.get(Unavailability, unavailability_id, for_update=True, what="無法執行職務紀錄")
    ends = date_field(ends_on, field="ends_on", label="結束日期", required=True)
    if ends < row.starts_on:
        raise InvalidInput(f"結束日期不能早於開始日期 {row.starts_on.isoformat()}。", field="ends_on")
    before = row.ends_on
    row.ends_on = ends
    forget_periods(uow)
    staff = uow.get(Staff, row.staff_id, what="教職員")
    note(uow.session, school_id=uow.school_id, subject_kind="unavailability", subject_id=row.id,
         event="end_unavailability", actor=actor, at=now,
         reason=f"{staff.name}{REASON_LABELS.get(row.reason, row.reason)}結束日："
                f"{before.isoformat() if before else '未定'} → {ends.isoformat()}")
    uow.commit()
    return row


def set_certify_only(uow: UnitOfWork, actor: Actor, staff_id: int, until, *,
                     now: datetime | None = None) -> Staff:
    """A departed teacher keeps a certify-only account through `until` (Taipei, inclusive);
    None clears it (the account can no longer sign in once he is inactive)."""
    now = now_or(now)
    require_editor(uow, actor)
    staff = uow.get(Staff, staff_id, for_update=True, what="教職員")
    day = date_field(until, field="until", label="僅認證帳號保留日期", required=False)
    before = staff.certify_only_until
    staff.certify_only_until = day
    note(uow.session, school_id=uow.school_id, subject_kind="certify_only", subject_id=staff.id,
         event="set_certify_only", actor=actor, at=now,
         reason=f"{staff.name}僅認證帳號保留至：{before.isoformat() if before else '未設定'} → "
                f"{day.isoformat() if day else '取消'}")
    uow.commit()
    return staff


# -- what the page shows ------------------------------------------------------------------------

@dataclass(frozen=True)
class ProxyEntry:
    precedence: int
    staff_id: int
    name: str
    available: bool


@dataclass(frozen=True)
class ProxyList:
    principal_staff_id: int | None
    principal_role: str | None
    label: str
    proxies: list[ProxyEntry]
    acting: str | None  # who acts now, when the principal (a person) cannot


@dataclass(frozen=True)
class AbsenceView:
    id: int
    staff_id: int
    name: str
    starts_on: date
    ends_on: date | None
    reason: str
    reason_label: str
    note: str | None
    current: bool


@dataclass(frozen=True)
class StaffOption:
    id: int
    name: str
    staff_no: str
    active: bool
    certify_only_until: date | None
    available: bool


@dataclass(frozen=True)
class Change:
    at: datetime
    actor_name: str
    what: str


@dataclass(frozen=True)
class ProxyOverview:
    on: date
    can_edit: bool
    roles: list[ProxyList]
    people: list[ProxyList]
    absences: list[AbsenceView]
    staff: list[StaffOption]
    departed: list[StaffOption]
    changes: list[Change]


def overview(uow, actor: Actor, *, now: datetime | None = None, changes: int = 30) -> ProxyOverview:
    """Every role's and named person's list, current and coming unavailability, departed staff
    with their certify-only date, and the latest changes (from the audit log)."""
    require_viewer(uow, actor)
    on = taipei_date(now_or(now))
    staff = list(uow.session.scalars(uow.select(Staff).order_by(Staff.staff_no)))
    book = ProxyBook.load(uow, on, principals=[s.id for s in staff])
    names = {s.id: s.name for s in staff}

    def entries(ids):
        return [ProxyEntry(n, sid, names.get(sid, str(sid)), book.available(sid))
                for n, sid in enumerate(ids, start=1)]

    roles = [ProxyList(None, r.value, ROLE_LABELS[r], entries(book.by_role.get(r.value, [])), None)
             for r in Role]
    people = []
    for s in staff:
        if s.id in book.by_person:
            acting = None
            if not book.available(s.id):
                found = book.acting_for(s.id)
                acting = names.get(found) if found is not None else "（無人可代理）"
            people.append(ProxyList(s.id, None, f"{s.name}（{s.staff_no}）", entries(book.by_person[s.id]), acting))
    absences = [AbsenceView(u.id, u.staff_id, names.get(u.staff_id, str(u.staff_id)), u.starts_on, u.ends_on,
                            u.reason, REASON_LABELS.get(u.reason, u.reason), u.note,
                            covers(u.starts_on, u.ends_on, on))
                for u in uow.session.scalars(uow.select(Unavailability).where(
                    or_(Unavailability.ends_on.is_(None), Unavailability.ends_on >= on))
                    .order_by(Unavailability.starts_on, Unavailability.id))]
    options = [StaffOption(s.id, s.name, s.staff_no, s.active, s.certify_only_until, book.available(s.id))
               for s in staff]
    audit = uow.session.scalars(uow.select(AuditEntry).where(AuditEntry.subject_kind.in_(AUDIT_KINDS))
                                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(changes))
    return ProxyOverview(on, can_edit(actor), roles, people, absences,
                         [o for o in options if o.active], [o for o in options if not o.active],
                         [Change(a.at, a.actor_name, a.reason or a.event) for a in audit])
