"""School policy (補充規定) as data: the one object that answers every "how many / until when".

Interface only in this commit; loading, presets and national validation follow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

MB = 1024 * 1024


@dataclass(frozen=True)
class FileRule:
    """Which file kinds one slot accepts (by content), and how large."""

    kinds: tuple[str, ...]
    max_bytes: int


@dataclass(frozen=True)
class ItemRule:
    """What one item of a kind may hold: at most one document, one media file, a short text."""

    document: FileRule | None
    media: FileRule | None
    description_max_chars: int
    external_link: bool = False


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    division: str  # "day" (日間部) or "continuing" (進修部)
    outcome_uploads_per_semester: int
    outcome_uploads_per_year: int | None  # None: only the per-semester cap applies
    outcome_selections_per_year: int
    performance_uploads_per_year: int | None  # None: the school sets no cap
    performance_selections_per_year: int
    course_outcome: ItemRule
    performance: ItemRule
    consultation_record: ItemRule
    receipt_confirmation_days: int
    retention_years: int
    certification_tail_working_days: int
    outcome_upload_close_days_after_closing: int
    guardians_may_act: bool = True
    proxy_routing: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def item_rule(self, kind: str) -> ItemRule:
        return {"course_outcome": self.course_outcome, "performance": self.performance,
                "consultation_record": self.consultation_record}[kind]

    def selection_cap(self, kind: str) -> int:
        return {"course_outcome": self.outcome_selections_per_year,
                "performance": self.performance_selections_per_year}[kind]
