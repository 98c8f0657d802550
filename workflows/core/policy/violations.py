"""What is wrong with a policy: each violation with its place, rule and limit, all of them at once
(PolicyError), or why the file could not be read at all (PolicyFileError)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflows.core.policy.literals import toml_literal

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


def _show(value: Any) -> str:
    return "（未設定）" if value is None else toml_literal(value)
