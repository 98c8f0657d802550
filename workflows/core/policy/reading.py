"""Reading a policy from TOML text: the file format (which keys, which types, which may be left
out and what they then take), checked key by key, then the national rule over the values read;
every violation is reported at once."""
from __future__ import annotations

import re
import tomllib
from types import MappingProxyType
from typing import Any

from workflows.core.policy.flat import build
from workflows.core.policy.model import (DISPUTE_OFFICE_DEFAULTS, REMINDER_DEFAULT_DAYS,
                                         REMINDER_DEFAULT_HOUR, Policy)
from workflows.core.policy.national import ROLE_TABLES, RULES, national_checks
from workflows.core.policy.terms import KINDS, SLOTS
from workflows.core.policy.violations import MISSING, PolicyError, PolicyFileError, PolicyViolation

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
        table = ROLE_TABLES[path]
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
    violations = reader.errors + national_checks(reader.values)
    if violations:
        raise PolicyError(violations, source=source)
    return build(reader.values)
