"""The one "which xAPI is this" of Polku: a version string (a statement's ``version``, the
``X-Experience-API-Version`` Polku speaks) to the rules it is held to."""

from __future__ import annotations


def rules_for(version: str) -> str:
    """"1.0" or "2.0": which rules a statement sent as ``version`` is held to."""
    for rules in ("1.0", "2.0"):
        if version == rules or version.startswith(rules + "."):
            return rules
    raise ValueError(f"unsupported xAPI version {version!r}; expected 1.0.x or 2.0.x")


def is_2(version: str) -> bool:
    """Whether ``version`` is a 2.0.x version (and so under the 2.0 rules)."""
    return rules_for(version) == "2.0"
