"""The policy a school row holds, read once per text: every unit of work reads its school's."""
from __future__ import annotations

from functools import lru_cache

from workflows.core.policy.model import Policy
from workflows.core.policy.reading import parse_policy


@lru_cache(maxsize=256)
def parsed_policy(text: str, *, source: str) -> Policy:
    """parse_policy, remembered by the text (and the source its errors name): parsing is pure and
    a Policy is immutable, and every unit of work that reads its school's policy would otherwise
    parse the same TOML again. An edited policy is different text, so it is parsed anew."""
    return parse_policy(text, source=source)


def school_policy(school) -> Policy:
    """The policy a school row holds (its 補充規定 over the national rule)."""
    return parsed_policy(school.policy_toml, source=f"school {school.code}")
