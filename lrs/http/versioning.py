"""The ``X-Experience-API-Version`` header (xAPI 2.0.0 Communication 3.3; 1.0.3 Part Three 6.2).

Every xAPI request names the version it speaks; Polku answers 1.0.x clients as 1.0.3 and
2.0.x clients as 2.0.0, and sets the header on every response.
"""

from __future__ import annotations

import re

from lrs.errors import BadRequest

HEADER = "X-Experience-API-Version"
_VERSION = re.compile(r"^(1\.0|2\.0)(\.\d+)?$")


def negotiate(value: str | None) -> str:
    """The version Polku speaks to a client that sent ``value``."""
    if value is None or not value.strip():
        raise BadRequest(f"the {HEADER} header is required")
    match = _VERSION.match(value.strip())
    if not match:
        raise BadRequest(f"{HEADER}: unsupported version {value.strip()[:20]!r}; use 2.0.0 or 1.0.3")
    return "2.0.0" if match.group(1) == "2.0" else "1.0.3"


