"""Schools on the platform. One deployment serves many schools; only the platform
administrator creates schools or changes a school's policy (補充規定)."""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from persistence.db import Database
from persistence.tables import School
from workflows.core.clock import now_or
from workflows.core.actors import Actor
from workflows.core.errors import Forbidden, InvalidInput, NotFound
from workflows.core.policy import Policy, check_policy, load_policy, policy_to_toml
from workflows.core.transitions import note

SCHOOL_CODE = re.compile(r"\d{6}")


def _platform_only(actor: Actor) -> None:
    if actor.kind != "platform":
        raise Forbidden("只有平臺管理者可以新增學校或變更學校的補充規定。")


def create_school(db: Database, actor: Actor, *, code: str, name: str, policy: str | Policy,
                  now: datetime | None = None) -> int:
    """Create a school with a validated policy; running it again for the same code changes nothing."""
    _platform_only(actor)
    now = now_or(now)
    code = code.strip()
    if not SCHOOL_CODE.fullmatch(code):
        raise InvalidInput(f"學校代碼應為 6 位數字，收到「{code}」。", field="code")
    if not name.strip():
        raise InvalidInput("請填寫學校名稱。", field="name")
    loaded = check_policy(policy) if isinstance(policy, Policy) else load_policy(policy)
    with db.session() as session, session.begin():
        existing = session.scalars(select(School).where(School.code == code)).one_or_none()
        if existing is not None:
            return existing.id
        school = School(code=code, name=name.strip(), policy_name=loaded.name,
                        policy_toml=policy_to_toml(loaded), created_at=now)
        session.add(school)
        session.flush()
        note(session, school_id=school.id, subject_kind="school", subject_id=school.id,
             event="create_school", to_state=loaded.name, actor=actor, at=now)
        return school.id


def set_policy(db: Database, actor: Actor, school_id: int, policy: str | Policy, *,
               now: datetime | None = None) -> None:
    _platform_only(actor)
    now = now_or(now)
    loaded = check_policy(policy) if isinstance(policy, Policy) else load_policy(policy)
    with db.session() as session, session.begin():
        school = session.get(School, school_id)
        if school is None:
            raise NotFound(f"找不到學校（編號 {school_id}）")
        before = school.policy_name
        school.policy_name, school.policy_toml = loaded.name, policy_to_toml(loaded)
        note(session, school_id=school.id, subject_kind="school", subject_id=school.id,
             event="set_policy", from_state=before, to_state=loaded.name, actor=actor, at=now)


def school_by_code(db: Database, code: str) -> School:
    with db.session() as session:
        school = session.scalars(select(School).where(School.code == code.strip())).one_or_none()
    if school is None:
        raise NotFound(f"找不到學校代碼「{code}」。")
    return school


def all_schools(db: Database) -> list[School]:
    with db.session() as session:
        return list(session.scalars(select(School).order_by(School.code)))
