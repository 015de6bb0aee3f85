"""Statement fingerprints, for the immutability check: the same id with the same content is a
no-op, with different content a 409 Conflict (docs/design.md, invariant 4).

``fingerprint(statement)`` is the sha256 hex digest of a canonical form of the statement in which
everything the xAPI comparison rules say to ignore is left out or normalised. Two statements are
"the same" for xAPI exactly when their fingerprints are equal. The fingerprint does not depend on
the version a statement was sent with, so one stored under 1.0.3 compares with one re-sent under
2.0.0.

Sources: 1.0.3 xAPI-Data.md §2.3.1 "Statement Immutability" and its "Statement Comparison
Requirements" (differences that could come from the listed exceptions MUST be ignored, all others
MUST NOT); 2.0 (IEEE 9274.1.1, Base Standard for LRSs) §4.2 "Statement Immutability" and §4.2.7.

Left out (not part of the immutable statement):

- ``id``, ``authority``, ``stored``, ``timestamp``, ``version`` of the statement: properties the
  LRS may assign (1.0.3 §2.3.1 first bullet; 2.0 §4.2 "Id, Authority, Stored, Timestamp, Version").
- ``attachments``, of the statement and of a SubStatement (1.0.3 §2.3.1 "Attachments"; 2.0 §4.2
  "Any attachments").
- ``verb.display`` (1.0.3 §2.3.1 "Verbs referenced by a Statement"; 2.0 §4.2 "Verb (except for
  display)").
- every Activity's ``definition`` — the object's, a SubStatement object's, and those in
  ``contextActivities`` (1.0.3 §2.3.1 "Activity Definitions referenced by a Statement"; 2.0 §4.2
  "Any referenced Activity Definitions").

Normalised (same meaning, possibly different serialisation):

- JSON key order and whitespace: the canonical form is serialised with sorted keys (1.0.3 §2.2 "A
  Statement MAY use its properties in any order").
- the members of a Group are an unordered list, so they are sorted (1.0.3 §2.3.1 "Serialization of
  un-ordered lists"; 2.0 §4.2 "Order of any Group Members").
- a single Activity in a contextActivities value is the same as an array holding it; the LRS returns
  the array form (1.0.3 §2.4.6.2; 2.0 §4.2.4.2).
- an omitted ``objectType`` is the default one: "Activity" for a statement's object and context
  activities, "Agent" for actors, members and instructors (1.0.3 §2.4.4, §2.4.2.1), since an LRS may
  return it filled in.
- a SubStatement's ``timestamp`` is compared as the point in time it names, in UTC, to the
  millisecond (1.0.3 §2.3.1 "Serialization of Timestamp data", §4.5 "MAY be truncated ... to at
  least 3 decimal digits"). (The statement's own timestamp is left out, above.)
- ``result.duration`` is compared as a string, except that seconds beyond 0.01 s precision are
  truncated (1.0.3 §2.3.1 "Result Duration" and §4.6; 2.0 §4.2.7 "Duration").
- numbers: 1 and 1.0 are the same JSON number.
- case, where the value's own definition makes it case-insensitive (1.0.3 §2.3.1 "Case
  sensitivity"): UUIDs (``object.id`` of a StatementRef, ``context.registration``,
  ``context.statement.id``), the hex ``mbox_sha1sum``, the domain of an ``mbox`` (1.0.3 §2.4.2.3),
  the scheme and host of IRIs — verb and activity ids, ``openid``, ``account.homePage``, extension
  keys, ``relevantTypes`` — together with the hex digits of their percent-encodings (RFC 3987
  §5.3.2.1, the only normalisation 1.0.3 §3.1 and 2.0 §4.2.7 allow besides simple string
  comparison), and ``context.language`` (RFC 5646 tags are case-insensitive).

Deliberately *not* normalised: the case of free text and other case-sensitive values (names,
``result.response``, ``account.name``, extension values). 2.0 §4.2 lists "Case (upper vs. lower)"
among the things an LRS shall not consider for equivalence, while 1.0.3 says only case-insensitive
properties are exempt. The fingerprint must be the same for both versions, and between "a changed
statement answered 409" and "a changed statement silently dropped as a duplicate", Polku picks the
loud one.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from schemas.timestamps import parse_timestamp, seconds_text

_LRS_ASSIGNED = ("id", "authority", "stored", "timestamp", "version")
_IRI_PARTS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):(?://(?P<authority>[^/?#]*))?(?P<rest>.*)", re.S)
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_SECONDS = re.compile(r"(\d+)[.,](\d+)S$")


def fingerprint(statement: dict[str, Any]) -> str:
    """The sha256 hex digest of the statement's comparable content (see the module docstring)."""
    canonical = json.dumps(comparable(statement), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def comparable(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement as compared: ignored properties left out, the rest normalised."""
    return _statement(statement, top_level=True)


def _statement(s: dict[str, Any], top_level: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in s.items():
        if key == "attachments" or (top_level and key in _LRS_ASSIGNED):
            continue
        if key == "actor":
            out[key] = _actor(value)
        elif key == "verb":
            out[key] = _verb(value)
        elif key == "object":
            out[key] = _object(value)
        elif key == "result":
            out[key] = _result(value)
        elif key == "context":
            out[key] = _context(value)
        elif key == "timestamp":
            out[key] = _timestamp(value)
        else:
            out[key] = _plain(value)
    return out


def _verb(verb: Any) -> Any:
    if not isinstance(verb, dict):
        return verb
    return {k: _iri(v) if k == "id" else _plain(v) for k, v in verb.items() if k != "display"}


def _actor(actor: Any, default: str = "Agent") -> Any:
    if not isinstance(actor, dict):
        return actor
    out = {"objectType": default}
    for key, value in actor.items():
        if key == "mbox":
            out[key] = _mbox(value)
        elif key == "mbox_sha1sum":
            out[key] = value.lower() if isinstance(value, str) else value
        elif key == "openid":
            out[key] = _iri(value)
        elif key == "account" and isinstance(value, dict):
            out[key] = {k: _iri(v) if k == "homePage" else _plain(v) for k, v in value.items()}
        elif key == "member" and isinstance(value, list):
            members = [_actor(member) for member in value]
            out[key] = sorted(members, key=lambda m: json.dumps(m, sort_keys=True, ensure_ascii=False))
        else:
            out[key] = _plain(value)
    return out


def _object(obj: Any) -> Any:
    if not isinstance(obj, dict):
        return obj
    kind = obj.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        return _actor(obj)
    if kind == "StatementRef":
        return _statement_ref(obj)
    if kind == "SubStatement":
        return _statement(obj, top_level=False)
    return _activity(obj)


def _activity(activity: Any) -> Any:
    if not isinstance(activity, dict):
        return activity
    out = {"objectType": "Activity"}
    out.update({k: _iri(v) if k == "id" else _plain(v) for k, v in activity.items() if k != "definition"})
    return out


def _statement_ref(ref: Any) -> Any:
    if not isinstance(ref, dict):
        return ref
    return {k: _lower(v) if k == "id" else _plain(v) for k, v in ref.items()}


def _context(context: Any) -> Any:
    if not isinstance(context, dict):
        return context
    out: dict[str, Any] = {}
    for key, value in context.items():
        if key in ("registration", "language"):
            out[key] = _lower(value)
        elif key in ("instructor", "team"):
            out[key] = _actor(value)
        elif key == "statement":
            out[key] = _statement_ref(value)
        elif key == "contextActivities" and isinstance(value, dict):
            out[key] = {
                kind: [_activity(a) for a in (activities if isinstance(activities, list) else [activities])]
                for kind, activities in value.items()
            }
        elif key in ("contextAgents", "contextGroups") and isinstance(value, list):
            out[key] = [_context_agent(entry) for entry in value]
        elif key == "extensions":
            out[key] = _extensions(value)
        else:
            out[key] = _plain(value)
    return out


def _context_agent(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    out = {}
    for key, value in entry.items():
        if key == "agent":
            out[key] = _actor(value)
        elif key == "group":
            out[key] = _actor(value, default="Group")
        elif key == "relevantTypes" and isinstance(value, list):
            out[key] = [_iri(iri) for iri in value]
        else:
            out[key] = _plain(value)
    return out


def _result(result: Any) -> Any:
    if not isinstance(result, dict):
        return result
    out: dict[str, Any] = {}
    for key, value in result.items():
        if key == "duration" and isinstance(value, str):
            out[key] = _SECONDS.sub(lambda m: f"{m[1]}.{m[2][:2]}S", value)
        elif key == "extensions":
            out[key] = _extensions(value)
        else:
            out[key] = _plain(value)
    return out


def _extensions(extensions: Any) -> Any:
    if not isinstance(extensions, dict):
        return extensions
    return {_iri(key): _plain(value) for key, value in extensions.items()}


def _timestamp(value: Any) -> Any:
    moment = parse_timestamp(value, "1.0") if isinstance(value, str) else None
    if moment is None:
        return value
    return f"{seconds_text(moment)}.{moment.microsecond // 1000:03d}Z"


def _mbox(value: Any) -> Any:
    """mailto:Local@Example.COM -> mailto:Local@example.com (the domain is case-insensitive)."""
    if not isinstance(value, str) or ":" not in value:
        return value
    scheme, address = value.split(":", 1)
    local, at, domain = address.rpartition("@")
    return f"{scheme.lower()}:{local}{at}{domain.lower()}" if at else f"{scheme.lower()}:{address}"


def _iri(value: Any) -> Any:
    """RFC 3987 §5.3.2.1 case normalisation: lower-case scheme and host, upper-case %XX."""
    if not isinstance(value, str) or not (match := _IRI_PARTS.fullmatch(value)):
        return value
    out = match["scheme"].lower() + ":"
    if match["authority"] is not None:
        userinfo, at, hostport = match["authority"].rpartition("@")
        out += "//" + userinfo + at + hostport.lower()
    out += match["rest"]
    return _PERCENT.sub(lambda m: m[0].upper(), out)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _plain(value: Any) -> Any:
    """JSON as is, except that integral floats become ints (1.0 and 1 are one JSON number)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
