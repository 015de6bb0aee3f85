"""How Polku stores a statement's data, where xAPI fixes the form (pure).

* A single Activity as a ``contextActivities`` value becomes an array holding it: the LRS returns
  context activities as arrays (2.0.0 Data 2.4.6.2, 1.0.3 Data 2.4.6.2 "An LRS returns a
  ContextActivity in an array, even if only a single ContextActivity is returned"); the same for a
  SubStatement's context.
* Under 2.0.x rules a ``timestamp`` with an offset other than UTC is converted to UTC ("Z"), with
  its fractional seconds kept as sent (2.0.0 Data 2.4.7: the LRS converts rather than rejects).
  1.0.x statements keep their timestamps as sent.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from schemas.timestamps import parse_timestamp, seconds_text
from schemas.versions import is_2

_FRACTION = re.compile(r"[Tt]\d{2}:\d{2}:\d{2}(\.\d+)")


def normalise(statement: dict[str, Any], version: str) -> dict[str, Any]:
    """A normalised copy of a valid statement sent under ``version``."""
    result = copy.deepcopy(statement)
    to_utc = is_2(version)
    for holder in (result, result.get("object")):
        if not isinstance(holder, dict):
            continue
        context = holder.get("context")
        if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
            context["contextActivities"] = {
                kind: value if isinstance(value, list) else [value]
                for kind, value in context["contextActivities"].items()
            }
        if to_utc and isinstance(holder.get("timestamp"), str):
            holder["timestamp"] = utc_timestamp(holder["timestamp"])
    return result


def utc_timestamp(value: str) -> str:
    """An RFC 3339 timestamp as the same instant in UTC ("...Z"); unchanged if already UTC."""
    if value.endswith(("Z", "z")):
        return value
    moment = parse_timestamp(value, "2.0")
    if moment is None:
        return value
    fraction = _FRACTION.search(value)
    return seconds_text(moment) + (fraction.group(1) if fraction else "") + "Z"
