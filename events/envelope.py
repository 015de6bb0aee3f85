"""The event envelope and its codec.

An event is what the log stores: a ``type`` naming what happened, a ``key`` that decides
ordering (events with one key stay in order), and a JSON ``data`` payload. The codec turns an
event into bytes and back; the Kafka topic carries exactly these bytes, so a consumer reading it
directly sees the JSON document. The embedded SQL log keeps them deflated (:func:`deflate`: about
half the bytes on disk); :func:`decode` reads either form, so the events it wrote before stay
readable.
"""

from __future__ import annotations

import json
import uuid
import zlib
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


#: The first byte of a deflated envelope (:func:`deflate`): "raw deflate, preset dictionary 1". An
#: envelope as :func:`encode` makes it starts with ``{``. Neither the byte nor the dictionary may
#: ever change meaning: events deflated with them stay on the log; another form takes another byte.
DEFLATED = b"\x01"
#: Strings most events share (envelope, xAPI and sealing keys, common IRIs), so that even a short
#: event deflates well; deflate finds the ones nearest the end most cheaply.
_DICTIONARY = (
    b'"mbox_sha1sum":"","openid":"","account":{"homePage":"","name":""},"member":[{"objectType":"Group",'
    b'"attachments":[{"usageType":"","contentType":"","length":,"sha2":"","fileUrl":"'
    b'"objectType":"StatementRef","objectType":"SubStatement","revision":"","statement":'
    b'"extensions":{"http://","https://","contextAgents":[{"relevantTypes":["contextGroups":[{'
    b'"result":{"score":{"scaled":,"raw":,"min":,"max":},"success":true,"completion":true,"response":"","duration":"PT'
    b'"context":{"registration":"","instructor":{"objectType":"Agent","team":{"contextActivities":{'
    b'"parent":[{"id":"","grouping":[{"id":"","category":[{"id":"","other":[{"id":"'
    b'"platform":"","language":"en-US","definition":{"name":{"en-US":"","description":{"en-US":"","type":"'
    b'http://adlnet.gov/expapi/activities/http://adlnet.gov/expapi/verbs/voided'
    b'http://adlnet.gov/expapi/verbs/completedhttp://adlnet.gov/expapi/verbs/experienced'
    b'{"id":"","type":"statement.stored","key":"","recorded":"","data":{"statement":{"id":"",'
    b'"actor":{"objectType":"Agent","name":"","mbox":"mailto:","verb":{"id":"http://adlnet.gov/expapi/verbs/",'
    b'"display":{"en-US":""}},"object":{"objectType":"Activity","id":"https://'
    b'"timestamp":"","stored":"","authority":{"objectType":"Agent","name":"","account":{"homePage":"https://",'
    b'"name":""}},"version":"2.0.0"},"fingerprint":"","sealed":[{"ref":"","kid":"","paths":[["actor"]],"n":"","c":"'
)


def deflate(encoded: bytes) -> bytes:
    """An envelope made by :func:`encode`, deflated for storage (:data:`DEFLATED`, then raw deflate
    with the preset dictionary); :func:`decode` takes it as it is."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -13, 6, zlib.Z_DEFAULT_STRATEGY, _DICTIONARY)  # small state: quick for small events
    return DEFLATED + packer.compress(encoded) + packer.flush()


#: More than any event or statement Polku writes (twice the largest request, and then some).
MAX_INFLATED_BYTES = 256 * 1024 * 1024


def inflate(raw: bytes) -> bytes:
    """The envelope bytes of ``raw``: inflated if :func:`deflate` made it, else ``raw`` itself.
    ``zlib.error`` if it is marked deflated but damaged."""
    if raw[:1] != DEFLATED:
        return raw
    unpacker = zlib.decompressobj(-15, _DICTIONARY)
    # bounded: a record made to inflate without end (on a topic anyone may write to) is refused
    inflated = unpacker.decompress(raw[1:], MAX_INFLATED_BYTES + 1)
    if len(inflated) > MAX_INFLATED_BYTES or unpacker.unconsumed_tail:
        raise zlib.error(f"inflates past {MAX_INFLATED_BYTES} bytes")
    return inflated + unpacker.flush()


#: The type of an event read back from a record that is not a Polku envelope (a stranger wrote to
#: the topic, or the bytes are damaged): it carries why, and projections set it aside.
UNDECODABLE = "polku.undecodable"


def decode(raw: bytes | str) -> Event:
    """Parse bytes produced by :func:`encode` (or :func:`deflate`). Anything else becomes an
    :data:`UNDECODABLE` event saying why, so that a reader never fails on one record."""
    try:
        body = json.loads(raw) if isinstance(raw, str) else loads(inflate(bytes(raw)))
        event = Event(type=body["type"], key=body["key"], data=body["data"], id=body["id"], recorded=body["recorded"])
        if not (isinstance(event.type, str) and isinstance(event.key, str) and isinstance(event.data, dict)):
            raise TypeError("type, key and data must be a string, a string and an object")
        return event
    except (ValueError, KeyError, TypeError, zlib.error) as exc:
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
