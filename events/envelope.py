"""The event envelope and its codec.

An event is what the log stores: a ``type`` naming what happened, a ``key`` that decides
ordering (events with one key stay in order), and a JSON ``data`` payload. The codec turns an
event into bytes and back; every log implementation stores exactly these bytes, so a consumer
reading the Kafka topic directly sees the same JSON document as the embedded log holds.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

from schemas.timestamps import seconds_text


def utc_iso(moment: datetime | None = None) -> str:
    """``moment`` (default now) as fixed-width UTC text that sorts as time does:
    ``2026-02-03T09:15:00.000000Z``. Every stored time (``recorded``, ``stored``, document
    ``updated``) and every bound compared with one is written by this function alone."""
    moment = datetime.now(timezone.utc) if moment is None else moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return f"{seconds_text(moment)}.{moment.microsecond:06d}Z"


@dataclass(frozen=True)
class Event:
    """One fact on the log."""

    type: str
    key: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    recorded: str = field(default_factory=utc_iso)


@dataclass(frozen=True)
class Record:
    """An event as read back from the log, with where it sits."""

    partition: int
    offset: int
    event: Event


def encode(event: Event) -> bytes:
    """Serialise an event to compact UTF-8 JSON."""
    body = {"id": event.id, "type": event.type, "key": event.key, "recorded": event.recorded, "data": event.data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


#: The type of an event read back from a record that is not a Polku envelope (a stranger wrote to
#: the topic, or the bytes are damaged): it carries why, and projections set it aside.
UNDECODABLE = "polku.undecodable"


def decode(raw: bytes | str) -> Event:
    """Parse bytes produced by :func:`encode`. Anything else becomes an :data:`UNDECODABLE` event
    saying why, so that a reader never fails on one record."""
    try:
        body = loads(raw) if isinstance(raw, (bytes, bytearray)) else json.loads(raw)
        event = Event(type=body["type"], key=body["key"], data=body["data"], id=body["id"], recorded=body["recorded"])
        if not (isinstance(event.type, str) and isinstance(event.key, str) and isinstance(event.data, dict)):
            raise TypeError("type, key and data must be a string, a string and an object")
        return event
    except (ValueError, KeyError, TypeError) as exc:
        size = len(raw) if raw is not None else 0
        why = f"{type(exc).__name__}: {str(exc)[:200]}"
        return Event(type=UNDECODABLE, key="", data={"error": f"not a Polku event ({why}); {size} bytes"}, id="", recorded="")


#: Every digit as "0", everything else as "x": a run of 19 "0"s in the translated text may be an
#: integer beyond 64 bits, which orjson would read as a float (translate and ``in`` are much
#: faster than a regular expression).
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_DIGITS = b"0" * 19


def loads(raw: bytes | bytearray) -> Any:
    """``json.loads(raw)``, faster: orjson parses what it reads to the same values; what it refuses
    (``NaN``, lone surrogates, not UTF-8) and text that may hold an integer beyond 64 bits go to
    ``json``, which gives its own value or error as before."""
    if _LONG_DIGITS not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def copy(value: Any) -> Any:
    """``json.loads(json.dumps(value))`` -- a deep copy as plain JSON values -- faster: through
    orjson, unless ``value`` is not plain JSON to it (keys that are not strings, integers beyond
    64 bits) or its text holds a ``null``, which may have been a NaN or an infinity that orjson
    writes as null and json keeps."""
    try:
        text = orjson.dumps(value)
    except TypeError:
        return json.loads(json.dumps(value))
    if b"null" in text:
        return json.loads(json.dumps(value))
    return loads(text)
