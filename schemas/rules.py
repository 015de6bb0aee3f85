"""The statement rules a JSON Schema cannot say well, and the value formats the schema names.

Everything here is pure: plain Python values in, ``(path, message)`` pairs or booleans out.
:mod:`schemas.validation` runs the schema (``schemas/statement.json``) first and these rules after;
the rules are written defensively because they also see statements the schema rejected.

Spec references: "1.0.3 §x" is xAPI-Data.md of xAPI 1.0.3 (github.com/adlnet/xAPI-Spec, branch
1.0.3); "2.0 §x" is IEEE 9274.1.1 (xAPI 2.0), "xAPI Base Standard for LRSs".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from schemas.agents import IFIS

Issue = tuple[str, str]  # (path, message)


# --------------------------------------------------------------------------------------------
# Formats (the "format" keywords of schemas/statement.json)
# --------------------------------------------------------------------------------------------

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# RFC 3986 scheme, then anything but whitespace, controls and the ASCII characters no IRI may hold
# (RFC 3987 §2.2); '%' must start a percent-encoding. Best effort, as 1.0.3 §2.2 allows.
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[^\s\x00-\x1f\x7f<>\"{}|\\^`%]|%[0-9A-Fa-f]{2})+")
_MAILTO = re.compile(r"mailto:[^@\s<>\"]+@[^@\s<>\"]+")
_SHA1 = re.compile(r"[0-9a-fA-F]{40}")
_SHA2 = re.compile(r"[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128}")
_TOKEN = r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"  # RFC 2045 token
_MEDIA_TYPE = re.compile(rf'{_TOKEN}/{_TOKEN}(?:\s*;\s*{_TOKEN}=(?:{_TOKEN}|"(?:[^"\\]|\\.)*"))*\s*')

# RFC 5646 §2.1 ABNF, as a regular expression.
_ALNUM = "[A-Za-z0-9]"
_LANGTAG = (
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4}|[A-Za-z]{5,8})"  # language (+ extlang)
    r"(?:-[A-Za-z]{4})?"  # script
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"  # region
    rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"  # variants
    rf"(?:-[0-9A-WYZa-wyz](?:-{_ALNUM}{{2,8}})+)*"  # extensions
    rf"(?:-[xX](?:-{_ALNUM}{{1,8}})+)?"  # private use
)
_GRANDFATHERED = (
    "en-GB-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|i-tao|"
    "i-tay|i-tsu|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE|art-lojban|cel-gaulish|no-bok|no-nyn|zh-guoyu|"
    "zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
_LANGUAGE_TAG = re.compile(rf"{_LANGTAG}|[xX](?:-{_ALNUM}{{1,8}})+|(?i:{_GRANDFATHERED})")

# ISO 8601:2004 §4.4.3.2 durations (designator format), or weeks alone; §4.4.3.3 is not allowed.
_N = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"P(?=[\dT])(?:{_N}Y)?(?:{_N}M)?(?:{_N}D)?(?:T(?=\d)(?:{_N}H)?(?:{_N}M)?(?:{_N}S)?)?|P{_N}W", re.ASCII
)

_VERSION = {
    "1.0": re.compile(r"1\.0(?:\.\d+)?", re.ASCII),
    "2.0": re.compile(r"(?:1\.0|2\.0)(?:\.\d+)?", re.ASCII),
}


def is_uuid(value: str) -> bool:
    return bool(_UUID.fullmatch(value))


def is_iri(value: str) -> bool:
    return bool(_IRI.fullmatch(value))


def is_mailto_iri(value: str) -> bool:
    return bool(_MAILTO.fullmatch(value))


def is_sha1_hex(value: str) -> bool:
    return bool(_SHA1.fullmatch(value))


def is_sha2_hex(value: str) -> bool:
    return bool(_SHA2.fullmatch(value))


def is_media_type(value: str) -> bool:
    return bool(_MEDIA_TYPE.fullmatch(value))


def is_language_tag(value: str) -> bool:
    return bool(_LANGUAGE_TAG.fullmatch(value))


def is_duration(value: str) -> bool:
    return bool(_DURATION.fullmatch(value))


def is_version(value: str, rules: str) -> bool:
    """``rules`` is "1.0" or "2.0". 2.0 accepts 1.0.x statements too (2.0 §4.2.4.2: an LRS should
    not reject an otherwise valid statement for its version; the 2.0 conformance suite sends 1.0.9)."""
    return bool(_VERSION[rules].fullmatch(value))


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------

_INTERACTION_TYPES = {
    "true-false", "choice", "fill-in", "long-fill-in", "matching",
    "performance", "sequencing", "likert", "numeric", "other",
}
_COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
_LISTS_BY_TYPE = {  # 1.0.3 §2.4.4.1 "Interaction Components", 2.0 §4.2.2.3
    "choice": {"choices"},
    "sequencing": {"choices"},
    "likert": {"scale"},
    "matching": {"source", "target"},
    "performance": {"steps"},
}


def statement_issues(statement: Any, rules: str) -> list[Issue]:
    """Every rule violation in one statement (``rules`` is "1.0" or "2.0")."""
    if not isinstance(statement, dict):
        return []
    return list(_statement(statement, "", rules, sub=False))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _statement(s: dict, path: str, rules: str, sub: bool) -> Iterator[Issue]:
    if isinstance(actor := s.get("actor"), dict):
        yield from _actor(actor, _join(path, "actor"))
    obj = s.get("object")
    if isinstance(obj, dict):
        kind = obj.get("objectType", "Activity")
        if kind in ("Agent", "Group"):
            yield from _actor(obj, _join(path, "object"))
        elif kind == "SubStatement" and not sub:
            yield from _statement(obj, _join(path, "object"), rules, sub=True)
        elif kind == "Activity":
            yield from _activity(obj, _join(path, "object"))
    if isinstance(result := s.get("result"), dict) and isinstance(score := result.get("score"), dict):
        yield from _score(score, _join(path, "result.score"))
    if isinstance(context := s.get("context"), dict):
        object_is_activity = not isinstance(obj, dict) or obj.get("objectType", "Activity") == "Activity"
        yield from _context(context, _join(path, "context"), rules, object_is_activity)
    if not sub and isinstance(authority := s.get("authority"), dict):
        yield from _authority(authority, "authority")


def _actor(actor: dict, path: str) -> Iterator[Issue]:
    """1.0.3 §2.4.2.1-2.4.2.3, 2.0 §4.2.2.1 and §4.2.4.2."""
    present = [key for key in IFIS if key in actor]
    if actor.get("objectType") == "Group":
        members = actor.get("member")
        if len(present) > 1:
            yield path, (
                "an identified Group must have exactly one inverse functional identifier, "
                f"not {len(present)} ({', '.join(present)})"
            )
        elif not present and members is None:
            yield _join(path, "member"), (
                "is required in an anonymous Group (a Group without mbox, mbox_sha1sum, openid or account)"
            )
        if isinstance(members, list):
            for i, member in enumerate(members):
                if isinstance(member, dict) and member.get("objectType", "Agent") == "Agent":
                    yield from _actor(member, f"{path}.member[{i}]")
    elif len(present) != 1:
        found = f"not {len(present)} ({', '.join(present)})" if present else "found none"
        yield path, (
            "an Agent must have exactly one inverse functional identifier "
            f"(mbox, mbox_sha1sum, openid or account); {found}"
        )


def _authority(authority: dict, path: str) -> Iterator[Issue]:
    """1.0.3 §2.4.9: an Agent, or (OAuth) an anonymous Group of exactly two Agents."""
    if authority.get("objectType") != "Group":
        yield from _actor(authority, path)
        return
    if any(key in authority for key in IFIS):
        yield path, (
            "a Group authority must be an anonymous Group (the OAuth consumer and the user), not an identified Group"
        )
    members = authority.get("member")
    if not isinstance(members, list) or len(members) != 2:
        yield _join(path, "member"), "a Group authority must have exactly two members (the OAuth consumer and the user)"
    if isinstance(members, list):
        for i, member in enumerate(members):
            if isinstance(member, dict) and member.get("objectType", "Agent") == "Agent":
                yield from _actor(member, f"{path}.member[{i}]")


def _activity(activity: dict, path: str) -> Iterator[Issue]:
    """Interaction Activities: 1.0.3 §2.4.4.1, 2.0 §4.2.2.3."""
    definition = activity.get("definition")
    if not isinstance(definition, dict):
        return
    path = _join(path, "definition")
    kind = definition.get("interactionType")
    # Without a known interactionType the schema already complains; don't pile on.
    known = isinstance(kind, str) and kind in _INTERACTION_TYPES
    allowed = _LISTS_BY_TYPE.get(kind, set()) if known else set(_COMPONENT_LISTS)
    for name in _COMPONENT_LISTS:
        components = definition.get(name)
        if components is None:
            continue
        if name not in allowed:
            fits = sorted(t for t, lists in _LISTS_BY_TYPE.items() if name in lists)
            yield _join(path, name), f"is not used with interactionType {kind!r} (only with {' or '.join(fits)})"
        if isinstance(components, list):
            seen: dict[str, int] = {}
            for i, component in enumerate(components):
                cid = component.get("id") if isinstance(component, dict) else None
                if isinstance(cid, str):
                    if cid in seen:
                        where, first = f"{path}.{name}[{i}].id", f"{name}[{seen[cid]}]"
                        yield where, f"duplicates the id of {first}; component ids must be distinct"
                    seen.setdefault(cid, i)


def _score(score: dict, path: str) -> Iterator[Issue]:
    """1.0.3 §2.4.5.1, 2.0 §4.2.2.4: min < max, min <= raw <= max."""

    def number(key: str) -> float | None:
        value = score.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    raw, low, high = number("raw"), number("min"), number("max")
    if low is not None and high is not None and low >= high:
        yield _join(path, "min"), f"must be less than max ({high})"
    if raw is not None and low is not None and raw < low:
        yield _join(path, "raw"), f"must not be less than min ({low})"
    if raw is not None and high is not None and raw > high:
        yield _join(path, "raw"), f"must not be greater than max ({high})"


def _context(context: dict, path: str, rules: str, object_is_activity: bool) -> Iterator[Issue]:
    """1.0.3 §2.4.6 and 2.0 §4.2.2.5."""
    for key in ("revision", "platform"):
        if key in context and not object_is_activity:
            yield _join(path, key), "is only allowed when the statement's object is an Activity"
    for key in ("contextAgents", "contextGroups"):
        if key in context and rules == "1.0":
            yield _join(path, key), "is not allowed in xAPI 1.0.x (it was added in 2.0.0)"
    if isinstance(instructor := context.get("instructor"), dict):
        yield from _actor(instructor, _join(path, "instructor"))
    if isinstance(team := context.get("team"), dict) and team.get("objectType") == "Group":
        yield from _actor(team, _join(path, "team"))
    for key, inner in (("contextAgents", "agent"), ("contextGroups", "group")):
        entries = context.get(key)
        if isinstance(entries, list):
            for i, entry in enumerate(entries):
                if isinstance(entry, dict) and isinstance(who := entry.get(inner), dict):
                    if inner == "agent" or who.get("objectType") == "Group":
                        yield from _actor(who, f"{path}.{key}[{i}].{inner}")
    if isinstance(activities := context.get("contextActivities"), dict):
        for kind, value in activities.items():
            items = value if isinstance(value, list) else [value]
            for i, activity in enumerate(items):
                if isinstance(activity, dict):
                    where = f"{path}.contextActivities.{kind}" + (f"[{i}]" if isinstance(value, list) else "")
                    yield from _activity(activity, where)


def duplicate_ids(statements: list[Any]) -> list[Issue]:
    """Two statements in one batch with the same id (1.0.3 Communication §2.1.2; a SHALL in 2.0
    §4.1.6.1). UUIDs compare case-insensitively."""
    seen: dict[str, int] = {}
    issues = []
    for i, statement in enumerate(statements):
        sid = statement.get("id") if isinstance(statement, dict) else None
        if isinstance(sid, str):
            key = sid.lower()
            if key in seen:
                issues.append((f"[{i}].id", f"duplicates the id of statement [{seen[key]}] in the same batch"))
            seen.setdefault(key, i)
    return issues
