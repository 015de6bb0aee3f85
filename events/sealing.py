"""Sealing the personal parts of events, and opening them again (crypto-shredding).

A sealed event keeps in clear what is not personal: a statement's id, verb, Activity object and
context activities, timestamps, authority, and the shape of its agents (a stub ``{"objectType":
"Agent"}`` where each Agent or Group was). The personal parts (schemas/personal.py) go into
``data["sealed"]``: one part per person, encrypted with AES-GCM under that person's data key
(events/keyring.py)::

    {"ref": "<keyed hash of the person>", "kid": "<their key>", "paths": [["actor"], ["result"]],
     "n": "<nonce, base64>", "c": "<ciphertext of the values at those paths, base64>"}

An Agent or Group is sealed with the key of the person it identifies (a person named in another
person's statement is theirs to erase); the actor's results and words, and the statement's
fingerprint, with the actor's. An anonymous Group (no identifier) goes with the actor's part.
The associated data binds each part to its event (a statement's id, a cohort's key), so a part
cannot be moved into another event.

Opening puts every readable part back, exactly as it was. An unreadable part -- its key deleted,
or retired by an erasure (a retired key still opens the erasure event itself) -- leaves the
anonymous agent where an Agent or Group stood; a statement whose actor is unreadable becomes a
``statement.shredded`` event carrying only the clear skeleton (projections keep what is not
personal: an activity's definition, a voiding's target); a cohort member who is unreadable is
left out of the cohort. :class:`Opener` opens a batch of records with one key lookup. Events
written without sealing (before keys were configured) pass through unchanged.

Integrators who consume the topic directly open events with the same :func:`open_event`, given
the keys they are authorised to read (see docs/personal-data.md).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace
from typing import Any, Callable, Iterable, Mapping, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events import envelope
from events.envelope import UNDECODABLE, Event, Record
from schemas.agents import person_key
from schemas.personal import FREE_TEXT_PATHS, Path, agent_slots, anonymise, anonymous, get, put

#: The most people (distinct Agents and Groups) one statement may name: each is sealed as a part of
#: its own, and its key looked up, so the cost of a statement is bounded before it is accepted.
MAX_PEOPLE_PER_STATEMENT = 500
#: What one sealed part adds to an event besides its values (ref, kid, nonce, paths, tag, base64).
PART_OVERHEAD_BYTES = 320

STATEMENT_STORED = "statement.stored"
STATEMENT_SHREDDED = "statement.shredded"
COHORT_DEFINED = "cohort.defined"
AGENT_ERASED = "agent.erased"


class KeySource(Protocol):
    """What sealing and opening need of a keyring (events.keyring.Keyring is one)."""

    def ref(self, person: str) -> str: ...

    def current_keys(self, persons: Iterable[str]) -> Mapping[str, Any]: ...

    def keys(self, kids: Iterable[str]) -> Mapping[str, Any]: ...


# ---- sealing -------------------------------------------------------------------------------

def owner_of_anonymous_actor(actor: Any) -> str:
    """The person key that seals a statement whose actor is an anonymous Group: the group of its
    members (no one member's erasure removes the others' statement)."""
    members = sorted(filter(None, (person_key(m) for m in (actor or {}).get("member") or [])))
    return "group:" + json.dumps(members, separators=(",", ":"))


def statement_owners(statement: dict[str, Any]) -> tuple[str, list[tuple[Path, str]]]:
    """The statement's actor's person key, and (path, person key) of every Agent or Group."""
    actor = person_key(statement.get("actor")) or owner_of_anonymous_actor(statement.get("actor"))
    return actor, [(path, person_key(agent) or actor) for path, agent in agent_slots(statement)]


def persons_to_seal(statement: dict[str, Any]) -> set[str]:
    actor, slots = statement_owners(statement)
    return {actor} | {person for _, person in slots}


def seal_statement(
    statement: dict[str, Any],
    fingerprint: str,
    keys: Mapping[str, Any],
    owners: tuple[str, list[tuple[Path, str]]] | None = None,
) -> dict[str, Any]:
    """The data of a sealed ``statement.stored`` event; ``keys``: person key -> DataKey, for
    every person of :func:`persons_to_seal`; ``owners``: the statement's
    :func:`statement_owners`, if the caller has them already."""
    skeleton = envelope.copy(statement)
    actor, slots = owners if owners is not None else statement_owners(skeleton)
    parts: dict[str, list[tuple[Path, Any]]] = {actor: []}
    for path, person in slots:  # parents come before their members
        agent = get(skeleton, path)
        value = {k: v for k, v in agent.items() if k != "member"}
        stub: dict[str, Any] = {"objectType": agent.get("objectType", "Agent")}
        if "member" in agent:
            stub["member"] = agent["member"]
        put(skeleton, path, stub)
        parts.setdefault(person, []).append((path, value))
    for path in FREE_TEXT_PATHS:
        parent = get(skeleton, path[:-1])
        if isinstance(parent, dict) and path[-1] in parent:
            parts[actor].append((path, parent.pop(path[-1])))
    aad = _aad("statement", statement["id"])
    sealed = [_seal(keys[person], items, aad, {"fingerprint": fingerprint} if person == actor else None) for person, items in parts.items()]
    return {"statement": skeleton, "sealed": sealed}


def seal_members(data: dict[str, Any], keys: Mapping[str, Any]) -> dict[str, Any]:
    """A ``cohort.defined`` event's data with each member sealed with their own key."""
    members = data.get("members") or []
    sealed_data = dict(data, members=[{"objectType": "Agent"} for _ in members])
    parts: dict[str, list[tuple[Path, Any]]] = {}
    for i, member in enumerate(members):
        parts.setdefault(person_key(member) or "", []).append((("members", i), member))
    aad = _aad("cohort", str(data.get("key")))
    sealed_data["sealed"] = [_seal(keys[person], items, aad) for person, items in parts.items()]
    return sealed_data


def member_persons(data: dict[str, Any]) -> set[str]:
    return {person_key(m) or "" for m in data.get("members") or []}


def seal_identity(ref: str, identity: dict[str, Any], key: Any, kids: list[str]) -> dict[str, Any]:
    """An ``agent.erased`` event's data: the person's ref and keys in clear, who they are sealed
    with their own (retired) key -- readable by projections until the key is deleted."""
    return {"ref": ref, "kids": kids, "sealed": [_seal(key, [(("identity",), identity)], _aad("erased", ref))]}


def _seal(key: Any, items: list[tuple[Path, Any]], aad: bytes, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    plain = {"v": [value for _, value in items], **(extra or {})}
    nonce = os.urandom(12)
    paths = [list(path) for path, _ in items]
    bound = _bound(aad, key.kid, paths)
    cipher = AESGCM(key.key).encrypt(nonce, json.dumps(plain, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), bound)
    return {
        "ref": key.ref,
        "kid": key.kid,
        "paths": paths,
        "n": base64.b64encode(nonce).decode("ascii"),
        "c": base64.b64encode(cipher).decode("ascii"),
    }


def _bound(aad: bytes, kid: Any, paths: Any) -> bytes:
    """The associated data of a part: its event, its key and its paths (a part cannot be moved to
    another event, nor its values to other places of the same one)."""
    return aad + b"|" + str(kid).encode("utf-8") + b"|" + json.dumps(paths, separators=(",", ":")).encode("utf-8")


def _aad(kind: str, name: str) -> bytes:
    return f"polku:{kind}:{name}".encode("utf-8")


# ---- opening -------------------------------------------------------------------------------

def kids_of(event: Event) -> set[str]:
    sealed = event.data.get("sealed") if isinstance(event.data, dict) else None
    return {part.get("kid") for part in sealed or [] if isinstance(part, dict) and isinstance(part.get("kid"), str)}


def open_event(event: Event, keys: Mapping[str, Any]) -> Event:
    """``event`` with its sealed parts opened with ``keys`` (kid -> DataKey; a kid missing or
    retired is unreadable, except a retired one for the erasure event). Unsealed events are
    returned as they are."""
    data = event.data
    if not isinstance(data, dict) or "sealed" not in data:
        return event
    if event.type == STATEMENT_STORED:
        return _open_statement(event, keys)
    if event.type == COHORT_DEFINED:
        return _open_members(event, keys)
    if event.type == AGENT_ERASED:
        opened = _open_parts(data, keys, _aad("erased", str(data.get("ref"))), allow_retired=True)
        identity = opened[0][1][0] if opened and opened[0] is not None else None
        return replace(event, data={"ref": data.get("ref"), "kids": data.get("kids", []), "identity": identity})
    return event


def _open_statement(event: Event, keys: Mapping[str, Any]) -> Event:
    data = event.data
    statement = envelope.copy(data["statement"])
    opened = _open_parts(data, keys, _aad("statement", str(statement.get("id"))))
    fingerprint = None
    actor_readable = True
    for part, result in zip(data["sealed"], opened):
        paths = [tuple(p) for p in part.get("paths") or []]
        if result is None:
            if ("actor",) in paths:
                actor_readable = False
            for path in sorted(paths, key=len):
                stub = get(statement, path)
                if isinstance(stub, dict):  # an Agent or Group: the anonymous one in its place
                    replacement = anonymous(stub.get("objectType", "Agent"))
                    if stub.get("member"):
                        replacement["member"] = stub["member"]
                    put(statement, path, replacement)
            continue
        extra, values = result
        fingerprint = extra.get("fingerprint", fingerprint)
        for path, value in sorted(zip(paths, values), key=lambda pv: len(pv[0])):
            stub = get(statement, path)
            if isinstance(stub, dict) and isinstance(value, dict) and "member" in stub:
                value = dict(value, member=stub["member"])
            put(statement, path, value)
    if not actor_readable:
        return replace(event, type=STATEMENT_SHREDDED, data={"statement": statement})
    return replace(event, data={"statement": statement, "fingerprint": fingerprint})


def _open_members(event: Event, keys: Mapping[str, Any]) -> Event:
    data = event.data
    members: list[Any] = list(data.get("members") or [])
    opened = _open_parts(data, keys, _aad("cohort", str(data.get("key"))))
    for part, result in zip(data["sealed"], opened):
        paths = [tuple(p) for p in part.get("paths") or []]
        values = result[1] if result is not None else [None] * len(paths)
        for path, value in zip(paths, values):
            members[path[1]] = value
    clear = {k: v for k, v in data.items() if k != "sealed"}
    return replace(event, data=dict(clear, members=[m for m in members if m is not None]))


def _open_parts(
    data: dict[str, Any], keys: Mapping[str, Any], aad: bytes, allow_retired: bool = False
) -> list[tuple[dict[str, Any], list[Any]] | None]:
    """Each sealed part of ``data`` as (extra fields, values), or None when it cannot be opened."""
    results: list[tuple[dict[str, Any], list[Any]] | None] = []
    for part in data.get("sealed") or []:
        key = keys.get(part.get("kid")) if isinstance(part, dict) else None
        if key is None or (key.retired and not allow_retired):
            results.append(None)
            continue
        try:
            bound = _bound(aad, part.get("kid"), part.get("paths"))
            plain = envelope.loads(AESGCM(key.key).decrypt(base64.b64decode(part["n"]), base64.b64decode(part["c"]), bound))
        except (InvalidTag, ValueError, KeyError, TypeError):
            results.append(None)
            continue
        values = plain.pop("v", [])
        results.append((plain, values))
    return results


class Opener:
    """Opens the records of a batch with one key lookup (the runner's step before projections).

    ``keys``: kid -> DataKey for the kids asked (events.keyring.Keyring.keys). With ``ref`` and
    ``erased`` (Keyring.ref, Keyring.erased_among), events written before sealing -- which name
    people in clear -- are opened as if sealed: an erased person's parts of them are unreadable
    too (:func:`open_clear_event`). An event that cannot be opened at all (damaged) becomes an
    undecodable one, which projections set aside: one record never stalls a projection."""

    def __init__(
        self,
        keys: Callable[[Iterable[str]], Mapping[str, Any]],
        ref: Callable[[str], str] | None = None,
        erased: Callable[[Iterable[str]], set[str]] | None = None,
    ) -> None:
        self._keys = keys
        self._ref = ref
        self._erased = erased

    def open(self, records: list[Record]) -> list[Record]:
        if not records:
            return records
        kids = set().union(*(kids_of(r.event) for r in records))
        keys = self._keys(kids) if kids else {}
        clear = [r for r in records if not kids_of(r.event) and r.event.type in (STATEMENT_STORED, COHORT_DEFINED)]
        erased: set[str] = set()
        if clear and self._ref is not None and self._erased is not None:
            persons = {p: self._ref(p) for r in clear for p in _clear_persons(r.event)}
            gone = self._erased(set(persons.values())) if persons else set()
            erased = {p for p, ref in persons.items() if ref in gone}
        return [replace(r, event=self._open_one(r.event, keys, erased)) for r in records]

    @staticmethod
    def _open_one(event: Event, keys: Mapping[str, Any], erased: set[str]) -> Event:
        try:
            if kids_of(event):
                return open_event(event, keys)
            return open_clear_event(event, erased) if erased else event
        except (LookupError, TypeError, ValueError, AttributeError) as exc:
            why = f"sealed parts that cannot be opened ({type(exc).__name__})"
            return replace(event, type=UNDECODABLE, data={"error": f"{event.type} event with {why}"})


def _clear_persons(event: Event) -> set[str]:
    """The person keys an event written before sealing names (statements: every Agent and Group and
    the actor; cohort definitions: every identifier of every member)."""
    data = event.data if isinstance(event.data, dict) else {}
    if event.type == STATEMENT_STORED and isinstance(data.get("statement"), dict):
        return persons_to_seal(data["statement"])
    if event.type == COHORT_DEFINED:
        return {p for member in data.get("members") or [] for p in _member_persons(member)}
    return set()


def _member_persons(member: Any) -> set[str]:
    if not isinstance(member, dict):
        return set()
    return {p for ifi in ("mbox", "mbox_sha1sum", "openid", "account") if ifi in member for p in [person_key({ifi: member[ifi]})] if p}


def open_clear_event(event: Event, erased: set[str]) -> Event:
    """An event written before sealing, as if its ``erased`` people's parts were sealed and gone:
    their statements ``statement.shredded`` (anonymised), them the anonymous agent elsewhere, their
    cohort memberships left out."""
    data = event.data
    if event.type == COHORT_DEFINED:
        members = [m for m in data.get("members") or [] if not (_member_persons(m) & erased)]
        return replace(event, data=dict(data, members=members))
    statement = data["statement"]
    actor, _ = statement_owners(statement)
    anonymised, changed = anonymise(statement, erased)
    if actor in erased:
        for path in FREE_TEXT_PATHS:
            parent = get(anonymised, path[:-1])
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
        return replace(event, type=STATEMENT_SHREDDED, data={"statement": anonymised})
    return replace(event, data=dict(data, statement=anonymised)) if changed else event
