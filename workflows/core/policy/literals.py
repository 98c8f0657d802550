"""TOML literals: how a policy file is written, and how an offending value is shown."""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(key: str) -> str:
    """A table key, quoted only when TOML requires it."""
    return key if _BARE_KEY.fullmatch(key) else toml_literal(key)


def toml_literal(value: Any) -> str:
    """A TOML literal (also how messages show an offending value)."""
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
        return "[" + ", ".join(toml_literal(x) for x in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(str(k))} = {toml_literal(x)}"
                                for k, x in value.items()) + " }" if value else "{}"
    return str(value)
