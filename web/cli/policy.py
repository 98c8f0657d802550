"""`portfolio policy …`: check and show a school's policy (補充規定).

Exit codes of `check` (and `show`): 0 valid, 1 the policy breaks the file format or the national
rule (one message per violation on stderr), 2 the file cannot be read or is not valid TOML.
"""
from __future__ import annotations

import unicodedata

import click

from workflows.core.policy import (PolicyError, PolicyFileError, describe, load_policy, preset_names)

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def _load(target: str):
    """The policy, or exit 1 (violations) / 2 (unreadable) with the messages on stderr."""
    ctx = click.get_current_context()
    try:
        return load_policy(target)
    except PolicyFileError as exc:
        click.echo(f"錯誤：{exc}", err=True)
        ctx.exit(EXIT_UNREADABLE)
    except PolicyError as exc:
        for message in exc.messages:
            click.echo(message, err=True)
        ctx.exit(EXIT_INVALID)


def _width(text: str) -> int:
    """Columns `text` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(rows: list[tuple[str, str]]) -> str:
    """Two aligned columns (label, value), CJK-width aware."""
    width = max((_width(label) for label, _ in rows), default=0)
    return "\n".join(f"{label}{' ' * (width - _width(label))}  {value}" for label, value in rows)


@click.group("policy", help="學校補充規定（policy）：檢查與顯示。內建範本："
                            + "、".join(preset_names()))
def policy() -> None:
    pass


@policy.command("check", help="檢查補充規定是否符合檔案格式與全國規定（作業要點第四點）。"
                              "結束碼：0 符合、1 不符規定、2 無法讀取。")
@click.argument("target", metavar="FILE_OR_PRESET")
def check(target: str) -> None:
    loaded = _load(target)
    click.echo(f"OK: {loaded.title} ({loaded.name})")


@policy.command("show", help="以兩欄表格列出補充規定的實際設定值。")
@click.argument("target", metavar="PRESET_OR_FILE")
def show(target: str) -> None:
    loaded = _load(target)
    click.echo(format_table(describe(loaded)))
