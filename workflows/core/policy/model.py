"""The policy object: one school's 補充規定, answering every "how many / until when"."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Mapping

from workflows.core.clock import end_of_day, start_of_day, taipei_date

MB = 1024 * 1024

# What a policy that leaves out a table or key gets.
# [dispute_offices]: the office (role code) that settles a student's dispute (疑義) about each
# category of data (terms.DISPUTE_CATEGORIES), by default.
DISPUTE_OFFICE_DEFAULTS: Mapping[str, str] = MappingProxyType({
    "basic_data": "registry", "cadre": "student_activities", "courses": "registry",
    "course_outcome": "equipment_section", "performance": "student_activities"})
# [reminders]: windows whose closing is preceded by reminders, with the days before the last day
# they go out by default (chosen; the seeds give no number — see docs/policy.md).
REMINDER_DEFAULT_DAYS: Mapping[str, int] = MappingProxyType({
    "course_outcome_upload": 7, "certification": 3, "selection": 7, "receipt_confirmation": 3})
REMINDER_DEFAULT_HOUR = 8


def bytes_to_mb(n: int) -> int | float:
    """A size in MB as a policy file writes it: whole when it is whole."""
    return n // MB if n % MB == 0 else n / MB


def mb_text(n: int) -> str:
    """A size in bytes as people read it (`4 MB`, `2.5 MB`)."""
    mb = bytes_to_mb(n)
    return f"{mb} MB" if isinstance(mb, int) else f"{mb:g} MB"


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
    dispute_offices: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(dict(DISPUTE_OFFICE_DEFAULTS)))
    reminder_hour: int = REMINDER_DEFAULT_HOUR
    reminder_days_before: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(dict(REMINDER_DEFAULT_DAYS)))

    def item_rule(self, kind: str) -> ItemRule:
        return {"course_outcome": self.course_outcome, "performance": self.performance,
                "consultation_record": self.consultation_record}[kind]

    def selection_cap(self, kind: str) -> int:
        return {"course_outcome": self.outcome_selections_per_year,
                "performance": self.performance_selections_per_year}[kind]

    def dispute_office(self, category: str) -> str:
        """The role that handles a dispute (疑義) about data of `category` (a DISPUTE_CATEGORIES
        key; item kinds are categories)."""
        return self.dispute_offices[category]

    def reminder_at(self, window_kind: str, starts_at: datetime, ends_at: datetime) -> datetime | None:
        """When reminders for a window go out: `reminder_hour` (Taipei) N days before its last
        day (N per window kind; 0 = the morning of the last day), but not before the window opens.
        None for a window kind without reminders."""
        days = self.reminder_days_before.get(window_kind)
        if days is None:
            return None
        last_day = taipei_date(ends_at - timedelta(microseconds=1))
        at = start_of_day(last_day - timedelta(days=days)) + timedelta(hours=self.reminder_hour)
        return min(max(at, starts_at), ends_at)

    def purge_due(self, departed_on: date) -> datetime:
        """When a departed student's data may be purged: after the whole anniversary day of
        leaving, `retention_years` later (a 29 February anniversary falls on 1 March) — never
        earlier than the regulation says."""
        year = departed_on.year + self.retention_years
        try:
            anniversary = departed_on.replace(year=year)
        except ValueError:
            anniversary = date(year, 3, 1)
        return end_of_day(anniversary)
