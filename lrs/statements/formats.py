"""The ``format`` parameter of GET /statements (xAPI 2.0.0 Communication 2.1.3).

* ``exact``: as stored.
* ``ids``: Agents and Groups reduced to their identifier and objectType (anonymous Groups keep
  their members, reduced likewise), Activities and Verbs to their ``id`` alone.
* ``canonical``: every language map reduced to the one language the client prefers
  (``Accept-Language``), falling back to the first one present.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from schemas.agents import IFIS

FORMATS = ("exact", "ids", "canonical")


def apply(statement: dict[str, Any], fmt: str, languages: Iterable[str] = ()) -> dict[str, Any]:
    if fmt == "exact":
        return statement
    if fmt == "ids":
        return _ids_statement(statement)
    return _canonical(copy.deepcopy(statement), list(languages))


def _ids_actor(actor: Any) -> Any:
    if not isinstance(actor, dict):
        return actor
    reduced = {k: actor[k] for k in IFIS if k in actor}
    if "objectType" in actor:
        reduced["objectType"] = actor["objectType"]
    if actor.get("objectType") == "Group" and not any(k in actor for k in IFIS):
        reduced["member"] = [_ids_actor(m) for m in actor.get("member") or []]
    return reduced


def _ids_object(obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj.get("objectType", "Activity")
    if kind in ("Agent", "Group"):
        return _ids_actor(obj)
    if kind == "SubStatement":
        return _ids_statement(obj)
    if kind == "Activity":
        return {"id": obj["id"]}
    return dict(obj)


def _ids_statement(statement: dict[str, Any]) -> dict[str, Any]:
    result = dict(statement)
    result["actor"] = _ids_actor(statement["actor"])
    result["verb"] = {"id": statement["verb"]["id"]}
    result["object"] = _ids_object(statement["object"])
    if "authority" in statement:
        result["authority"] = _ids_actor(statement["authority"])
    context = statement.get("context")
    if isinstance(context, dict):
        context = dict(context)
        for role in ("instructor", "team"):
            if role in context:
                context[role] = _ids_actor(context[role])
        if "contextActivities" in context:
            context["contextActivities"] = {
                kind: [{"id": a["id"]} for a in (acts if isinstance(acts, list) else [acts])]
                for kind, acts in context["contextActivities"].items()
            }
        if "contextAgents" in context:
            context["contextAgents"] = [dict(e, agent=_ids_actor(e.get("agent"))) for e in context["contextAgents"]]
        if "contextGroups" in context:
            context["contextGroups"] = [dict(e, group=_ids_actor(e.get("group"))) for e in context["contextGroups"]]
        result["context"] = context
    return result


_LANGUAGE_MAPS = {"display", "name", "description"}


def _pick(language_map: dict[str, str], languages: list[str]) -> dict[str, str]:
    if not language_map:
        return language_map
    lowered = {k.lower(): k for k in language_map}
    for wanted in languages:
        wanted = wanted.lower()
        if wanted in lowered:
            key = lowered[wanted]
            return {key: language_map[key]}
        for low, key in lowered.items():
            if low.split("-")[0] == wanted.split("-")[0]:
                return {key: language_map[key]}
    key = next(iter(language_map))
    return {key: language_map[key]}


def _canonical(value: Any, languages: list[str]) -> Any:
    if isinstance(value, list):
        return [_canonical(v, languages) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key in _LANGUAGE_MAPS and isinstance(item, dict) and all(isinstance(v, str) for v in item.values()):
            out[key] = _pick(item, languages)
        elif key == "extensions":
            out[key] = item
        else:
            out[key] = _canonical(item, languages)
    return out


def accepted_languages(header: str | None) -> list[str]:
    """Languages from an Accept-Language header, most preferred first."""
    if not header:
        return []
    ranked = []
    for index, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in pieces[1:]:
            name, _, val = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(val)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]
