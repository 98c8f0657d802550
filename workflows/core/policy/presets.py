"""Policies on disk: the presets shipped in policies/, and any policy file by its path."""
from __future__ import annotations

from pathlib import Path

from workflows.core.policy.model import Policy
from workflows.core.policy.reading import parse_policy
from workflows.core.policy.violations import PolicyFileError

# The repository's policies/ folder (this file is workflows/core/policy/presets.py).
PRESETS_DIR = Path(__file__).resolve().parents[3] / "policies"


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
