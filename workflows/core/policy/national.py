"""The national rule (作業要點第四點, template seed 001 point 8, file limits of seed 002): the limits
no school's policy may loosen, where each comes from as staff read it, and the checks of a
policy against them. Every check reads its limit from NATIONAL."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from workflows.core.policy.flat import flatten
from workflows.core.policy.model import (DISPUTE_OFFICE_DEFAULTS, MB, REMINDER_DEFAULT_DAYS, Policy,
                                         mb_text)
from workflows.core.policy.terms import (COURSE_KINDS, DISPUTE_CATEGORIES, DIVISION_CODES, DUTY_PROXY,
                                         KIND_LABELS, KINDS, SLOTS, slot_label)
from workflows.core.policy.violations import MISSING, PolicyError, PolicyViolation
from workflows.core.roles import Role

REMINDER_DAYS_MAX = 60
# Offices that may settle a dispute: administrative sections, not teachers.
DISPUTE_OFFICE_ROLES: tuple[str, ...] = (
    "registry", "teaching_section", "equipment_section", "student_activities", "counselling",
    "executive_secretary")


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
    return f"{_SRC_FILES}：{KIND_LABELS[kind]}{slot_label(kind, slot)}每件上限 {mb_text(limit)}"


def _kinds_rule_text(slot: str) -> str:
    label = "文件" if slot == "document" else "影音檔案"
    return f"{_SRC_FILES}：{label}限 {'、'.join(NATIONAL.slot_kinds(slot))}"


@dataclass(frozen=True)
class RoleTable:
    """A table of category → role code ([proxy_routing], [dispute_offices]): both are read and
    checked by the same code, so the two tables cannot drift apart."""

    categories: Mapping[str, str]
    what: str                    # the kind of category, in messages
    allowed: tuple[str, ...]     # the role codes a target may be
    rule: str                    # the RULES key a target outside `allowed` breaks
    problem: str
    defaults: Mapping[str, str]  # what categories left out of the table get


ROLE_TABLES: dict[str, RoleTable] = {
    "proxy_routing": RoleTable(COURSE_KINDS, "課程類別", tuple(r.value for r in Role) + (DUTY_PROXY,),
                               "proxy_role", "不是可用的角色代碼", MappingProxyType({})),
    "dispute_offices": RoleTable(DISPUTE_CATEGORIES, "資料類別", DISPUTE_OFFICE_ROLES,
                                 "dispute_office", "不是可處理疑義的單位", DISPUTE_OFFICE_DEFAULTS),
}


def national_checks(v: dict[str, Any]) -> list[PolicyViolation]:
    """Every way flat values (flat.flatten) break the national rule. A check whose inputs are
    missing or mistyped is skipped: that key already has its own format error."""
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
    for table_path, table in ROLE_TABLES.items():
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
        out.append(PolicyViolation(base, MISSING, RULES["no_such_slot"], None,
                                   f"全國規定{KIND_LABELS[kind]}沒有{slot_label(kind, slot)}，請刪去此項"))
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
                                       f"超過全國規定上限 {mb_text(limit)}"))
    return out


def validate_policy(policy: Policy) -> list[PolicyViolation]:
    """Every way `policy` breaks the national rule (empty list: it complies)."""
    return national_checks(flatten(policy))


def check_policy(policy: Policy, *, source: str = "") -> Policy:
    """`policy` itself when it complies; otherwise PolicyError listing every violation."""
    violations = validate_policy(policy)
    if violations:
        raise PolicyError(violations, source=source or policy.name)
    return policy

