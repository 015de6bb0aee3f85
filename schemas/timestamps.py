"""The one timestamp parser of Polku (xAPI 2.0.0 Data 4.5 / 1.0.3 Data 4.5).

Statements, query parameters (``since``, ``until``), document ``since``, the cohort views and the
consistency watermark all read time through :func:`parse_timestamp`, so no two layers can disagree
on what instant a string names or whether it is one. Pure: strings in, aware UTC datetimes out.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# 2.0: RFC 3339 date-time. 1.0.x: ISO 8601 extended or basic format. Both with a time zone here.
_DATE = r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
_TIME = r"(?P<h>\d{2}):(?P<mi>\d{2})"
_FRACTION = r"(?P<f>[.,]\d+)"
_TIMESTAMPS = {
    "2.0": [
        re.compile(rf"{_DATE}[Tt]{_TIME}:(?P<s>\d{{2}})(?P<f>\.\d+)?(?P<z>[Zz]|[+-]\d{{2}}:\d{{2}})", re.ASCII),
    ],
    "1.0": [
        re.compile(
            rf"{_DATE}[Tt]{_TIME}(?::(?P<s>\d{{2}}){_FRACTION}?)?(?P<z>[Zz]|[+-]\d{{2}}(?::?\d{{2}})?)", re.ASCII
        ),
        re.compile(
            r"(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})[Tt](?P<h>\d{2})(?P<mi>\d{2})"
            rf"(?:(?P<s>\d{{2}}){_FRACTION}?)?(?P<z>[Zz]|[+-]\d{{2}}(?:\d{{2}})?)",
            re.ASCII,
        ),
    ],
}


def seconds_text(moment: datetime) -> str:
    """``moment`` to the second as ``YYYY-MM-DDTHH:MM:SS`` (no zone), the year always four digits:
    strftime's ``%Y`` writes the years before 1000 unpadded, which is no RFC 3339 and sorts wrong."""
    return f"{moment.year:04d}-{moment.strftime('%m-%dT%H:%M:%S')}"


def parse_timestamp(value: str, rules: str) -> datetime | None:
    """The UTC point in time ``value`` names, or None if it is not a timestamp under ``rules``.

    Both versions reject a negative zero offset ("-00:00", "-0000", "-00"): ISO 8601 forbids it and
    RFC 3339 uses it for "offset unknown" (the conformance suites of both versions send these and
    expect 400). Both require a time zone: RFC 3339 does (2.0), and although 1.0.3 §4.5 only says a
    timestamp SHOULD* include one, without it the point in time the statement names is unknown.
    """
    match = next((m for pattern in _TIMESTAMPS[rules] if (m := pattern.fullmatch(value))), None)
    if not match:
        return None
    zone, second = match["z"], int(match["s"] or 0)
    if zone[0] == "-" and set(zone[1:]) <= {"0", ":"}:
        return None
    try:
        moment = datetime(
            int(match["y"]), int(match["mo"]), int(match["d"]), int(match["h"]), int(match["mi"]),
            min(second, 59), tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    if second > 60:
        return None
    try:  # the instant must exist in UTC too: 9999-12-31T23:59:59-01:00 is in the year 10000
        if match["f"]:
            moment += timedelta(microseconds=int((match["f"][1:] + "000000")[:6]))
        if zone not in ("Z", "z"):
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            if offset >= timedelta(hours=24) or int(digits[2:4] or 0) > 59:
                return None
            moment -= offset if zone[0] == "+" else -offset
    except OverflowError:
        return None
    return moment


def parse_query_timestamp(value: str) -> datetime | None:
    """A timestamp in a query parameter (``since``, ``until``): as in a statement, except that one
    without a time zone, or a date alone, means UTC (what clients that send ``2026-01-31`` mean)."""
    for candidate in (value, value + "Z", value + "T00:00:00Z"):
        moment = parse_timestamp(candidate, "1.0")
        if moment is not None:
            return moment
    return None


def instant(value: str) -> datetime:
    """The UTC instant of a timestamp Polku has already accepted (a statement's ``timestamp`` or
    ``stored``); ``ValueError`` for anything else."""
    moment = parse_timestamp(value, "1.0")
    if moment is None:
        raise ValueError(f"not a timestamp: {value[:40]!r}")
    return moment
