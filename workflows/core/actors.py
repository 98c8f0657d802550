"""Who acts: a student, a guardian for a student, a staff member (maybe as someone's proxy),
the scheduler, or the platform administrator."""
from __future__ import annotations

from dataclasses import dataclass, field

from workflows.core.roles import Role


@dataclass(frozen=True)
class OnBehalf:
    kind: str  # "student" | "staff"
    id: int
    name: str


@dataclass(frozen=True)
class Actor:
    kind: str  # "student" | "guardian" | "staff" | "system" | "platform"
    id: int | None
    name: str
    school_id: int | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    student_ids: frozenset[int] = field(default_factory=frozenset)  # a guardian's students
    on_behalf: OnBehalf | None = None

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def acting_for(self, on_behalf: OnBehalf) -> "Actor":
        return Actor(self.kind, self.id, self.name, self.school_id, self.roles, self.student_ids, on_behalf)

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"


def system(name: str = "排程器") -> Actor:
    return Actor("system", None, name)


def platform_admin(name: str = "平臺管理者") -> Actor:
    return Actor("platform", None, name)
