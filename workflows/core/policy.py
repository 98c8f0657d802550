"""School policy (補充規定) as data: the one object that answers every "how many / until when".

A school's policy is a TOML file (format: docs/policy.md; presets in policies/). Loading checks
the file format (unknown, missing or mistyped keys) and the national rule (作業要點第四點, the
national file limits), which no school may loosen, and reports every violation at once.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from datetime import date, datetime, timedelta
from typing import Any, Mapping

from persistence.vocabulary import WINDOW_LABELS
from workflows.core.clock import end_of_day, start_of_day, taipei_date
from workflows.core.roles import DIVISION_LABELS, ROLE_LABELS, Division, Role

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
    dispute_offices: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(dict(DISPUTE_OFFICE_DEFAULTS)))
    reminder_hour: int = 8
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


# ---------------------------------------------------------------------------------------------
# The national rule (作業要點第四點, template seed 001 point 8, file limits of seed 002).
# No school may loosen any of these; every check below reads its limit from NATIONAL.
# ---------------------------------------------------------------------------------------------

KINDS: tuple[str, ...] = ("course_outcome", "performance", "consultation_record")
KIND_LABELS: dict[str, str] = {"course_outcome": "課程學習成果", "performance": "多元表現",
                               "consultation_record": "課程諮詢紀錄"}
SLOTS: tuple[str, ...] = ("document", "media")
# What a receipt (收訖明細) covers: an item kind, or a semester batch's records.
RECEIPT_CATEGORY_LABELS: Mapping[str, str] = MappingProxyType({
    **KIND_LABELS, "basic_cadre": "基本資料及幹部紀錄", "courses": "修課紀錄"})


def receipt_category_label(category: str | None) -> str:
    """A receipt category as people read it (課程學習成果, 基本資料及幹部紀錄, 修課紀錄 …)."""
    return RECEIPT_CATEGORY_LABELS.get(category, category or "")

DUTY_PROXY = "duty_proxy"  # proxy_routing value: the teacher's own duty proxy (職務代理人), not a role
COURSE_KINDS: dict[str, str] = {  # proxy_routing keys (seed 000 §五(四)2)
    "external_multi_elective": "多元選修之外校教師",
    "in_school": "校內教師",
    "pe_music_specialty": "體育/音樂專長課程",
}
DIVISION_CODES: tuple[str, ...] = tuple(d.value for d in Division)
# Windows whose closing is preceded by reminders, with the days before the last day they go
# out by default (chosen; the seeds give no number — see docs/policy.md).
REMINDER_DEFAULT_DAYS: Mapping[str, int] = MappingProxyType({
    "course_outcome_upload": 7, "certification": 3, "selection": 7, "receipt_confirmation": 3})
REMINDER_DAYS_MAX = 60
# [dispute_offices] keys: the categories of data a receipt covers (seed 002's batches), and the
# office (role code) that settles a student's dispute (疑義) about them, by default.
DISPUTE_CATEGORIES: dict[str, str] = {
    "basic_data": "基本資料", "cadre": "幹部紀錄", "courses": "修課紀錄（含成績）",
    "course_outcome": "課程學習成果", "performance": "多元表現"}
DISPUTE_OFFICE_DEFAULTS: Mapping[str, str] = MappingProxyType({
    "basic_data": "registry", "cadre": "student_activities", "courses": "registry",
    "course_outcome": "equipment_section", "performance": "student_activities"})
# Offices that may be named: administrative sections, not teachers.
DISPUTE_OFFICE_ROLES: tuple[str, ...] = (
    "registry", "teaching_section", "equipment_section", "student_activities", "counselling",
    "executive_secretary")
REMINDER_DEFAULT_HOUR = 8


@dataclass(frozen=True)
class NationalRules:
    """The limits every school's policy must stay within."""

    outcome_selections_per_year_max: int = 6
    performance_selections_per_year_max: int = 10
    selections_per_year_min: int = 1
    receipt_confirmation_days_min: int = 3
    retention_years_min: int = 1
    retention_years_max: int = 5
    description_max_chars: int = 100
    semesters_per_year: int = 2
    document_kinds: tuple[str, ...] = ("pdf", "jpg", "png")
    media_kinds: tuple[str, ...] = ("mp3", "mp4")
    # (kind, slot) -> bytes; a slot absent here does not exist nationally (consultation media).
    file_max_bytes: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({
        ("course_outcome", "document"): 4 * MB,
        ("course_outcome", "media"): 10 * MB,
        ("performance", "document"): 4 * MB,
        ("performance", "media"): 10 * MB,
        ("consultation_record", "document"): 2 * MB,
    }))
    external_link_kinds: frozenset[str] = frozenset({"performance"})

    def slot_kinds(self, slot: str) -> tuple[str, ...]:
        return self.document_kinds if slot == "document" else self.media_kinds


NATIONAL = NationalRules()

# Where each rule comes from, as staff read it.
_SRC_POINT4 = "作業要點第四點"
_SRC_FILES = "114 學年度工作小組研習簡報「檔案格式、大小」"
_SRC_TEMPLATE8 = "補充規定範例第八點"
_SRC_FORMAT = "補充規定設定檔格式，見 docs/policy.md"

RULES: dict[str, str] = {
    "outcome_selections": f"{_SRC_POINT4}：課程學習成果每學年至多勾選 "
                          f"{NATIONAL.outcome_selections_per_year_max} 件",
    "performance_selections": f"{_SRC_POINT4}：多元表現每學年至多勾選 "
                              f"{NATIONAL.performance_selections_per_year_max} 件",
    "selections_min": f"勾選上限至少 {NATIONAL.selections_per_year_min} 件，否則學生無從勾選資料提交",
    "receipt": f"{_SRC_POINT4}：收訖明細之確認期間不得少於 {NATIONAL.receipt_confirmation_days_min} 日",
    "retention": f"{_SRC_TEMPLATE8}：離校生之學習歷程檔案資料保存 {NATIONAL.retention_years_min} 年"
                 f"至 {NATIONAL.retention_years_max} 年",
    "description": f"{_SRC_FILES}：簡述每件以 {NATIONAL.description_max_chars} 字為限",
    "upload_positive": f"{_SRC_POINT4}：上傳件數由學校定之，須為正整數",
    "outcome_year_range": "課程學習成果每學期上傳：全年上限須介於每學期上限與其兩倍之間（一學年兩學期）",
    "selections_within_uploads": "勾選件數不得超過學生每學年可上傳的件數",
    "external_link": f"{_SRC_FILES}：外部連結僅限多元表現",
    "no_such_slot": f"{_SRC_FILES}：課程諮詢紀錄只收文件與簡述，不收影音檔案",
    "division": "學制須為 day（日間部）或 continuing（進修部）",
    "tail": "教師認證延長期間（工作日）不得為負數",
    "close_days": "休業式後的上傳截止日數不得為負數",
    "dispute_office": "疑義處理單位須為 " + "、".join(DISPUTE_OFFICE_ROLES) + " 之一（行政單位的角色代碼）",
    "proxy_role": "代理對象須為 workflows/core/roles.py 的角色代碼或 duty_proxy（職務代理人）",
    "reminder_days": f"截止提醒：截止日前 0 至 {REMINDER_DAYS_MAX} 日（0 為截止當日）",
    "reminder_hour": "截止提醒寄送時間：臺北時間 0 至 23 時",
    "name": "範本代號須為 1 至 60 個小寫英數字、底線或連字號，且以英數字開頭",
    "title": "學校名稱不得空白",
    "positive": "須為正整數",
    "unknown": f"{_SRC_FORMAT}：不接受未知的設定項，以免拼錯的規則被默默忽略",
    "missing": _SRC_FORMAT,
    "type": _SRC_FORMAT,
}


def _file_rule_text(kind: str, slot: str) -> str:
    limit = NATIONAL.file_max_bytes[(kind, slot)]
    slot_label = {"document": "證明文件" if kind == "performance" else "文件", "media": "影音檔案"}[slot]
    return f"{_SRC_FILES}：{KIND_LABELS[kind]}{slot_label}每件上限 {_mb_text(limit)}"


def _kinds_rule_text(slot: str) -> str:
    label = "文件" if slot == "document" else "影音檔案"
    return f"{_SRC_FILES}：{label}限 {'、'.join(NATIONAL.slot_kinds(slot))}"


# ---------------------------------------------------------------------------------------------
# Violations and errors
# ---------------------------------------------------------------------------------------------

class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()  # PolicyViolation.value of a key that is not in the file


@dataclass(frozen=True)
class PolicyViolation:
    """One thing wrong with a policy: where (TOML key path), what, which rule, which limit."""

    path: str
    value: Any
    rule: str
    limit: Any = None
    problem: str = ""

    @property
    def message(self) -> str:
        where = self.path if self.value is MISSING else f"{self.path} = {_show(self.value)}"
        return f"{where}：{self.problem}（{self.rule}）"

    def __str__(self) -> str:
        return self.message


class PolicyError(ValueError):
    """The policy breaks the file format or the national rule; carries every violation found."""

    def __init__(self, violations: list[PolicyViolation], *, source: str = ""):
        self.violations = list(violations)
        self.source = source
        head = f"{source}：" if source else ""
        lines = "\n".join(v.message for v in self.violations)
        super().__init__(f"{head}補充規定有 {len(self.violations)} 項不符規定：\n{lines}")

    @property
    def messages(self) -> list[str]:
        return [v.message for v in self.violations]


class PolicyFileError(ValueError):
    """The policy cannot be read at all: no such preset or file, not UTF-8, or TOML syntax error."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None,
                 column: int | None = None):
        super().__init__(message)
        self.source = source
        self.line = line
        self.column = column


# ---------------------------------------------------------------------------------------------
# TOML -> flat values (path -> typed value), collecting format errors
# ---------------------------------------------------------------------------------------------

# field spec: (type, required); type is "str" | "int" | "bool" | "file" | "routing" | a nested dict
_ITEM_COMMON = {
    "description_max_chars": ("int", True),
    "external_link": ("bool", False),
    "document": ("file", False),
    "media": ("file", False),
}
_SCHEMA: dict[str, tuple[Any, bool]] = {
    "name": ("str", True),
    "title": ("str", True),
    "division": ("str", True),
    "course_outcome": ({
        "uploads_per_semester": ("int", True),
        "uploads_per_year": ("int", False),
        "selections_per_year": ("int", True),
        **_ITEM_COMMON,
    }, True),
    "performance": ({
        "uploads_per_year": ("int", False),
        "selections_per_year": ("int", True),
        **_ITEM_COMMON,
    }, True),
    "consultation_record": (dict(_ITEM_COMMON), True),
    "receipt": ({"confirmation_days": ("int", True)}, True),
    "retention": ({"departed_years": ("int", True)}, True),
    "calendar": ({
        "certification_tail_working_days": ("int", True),
        "outcome_upload_close_days_after_closing_ceremony": ("int", True),
    }, True),
    "guardians": ({"may_act": ("bool", True)}, False),
    "proxy_routing": ("routing", False),
    "dispute_offices": ("offices", False),
    "reminders": ({"hour": ("int", False),
                   **{kind: ("int", False) for kind in REMINDER_DEFAULT_DAYS}}, False),
}
_FILE_SCHEMA = {"kinds": ("kinds", True), "max_mb": ("number", True)}
# Values an optional key (or optional table) takes when it is left out.
_DEFAULTS: dict[str, Any] = {
    "course_outcome.uploads_per_year": None,
    "performance.uploads_per_year": None,
    "guardians.may_act": True,
    "proxy_routing": MappingProxyType({}),
    "dispute_offices": DISPUTE_OFFICE_DEFAULTS,
    "reminders.hour": REMINDER_DEFAULT_HOUR,
    **{f"reminders.{kind}": days for kind, days in REMINDER_DEFAULT_DAYS.items()},
    **{f"{k}.external_link": False for k in KINDS},
    **{f"{k}.{s}": False for k in KINDS for s in SLOTS},  # slot presence: no such slot
}
_TYPE_LABELS = {"str": "字串", "int": "整數", "bool": "布林值（true 或 false）", "number": "數字（MB）",
                "kinds": "字串陣列", "file": "表格 { kinds = [...], max_mb = ... }",
                "routing": "表格（課程類別 = \"角色代碼\"）",
                "offices": "表格（資料類別 = \"角色代碼\"）", "table": "表格"}


@dataclass(frozen=True)
class _RoleTable:
    """A table of category → role code ([proxy_routing], [dispute_offices]): both are read and
    checked by the same code, so the two tables cannot drift apart."""

    categories: Mapping[str, str]
    what: str                    # the kind of category, in messages
    allowed: tuple[str, ...]     # the role codes a target may be
    rule: str                    # the RULES key a target outside `allowed` breaks
    problem: str
    defaults: Mapping[str, str]  # what categories left out of the table get


_ROLE_TABLES: dict[str, _RoleTable] = {
    "proxy_routing": _RoleTable(COURSE_KINDS, "課程類別", tuple(r.value for r in Role) + (DUTY_PROXY,),
                                "proxy_role", "不是可用的角色代碼", MappingProxyType({})),
    "dispute_offices": _RoleTable(DISPUTE_CATEGORIES, "資料類別", DISPUTE_OFFICE_ROLES,
                                  "dispute_office", "不是可處理疑義的單位", DISPUTE_OFFICE_DEFAULTS),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return _is_int(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "number":
        return (_is_int(value) or isinstance(value, float))
    if kind == "kinds":
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    return isinstance(value, dict)  # file, routing, table


class _Reader:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.errors: list[PolicyViolation] = []

    def type_error(self, path: str, value: Any, kind: str) -> None:
        self.errors.append(PolicyViolation(path, value, RULES["type"], _TYPE_LABELS[kind],
                                           f"型別錯誤，應為{_TYPE_LABELS[kind]}"))

    def table(self, data: dict, prefix: str, schema: dict[str, tuple[Any, bool]]) -> None:
        for key, value in data.items():
            if key not in schema:
                self.errors.append(PolicyViolation(
                    _join(prefix, key), value, RULES["unknown"], tuple(schema),
                    f"未知的設定項；{_where(prefix)}可用的設定項：{'、'.join(schema)}"))
        for key, (kind, required) in schema.items():
            path = _join(prefix, key)
            if key not in data:
                if required:
                    what = f"設定表 [{path}]" if isinstance(kind, dict) else "設定項"
                    self.errors.append(PolicyViolation(path, MISSING, RULES["missing"], None,
                                                       f"缺少必要的{what}"))
                else:
                    self._default(path, kind)
                continue
            value = data[key]
            if isinstance(kind, dict):
                if not isinstance(value, dict):
                    self.type_error(path, value, "table")
                else:
                    self.table(value, path, kind)
            elif kind == "file":
                self.file(value, path)
            elif kind in ("routing", "offices"):
                self.role_table(value, path, kind)
            elif not _type_ok(kind, value):
                self.type_error(path, value, kind)
            else:
                self.values[path] = tuple(value) if kind == "kinds" else value

    def _default(self, path: str, kind: Any) -> None:
        if isinstance(kind, dict):  # an optional table left out: its keys take their defaults
            for key, (sub_kind, _required) in kind.items():
                self._default(_join(path, key), sub_kind)
        else:
            self.values[path] = _DEFAULTS[path]

    def file(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.type_error(path, value, "file")
            return
        self.values[path] = True
        self.table(value, path, _FILE_SCHEMA)

    def role_table(self, value: Any, path: str, kind: str) -> None:
        """The categories given override the table's defaults; the rest keep them."""
        if not isinstance(value, dict):
            self.type_error(path, value, kind)
            return
        table = _ROLE_TABLES[path]
        known = dict(table.defaults)
        for key, target in value.items():
            sub = _join(path, key)
            if key not in table.categories:
                self.errors.append(PolicyViolation(
                    sub, target, RULES["unknown"], tuple(table.categories),
                    f"未知的{table.what}；可用的{table.what}：{'、'.join(table.categories)}"))
            elif not isinstance(target, str):
                self.type_error(sub, target, "str")
            else:
                known[key] = target
        # the well-formed entries still get their national checks; building needs no errors
        self.values[path] = MappingProxyType(known)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _where(prefix: str) -> str:
    return f"[{prefix}] " if prefix else "最上層"


# ---------------------------------------------------------------------------------------------
# National checks over flat values; a check whose inputs are missing or mistyped is skipped
# (that key already has its own format error).
# ---------------------------------------------------------------------------------------------

def _national_checks(v: dict[str, Any]) -> list[PolicyViolation]:
    out: list[PolicyViolation] = []

    def add(path: str, rule: str, limit: Any, problem: str) -> None:
        out.append(PolicyViolation(path, v[path], rule, limit, problem))

    def has(*paths: str) -> bool:
        return all(p in v for p in paths)

    # identity
    if has("name") and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,59}", v["name"]):
        add("name", RULES["name"], None, "範本代號格式不符")
    if has("title") and not v["title"].strip():
        add("title", RULES["title"], None, "學校名稱空白")
    if has("division") and v["division"] not in DIVISION_CODES:
        add("division", RULES["division"], DIVISION_CODES,
            f"不是可用的學制（{'、'.join(DIVISION_CODES)}）")

    # upload caps: positive integers
    for path in ("course_outcome.uploads_per_semester", "course_outcome.uploads_per_year",
                 "performance.uploads_per_year"):
        if has(path) and v[path] is not None and v[path] < 1:
            add(path, RULES["upload_positive"], 1, "上傳件數上限須至少 1")

    # course outcomes: a year has two semesters
    ps, py = "course_outcome.uploads_per_semester", "course_outcome.uploads_per_year"
    year_cap: int | None = None  # what a student may upload in a year; None: unknown or no cap
    year_cap_path = f"{ps} × {NATIONAL.semesters_per_year}"
    if has(ps, py) and v[ps] >= 1:
        if v[py] is None:
            year_cap = NATIONAL.semesters_per_year * v[ps]
        elif v[py] >= 1:
            if v[py] < v[ps]:
                add(py, RULES["outcome_year_range"], v[ps], f"少於每學期上限 {v[ps]}（{ps}）")
            elif v[py] > NATIONAL.semesters_per_year * v[ps]:
                add(py, RULES["outcome_year_range"], NATIONAL.semesters_per_year * v[ps],
                    f"超過每學期上限的兩倍 {NATIONAL.semesters_per_year * v[ps]}"
                    f"（{ps} = {v[ps]}）")
            else:
                year_cap, year_cap_path = v[py], py

    # selections
    for kind, national_max, rule, upload_cap, cap_path in (
            ("course_outcome", NATIONAL.outcome_selections_per_year_max,
             RULES["outcome_selections"], year_cap, year_cap_path),
            ("performance", NATIONAL.performance_selections_per_year_max,
             RULES["performance_selections"], v.get("performance.uploads_per_year"),
             "performance.uploads_per_year")):
        path = f"{kind}.selections_per_year"
        if not has(path):
            continue
        if v[path] > national_max:
            add(path, rule, national_max, f"超過全國規定上限 {national_max}")
        elif v[path] < NATIONAL.selections_per_year_min:
            add(path, RULES["selections_min"], NATIONAL.selections_per_year_min,
                f"低於下限 {NATIONAL.selections_per_year_min}")
        elif isinstance(upload_cap, int) and upload_cap >= 1 and v[path] > upload_cap:
            add(path, RULES["selections_within_uploads"], upload_cap,
                f"超過學校每學年可上傳件數 {upload_cap}（{cap_path}）")

    # items: description, external link, files
    for kind in KINDS:
        path = f"{kind}.description_max_chars"
        if has(path):
            if v[path] > NATIONAL.description_max_chars:
                add(path, RULES["description"], NATIONAL.description_max_chars,
                    f"超過全國規定上限 {NATIONAL.description_max_chars} 字")
            elif v[path] < 1:
                add(path, RULES["description"], 1, "簡述字數上限須至少 1")
        path = f"{kind}.external_link"
        if has(path) and v[path] and kind not in NATIONAL.external_link_kinds:
            add(path, RULES["external_link"], False, f"{KIND_LABELS[kind]}不得設外部連結")
        for slot in SLOTS:
            out.extend(_file_checks(v, kind, slot))

    # receipt, retention, calendar
    path = "receipt.confirmation_days"
    if has(path) and v[path] < NATIONAL.receipt_confirmation_days_min:
        add(path, RULES["receipt"], NATIONAL.receipt_confirmation_days_min,
            f"少於全國規定下限 {NATIONAL.receipt_confirmation_days_min} 日")
    path = "retention.departed_years"
    lo, hi = NATIONAL.retention_years_min, NATIONAL.retention_years_max
    if has(path) and not lo <= v[path] <= hi:
        add(path, RULES["retention"], (lo, hi), f"不在全國規定範圍 {lo}–{hi} 年內")
    path = "calendar.certification_tail_working_days"
    if has(path) and v[path] < 0:
        add(path, RULES["tail"], 0, "不得為負數")
    path = "calendar.outcome_upload_close_days_after_closing_ceremony"
    if has(path) and v[path] < 0:
        add(path, RULES["close_days"], 0, "不得為負數")

    # reminders
    path = "reminders.hour"
    if has(path) and not 0 <= v[path] <= 23:
        add(path, RULES["reminder_hour"], (0, 23), "不在 0–23 時之間")
    for kind in REMINDER_DEFAULT_DAYS:
        path = f"reminders.{kind}"
        if has(path) and not 0 <= v[path] <= REMINDER_DAYS_MAX:
            add(path, RULES["reminder_days"], (0, REMINDER_DAYS_MAX),
                f"不在 0–{REMINDER_DAYS_MAX} 日之間")

    # proxy routing, dispute offices
    for table_path, table in _ROLE_TABLES.items():
        if not has(table_path):
            continue
        for key, target in v[table_path].items():
            path = f"{table_path}.{key}"
            if key not in table.categories:
                out.append(PolicyViolation(path, target, RULES["unknown"], tuple(table.categories),
                                           f"未知的{table.what}"))
            elif target not in table.allowed:
                out.append(PolicyViolation(path, target, RULES[table.rule], table.allowed, table.problem))
    return out


def _file_checks(v: dict[str, Any], kind: str, slot: str) -> list[PolicyViolation]:
    out: list[PolicyViolation] = []
    base = f"{kind}.{slot}"
    if not v.get(base):
        return out
    limit = NATIONAL.file_max_bytes.get((kind, slot))
    if limit is None:
        slot_label = "影音檔案" if slot == "media" else "文件"
        out.append(PolicyViolation(base, MISSING, RULES["no_such_slot"], None,
                                   f"全國規定{KIND_LABELS[kind]}沒有{slot_label}，請刪去此項"))
        return out
    path = f"{base}.kinds"
    if path in v:
        kinds = v[path]
        national = NATIONAL.slot_kinds(slot)
        foreign = [k for k in kinds if k not in national]
        dupes = sorted({k for k in kinds if kinds.count(k) > 1})
        if not kinds:
            out.append(PolicyViolation(path, list(kinds), _kinds_rule_text(slot), national,
                                       "至少須列出一種檔案格式（不收此類檔案時請刪去整項）"))
        elif foreign:
            out.append(PolicyViolation(path, list(kinds), _kinds_rule_text(slot), national,
                                       f"含全國規定以外的檔案格式 {'、'.join(foreign)}"))
        elif dupes:
            out.append(PolicyViolation(path, list(kinds), _kinds_rule_text(slot), national,
                                       f"檔案格式重複：{'、'.join(dupes)}"))
    path = f"{base}.max_mb"
    if path in v:
        mb = v[path]
        if not math.isfinite(mb) or mb <= 0:
            out.append(PolicyViolation(path, mb, _file_rule_text(kind, slot), limit / MB,
                                       "檔案大小上限須大於 0"))
        elif round(mb * MB) > limit:
            out.append(PolicyViolation(path, mb, _file_rule_text(kind, slot), limit / MB,
                                       f"超過全國規定上限 {_mb_text(limit)}"))
    return out


# ---------------------------------------------------------------------------------------------
# Policy <-> flat values
# ---------------------------------------------------------------------------------------------

def _flatten(policy: Policy) -> dict[str, Any]:
    v: dict[str, Any] = {
        "name": policy.name,
        "title": policy.title,
        "division": policy.division,
        "course_outcome.uploads_per_semester": policy.outcome_uploads_per_semester,
        "course_outcome.uploads_per_year": policy.outcome_uploads_per_year,
        "course_outcome.selections_per_year": policy.outcome_selections_per_year,
        "performance.uploads_per_year": policy.performance_uploads_per_year,
        "performance.selections_per_year": policy.performance_selections_per_year,
        "receipt.confirmation_days": policy.receipt_confirmation_days,
        "retention.departed_years": policy.retention_years,
        "calendar.certification_tail_working_days": policy.certification_tail_working_days,
        "calendar.outcome_upload_close_days_after_closing_ceremony":
            policy.outcome_upload_close_days_after_closing,
        "guardians.may_act": policy.guardians_may_act,
        "proxy_routing": policy.proxy_routing,
        "dispute_offices": policy.dispute_offices,
        "reminders.hour": policy.reminder_hour,
        **{f"reminders.{kind}": policy.reminder_days_before[kind] for kind in REMINDER_DEFAULT_DAYS},
    }
    for kind in KINDS:
        item = policy.item_rule(kind)
        v[f"{kind}.description_max_chars"] = item.description_max_chars
        v[f"{kind}.external_link"] = item.external_link
        for slot in SLOTS:
            rule: FileRule | None = getattr(item, slot)
            v[f"{kind}.{slot}"] = rule is not None
            if rule is not None:
                v[f"{kind}.{slot}.kinds"] = tuple(rule.kinds)
                v[f"{kind}.{slot}.max_mb"] = _bytes_to_mb(rule.max_bytes)
    return v


def _build(v: dict[str, Any]) -> Policy:
    def item(kind: str) -> ItemRule:
        files = {}
        for slot in SLOTS:
            files[slot] = (FileRule(tuple(v[f"{kind}.{slot}.kinds"]),
                                    round(v[f"{kind}.{slot}.max_mb"] * MB))
                           if v[f"{kind}.{slot}"] else None)
        return ItemRule(document=files["document"], media=files["media"],
                        description_max_chars=v[f"{kind}.description_max_chars"],
                        external_link=v[f"{kind}.external_link"])

    return Policy(
        name=v["name"],
        title=v["title"],
        division=v["division"],
        outcome_uploads_per_semester=v["course_outcome.uploads_per_semester"],
        outcome_uploads_per_year=v["course_outcome.uploads_per_year"],
        outcome_selections_per_year=v["course_outcome.selections_per_year"],
        performance_uploads_per_year=v["performance.uploads_per_year"],
        performance_selections_per_year=v["performance.selections_per_year"],
        course_outcome=item("course_outcome"),
        performance=item("performance"),
        consultation_record=item("consultation_record"),
        receipt_confirmation_days=v["receipt.confirmation_days"],
        retention_years=v["retention.departed_years"],
        certification_tail_working_days=v["calendar.certification_tail_working_days"],
        outcome_upload_close_days_after_closing=
            v["calendar.outcome_upload_close_days_after_closing_ceremony"],
        guardians_may_act=v["guardians.may_act"],
        proxy_routing=MappingProxyType(dict(v["proxy_routing"])),
        dispute_offices=MappingProxyType(dict(v["dispute_offices"])),
        reminder_hour=v["reminders.hour"],
        reminder_days_before=MappingProxyType(
            {kind: v[f"reminders.{kind}"] for kind in REMINDER_DEFAULT_DAYS}),
    )


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

PRESETS_DIR = Path(__file__).resolve().parents[2] / "policies"


def validate_policy(policy: Policy) -> list[PolicyViolation]:
    """Every way `policy` breaks the national rule (empty list: it complies)."""
    return _national_checks(_flatten(policy))


def check_policy(policy: Policy, *, source: str = "") -> Policy:
    """`policy` itself when it complies; otherwise PolicyError listing every violation."""
    violations = validate_policy(policy)
    if violations:
        raise PolicyError(violations, source=source or policy.name)
    return policy


def parse_policy(text: str, *, source: str) -> Policy:
    """Read a policy from TOML text and validate it against the file format and national rule.

    Raises PolicyFileError for a TOML syntax error, PolicyError (all violations at once) for
    unknown, missing or mistyped keys and for values the national rule does not allow.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raw = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", raw)
        line, column = (int(found[1]), int(found[2])) if found else (None, None)
        where = f"（第 {line} 行第 {column} 欄）" if found else ""
        raise PolicyFileError(f"{source}：TOML 語法錯誤{where}：{raw}", source=source,
                              line=line, column=column) from exc
    reader = _Reader()
    reader.table(data, "", _SCHEMA)
    violations = reader.errors + _national_checks(reader.values)
    if violations:
        raise PolicyError(violations, source=source)
    return _build(reader.values)


@lru_cache(maxsize=256)
def parsed_policy(text: str, *, source: str) -> Policy:
    """parse_policy, remembered by the text (and the source its errors name): parsing is pure and
    a Policy is immutable, and every unit of work that reads its school's policy would otherwise
    parse the same TOML again. An edited policy is different text, so it is parsed anew."""
    return parse_policy(text, source=source)


def school_policy(school) -> Policy:
    """The policy a school row holds (its 補充規定 over the national rule)."""
    return parsed_policy(school.policy_toml, source=f"school {school.code}")


def preset_names() -> list[str]:
    """Names of the presets shipped in policies/ (xinzhuang, nanning, template, ...)."""
    if not PRESETS_DIR.is_dir():
        return []
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def load_policy(name_or_path: str) -> Policy:
    """A preset by name (`xinzhuang`), or else a TOML file by path."""
    path = PRESETS_DIR / f"{name_or_path}.toml" if name_or_path in preset_names() \
        else Path(name_or_path)
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        presets = "、".join(preset_names()) or "（無）"
        if "/" in name_or_path or "\\" in name_or_path or name_or_path.endswith(".toml"):
            message = f"找不到補充規定檔案：{name_or_path}"
        else:
            message = f"找不到補充規定「{name_or_path}」：不是內建範本，也沒有這個檔案"
        raise PolicyFileError(f"{message}（內建範本：{presets}）", source=source) from None
    except OSError as exc:
        raise PolicyFileError(f"{source}：無法讀取檔案：{exc.strerror or exc}",
                              source=source) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PolicyFileError(f"{source}：檔案不是 UTF-8 編碼（若以 Big5 儲存，請改存為 UTF-8）",
                              source=source) from exc
    return parse_policy(text, source=source)


def policy_to_toml(policy: Policy) -> str:
    """TOML text of `policy` in the documented format; parse_policy(policy_to_toml(p)) == p."""
    def item_lines(kind: str, item: ItemRule) -> list[str]:
        lines = [f"description_max_chars = {_toml(item.description_max_chars)}"]
        if item.external_link or kind in NATIONAL.external_link_kinds:
            lines.append(f"external_link = {_toml(item.external_link)}")
        for slot in SLOTS:
            rule: FileRule | None = getattr(item, slot)
            if rule is not None:
                lines.append(f"{slot} = {{ kinds = {_toml(list(rule.kinds))}, "
                             f"max_mb = {_toml(_bytes_to_mb(rule.max_bytes))} }}")
        return lines

    out = [f"name = {_toml(policy.name)}", f"title = {_toml(policy.title)}",
           f"division = {_toml(policy.division)}", "", "[course_outcome]",
           f"uploads_per_semester = {_toml(policy.outcome_uploads_per_semester)}"]
    if policy.outcome_uploads_per_year is not None:
        out.append(f"uploads_per_year = {_toml(policy.outcome_uploads_per_year)}")
    out.append(f"selections_per_year = {_toml(policy.outcome_selections_per_year)}")
    out += item_lines("course_outcome", policy.course_outcome)
    out += ["", "[performance]"]
    if policy.performance_uploads_per_year is not None:
        out.append(f"uploads_per_year = {_toml(policy.performance_uploads_per_year)}")
    out.append(f"selections_per_year = {_toml(policy.performance_selections_per_year)}")
    out += item_lines("performance", policy.performance)
    out += ["", "[consultation_record]"] + item_lines("consultation_record",
                                                       policy.consultation_record)
    out += ["", "[receipt]", f"confirmation_days = {_toml(policy.receipt_confirmation_days)}",
            "", "[retention]", f"departed_years = {_toml(policy.retention_years)}",
            "", "[calendar]",
            f"certification_tail_working_days = {_toml(policy.certification_tail_working_days)}",
            "outcome_upload_close_days_after_closing_ceremony = "
            f"{_toml(policy.outcome_upload_close_days_after_closing)}",
            "", "[guardians]", f"may_act = {_toml(policy.guardians_may_act)}",
            "", "[proxy_routing]"]
    out += [f"{_toml_key(k)} = {_toml(t)}" for k, t in policy.proxy_routing.items()]
    out += ["", "[dispute_offices]"]
    out += [f"{_toml_key(k)} = {_toml(t)}" for k, t in policy.dispute_offices.items()]
    out += ["", "[reminders]", f"hour = {_toml(policy.reminder_hour)}"]
    out += [f"{kind} = {_toml(days)}" for kind, days in policy.reminder_days_before.items()]
    return "\n".join(out) + "\n"


def describe(policy: Policy) -> list[tuple[str, str]]:
    """The effective values as (zh-TW label, value) rows, for `portfolio policy show`."""
    rows: list[tuple[str, str]] = [
        ("範本代號", policy.name),
        ("學校", policy.title),
        ("學制", _division_label(policy.division)),
    ]
    o = "課程學習成果"
    rows.append((f"{o}：每學期上傳上限", f"{policy.outcome_uploads_per_semester} 件"))
    if policy.outcome_uploads_per_year is not None:
        rows.append((f"{o}：每學年上傳上限", f"{policy.outcome_uploads_per_year} 件"))
    else:
        rows.append((f"{o}：每學年上傳上限",
                     f"未另訂（兩學期合計 {policy.outcome_uploads_per_semester * 2} 件）"))
    rows.append((f"{o}：每學年勾選上限", f"{policy.outcome_selections_per_year} 件"
                                    f"（全國上限 {NATIONAL.outcome_selections_per_year_max}）"))
    rows += _item_rows("course_outcome", policy.course_outcome)
    p = "多元表現"
    rows.append((f"{p}：每學年上傳上限", f"{policy.performance_uploads_per_year} 件"
                 if policy.performance_uploads_per_year is not None else "學校未設上限"))
    rows.append((f"{p}：每學年勾選上限", f"{policy.performance_selections_per_year} 件"
                                    f"（全國上限 {NATIONAL.performance_selections_per_year_max}）"))
    rows += _item_rows("performance", policy.performance)
    rows += _item_rows("consultation_record", policy.consultation_record)
    rows += [
        ("收訖明細確認期間", f"{policy.receipt_confirmation_days} 日"
                      f"（全國下限 {NATIONAL.receipt_confirmation_days_min} 日）"),
        ("離校生資料保存年限", f"{policy.retention_years} 年"),
        ("教師認證延長期間", f"學生上傳截止後 {policy.certification_tail_working_days} 個工作日"),
        ("課程學習成果上傳截止", f"休業式後 {policy.outcome_upload_close_days_after_closing} 日"),
        ("家長或法定代理人代為操作", "可（上傳、送出、勾選、確認）" if policy.guardians_may_act
         else "不可"),
    ]
    if policy.proxy_routing:
        for key, target in policy.proxy_routing.items():
            rows.append((f"代理認證：{COURSE_KINDS.get(key, key)}", _target_label(target)))
    else:
        rows.append(("代理認證", "未設定（依工作小組代理人名單）"))
    for key, target in policy.dispute_offices.items():
        rows.append((f"疑義處理：{DISPUTE_CATEGORIES.get(key, key)}", _target_label(target)))
    rows.append(("截止提醒寄送時間", f"臺北時間 {policy.reminder_hour:02d}:00"))
    for kind, days in policy.reminder_days_before.items():
        rows.append((f"截止提醒：{WINDOW_LABELS[kind]}", f"截止日前 {days} 日" if days else "截止當日"))
    return rows


# ---------------------------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------------------------

def _item_rows(kind: str, item: ItemRule) -> list[tuple[str, str]]:
    label = KIND_LABELS[kind]
    rows = []
    for slot in SLOTS:
        rule: FileRule | None = getattr(item, slot)
        slot_label = {"document": "證明文件" if kind == "performance" else "文件",
                      "media": "影音檔案"}[slot]
        if rule is None:
            if (kind, slot) in NATIONAL.file_max_bytes:
                rows.append((f"{label}：{slot_label}", "不收"))
            continue
        rows.append((f"{label}：{slot_label}",
                     f"{'、'.join(rule.kinds)}，每件 ≤ {_mb_text(rule.max_bytes)}"))
    rows.append((f"{label}：簡述", f"每件 ≤ {item.description_max_chars} 字"))
    if item.external_link or kind in NATIONAL.external_link_kinds:
        rows.append((f"{label}：外部連結", "可" if item.external_link else "不可"))
    return rows


def _division_label(code: str) -> str:
    try:
        return f"{DIVISION_LABELS[Division(code)]}（{code}）"
    except ValueError:
        return code


def _target_label(target: str) -> str:
    if target == DUTY_PROXY:
        return f"職務代理人（{DUTY_PROXY}）"
    try:
        return f"{ROLE_LABELS[Role(target)]}（{target}）"
    except ValueError:
        return target


def _bytes_to_mb(n: int) -> int | float:
    return n // MB if n % MB == 0 else n / MB


def _mb_text(n: int) -> str:
    mb = _bytes_to_mb(n)
    return f"{mb} MB" if isinstance(mb, int) else f"{mb:g} MB"


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml(key)


def _toml(value: Any) -> str:
    """A TOML literal (also used to show offending values in messages)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        escaped = []
        for ch in value:
            if ch == '"':
                escaped.append('\\"')
            elif ch == "\\":
                escaped.append("\\\\")
            elif ch in "\b\t\n\f\r":
                escaped.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
                                "\r": "\\r"}[ch])
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                escaped.append(f"\\u{ord(ch):04X}")
            else:
                escaped.append(ch)
        return '"' + "".join(escaped) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml(x)}" for k, x in value.items()) \
            + " }" if value else "{}"
    return str(value)


def _show(value: Any) -> str:
    return "（未設定）" if value is None else _toml(value)
