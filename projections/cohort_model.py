"""The cohort views' vocabulary and the pure rules they rest on: identity, time, and what one
statement contributes (its *fact*). No SQL here; :mod:`projections.cohorts` stores the facts.

Identity: a statement's actor is reduced to one canonical key (:func:`schemas.agents.person_key`); a cohort
member, an Agent object that may list several identifiers, to a set of keys
(:func:`member_keys_of`); they match when the actor's key is in the member's set. ``mbox`` is
canonicalised to the SHA-1 of the mailto IRI, so ``mbox`` and ``mbox_sha1sum`` of one address
match each other.

Time: the statement's ``timestamp`` (the LRS sets it to ``stored`` when the client sent none),
in UTC; its UTC date and ISO week are what the views group by. A statement that arrives late
still lands on the day it happened.

The vocabulary is also published as an xAPI Profile: ``schemas/cohort_profile.json``.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any, Iterator

from events import utc_iso
from projections.statements import VOIDED_VERB
from schemas.agents import person_key
from schemas.timestamps import instant

ADL = "http://adlnet.gov/expapi/verbs/"
#: A statement with one of these verbs on an item completes it (so does ``result.completion``).
COMPLETION_VERBS = frozenset(ADL + v for v in ("completed", "passed", "attended"))
#: Statements with these verbs are contributions (engagement view).
CONTRIBUTION_VERBS = frozenset(ADL + v for v in ("commented", "shared", "answered", "responded", "asked"))

KINDS = (
    "coaching-day", "assignment", "group-work", "discussion", "material",
    "poll", "self-assessment", "assessment", "survey",
)
MEASURES = ("pre", "post")


# ---- identity ------------------------------------------------------------------------------

def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def member_keys_of(agent: dict[str, Any]) -> set[str]:
    """Every key a statement's actor may have and still be this member (any identifier matches).

    A member's ``mbox`` yields the SHA-1 of the lower-cased address (what :func:`schemas.agents.person_key`
    gives an ``mbox`` actor) and of the address as written (what a tool may have hashed into an
    ``mbox_sha1sum``).
    """
    keys: set[str] = set()
    mbox = agent.get("mbox")
    if isinstance(mbox, str) and mbox:
        keys.add(person_key({"mbox": mbox.strip()}) or "")
        keys.add("sha1:" + _sha1(mbox.strip()))
    for name in ("mbox_sha1sum", "openid", "account"):
        if agent.get(name):
            key = person_key({name: agent[name]})
            if key:
                keys.add(key)
    return keys


# ---- time ----------------------------------------------------------------------------------



def iso_week(day: date) -> str:
    """``2026-W05``: the ISO 8601 week (Monday to Sunday) a date falls in."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# ---- facts ---------------------------------------------------------------------------------

def _activities(value: Any) -> Iterator[str]:
    for activity in value if isinstance(value, list) else [value]:
        if isinstance(activity, dict) and isinstance(activity.get("id"), str):
            yield activity["id"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def fact_of(statement: dict[str, Any]) -> tuple[dict[str, Any], set[tuple[str, str]]] | None:
    """(fact row, {(relation, activity)} of its grouping/parent activities), or None for a
    voiding statement, which never counts itself."""
    verb = statement["verb"]["id"]
    if verb == VOIDED_VERB:
        return None
    try:
        moment = instant(statement.get("timestamp") or statement["stored"])
    except (ValueError, TypeError):
        moment = instant(statement["stored"])
    obj = statement.get("object") or {}
    object_id = obj.get("id") if obj.get("objectType", "Activity") == "Activity" else None
    result = statement.get("result") or {}
    score = result.get("score") or {}
    context = (statement.get("context") or {}).get("contextActivities") or {}
    related = {(relation, iri) for relation in ("grouping", "parent") for iri in _activities(context.get(relation))}
    row = {
        "statement_id": statement["id"].lower(),
        "actor": person_key(statement.get("actor")),
        "stored": statement["stored"],
        "object_id": object_id if isinstance(object_id, str) else None,
        "at": utc_iso(moment),
        "day": moment.date().isoformat(),
        "week": iso_week(moment.date()),
        "completes": verb in COMPLETION_VERBS or result.get("completion") is True,
        "contributes": verb in CONTRIBUTION_VERBS,
        "success": result["success"] if isinstance(result.get("success"), bool) else None,
        "scaled": _number(score.get("scaled")) if isinstance(score, dict) else None,
    }
    return row, related
