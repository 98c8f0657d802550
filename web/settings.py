"""One way to read a whole-number setting: app.config's, else the PORTFOLIO_<NAME> environment
variable, else the default; checked when the app is made, with the setting named in the error."""
from __future__ import annotations

import os


def whole_number(config, name: str, default: int, *, least: int = 1, most: int | None = None) -> int:
    raw, source = config.get(name), name
    if raw is None:
        source = f"PORTFOLIO_{name}"
        raw = os.environ.get(source)
        if raw is None or not str(raw).strip():
            raw, source = default, name
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{source} must be a whole number, not {raw!r}") from None
    if value < least:
        raise ValueError(f"{source} must be at least {least}, not {value}")
    if most is not None and value > most:
        raise ValueError(f"{source} must be at most {most}, not {value}")
    return value
