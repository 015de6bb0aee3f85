"""Defining programmes and cohorts: the command side of the admin API and of ``polku cohorts import``.

A definition is validated (:mod:`lrs.shapes.api_schemas`), becomes a ``programme.defined`` or
``cohort.defined`` event on the log, and is answered once the cohort projection has applied it,
so a GET or a view right after the PUT sees it. The log is the source of truth for definitions
as for statements: ``polku projections rebuild cohorts`` replays them too. Events are keyed by
``programme:KEY`` / ``cohort:KEY``, so the redefinitions of one key stay in order on every log.

Deleting is an event too (``programme.deleted`` / ``cohort.deleted``, under the same keys), so a
rebuild honours it. The rules that read a projection: a cohort must name a programme that is
defined (404 otherwise); a programme followed by a cohort cannot be deleted (409, naming them);
deleting what is not defined is 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from events import Event
from lrs.shapes.api_schemas import KEY_RULE, CohortSchema, ProgrammeSchema, load, valid_key
from lrs.statements.commands import append_and_wait
from lrs.errors import BadRequest, Conflict, NotFound
from lrs.services import Services
from projections.cohort_views import Cohort, CohortViews, Programme
from projections.cohorts import COHORT_DEFINED, COHORT_DELETED, PROGRAMME_DEFINED, PROGRAMME_DELETED

PROJECTION = "cohorts"


def check_key(key: str, where: str = "key") -> None:
    if not valid_key(key):
        raise BadRequest(f"{where}: {KEY_RULE}")


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def programme_event(key: str, data: dict[str, Any]) -> Event:
    """The event for a validated programme body."""
    items = [
        {
            "activity": i["activity"],
            "title": i["title"],
            "kind": i["kind"],
            "required": i["required"],
            "due": _iso(i["due"]),
            "measure": i["measure"],
        }
        for i in data["items"]
    ]
    payload: dict[str, Any] = {"key": key, "name": data["name"], "items": items}
    if data.get("retentionDays") is not None:
        payload["retentionDays"] = data["retentionDays"]
    return Event(type=PROGRAMME_DEFINED, key=f"programme:{key}", data=payload)


def cohort_event(key: str, data: dict[str, Any]) -> Event:
    """The event for a validated cohort body."""
    payload = {
        "key": key,
        "name": data["name"],
        "programme": data["programme"],
        "iri": data["iri"],
        "starts": data["starts"].isoformat(),
        "ends": data["ends"].isoformat(),
        "members": data["members"],
    }
    return Event(type=COHORT_DEFINED, key=f"cohort:{key}", data=payload)


def define_programme(services: Services, key: str, body: Any) -> tuple[dict[str, Any], bool]:
    """Define (or redefine) programme ``key``; return the definition and whether it is new."""
    check_key(key)
    data = load(ProgrammeSchema(), body)
    new = CohortViews(services.engine).programme(key) is None
    event = programme_event(key, data)
    append_and_wait(services, [event], PROJECTION)
    return event.data, new


def define_cohort(services: Services, key: str, body: Any) -> tuple[dict[str, Any], bool]:
    """Define (or redefine) cohort ``key``; return the definition and whether it is new.

    404 when its programme is not defined."""
    check_key(key)
    data = load(CohortSchema(), body)
    views = CohortViews(services.engine)
    if views.programme(data["programme"]) is None:
        raise NotFound(f"programme: {data['programme']!r} is not defined; PUT /api/v1/programmes/{data['programme']} first")
    new = views.cohort(key) is None
    event = cohort_event(key, data)
    append_and_wait(services, [event], PROJECTION)
    return event.data, new


def delete_programme(services: Services, key: str) -> None:
    """Delete programme ``key``: 404 when it is not defined, 409 while a cohort follows it."""
    check_key(key)
    views = CohortViews(services.engine)
    if views.programme(key) is None:
        raise NotFound(f"no programme {key!r}")
    following = [c.key for c in views.cohorts() if c.programme == key]
    if following:
        shown = ", ".join(following[:10]) + (f" and {len(following) - 10} more" if len(following) > 10 else "")
        raise Conflict(f"programme {key!r} is followed by cohort(s) {shown}; delete them or move them to another programme first")
    append_and_wait(services, [Event(type=PROGRAMME_DELETED, key=f"programme:{key}", data={"key": key})], PROJECTION)


def delete_cohort(services: Services, key: str) -> None:
    """Delete cohort ``key`` (its views with it; the statements stay): 404 when it is not defined."""
    check_key(key)
    if CohortViews(services.engine).cohort(key) is None:
        raise NotFound(f"no cohort {key!r}")
    append_and_wait(services, [Event(type=COHORT_DELETED, key=f"cohort:{key}", data={"key": key})], PROJECTION)


# ---- import from a file --------------------------------------------------------------------

def _entries(document: dict[str, Any], section: str) -> list[tuple[str, Any]]:
    """``section`` as (key, body) pairs: a mapping of key to body, or a list of bodies with "key"."""
    value = document.get(section) or {}
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, list):
        pairs = []
        for i, body in enumerate(value):
            if not isinstance(body, dict) or not isinstance(body.get("key"), str):
                raise BadRequest(f"{section}[{i}].key: is required (a string)")
            pairs.append((body["key"], {k: v for k, v in body.items() if k != "key"}))
        return pairs
    raise BadRequest(f"{section}: must be a mapping of key to definition, or a list of definitions with 'key'")


@dataclass(frozen=True)
class Planned:
    """What importing one definition does: ``create`` (the key is not defined), ``replace`` (it is,
    differently: ``changes`` says how) or ``unchanged`` (it is, the same: nothing is appended)."""

    section: str  # programme | cohort
    key: str
    action: str
    event: Event
    changes: str = ""


def _programme_data(programme: Programme) -> dict[str, Any]:
    """A defined programme in the shape of its ``programme.defined`` event's data."""
    items = [
        {"activity": i.activity, "title": i.title, "kind": i.kind, "required": i.required, "due": i.due, "measure": i.measure}
        for i in programme.items
    ]
    data: dict[str, Any] = {"key": programme.key, "name": programme.name, "items": items}
    if programme.retention_days is not None:
        data["retentionDays"] = programme.retention_days
    return data


def _cohort_data(cohort: Cohort) -> dict[str, Any]:
    """A defined cohort in the shape of its ``cohort.defined`` event's data."""
    return {
        "key": cohort.key, "name": cohort.name, "programme": cohort.programme, "iri": cohort.iri,
        "starts": cohort.starts, "ends": cohort.ends, "members": list(cohort.members),
    }


def _changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs, briefly: ``name, items (21 -> 1)``."""
    said = []
    for name in new:
        if old.get(name) != new[name]:
            if isinstance(new[name], list):
                said.append(f"{name} ({len(old.get(name) or [])} -> {len(new[name])})")
            else:
                said.append(name)
    return ", ".join(said)


def _plan(section: str, key: str, event: Event, current: dict[str, Any] | None) -> Planned:
    if current is None:
        return Planned(section, key, "create", event)
    if current == event.data:
        return Planned(section, key, "unchanged", event)
    return Planned(section, key, "replace", event, _changes(current, event.data))


def plan_import(services: Services, document: Any) -> list[Planned]:
    """Validate a whole import document; say for each definition whether importing it creates,
    replaces or leaves unchanged what Polku holds (programmes first).

    Nothing is appended here; any problem raises before anything is written. The document is
    ``{"programmes": {KEY: programme body}, "cohorts": {KEY: cohort body}}`` (either part may be
    missing; a list of bodies each with a ``"key"`` works too), the same bodies as the API's.
    """
    if not isinstance(document, dict):
        raise BadRequest("the file must hold an object with 'programmes' and/or 'cohorts'")
    unknown = set(document) - {"programmes", "cohorts"}
    if unknown:
        raise BadRequest(f"{sorted(unknown)[0]}: is not a known section (use 'programmes' and 'cohorts')")
    planned: list[Planned] = []
    defined: set[str] = set()
    views = CohortViews(services.engine)
    for key, body in _entries(document, "programmes"):
        check_key(key, f"programmes.{key}")
        event = programme_event(key, load(ProgrammeSchema(), body, f"programmes.{key}"))
        current = views.programme(key)
        planned.append(_plan("programme", key, event, _programme_data(current) if current else None))
        defined.add(key)
    for key, body in _entries(document, "cohorts"):
        check_key(key, f"cohorts.{key}")
        data = load(CohortSchema(), body, f"cohorts.{key}")
        if data["programme"] not in defined and views.programme(data["programme"]) is None:
            raise NotFound(f"cohorts.{key}.programme: {data['programme']!r} is defined neither in the file nor in Polku")
        event = cohort_event(key, data)
        current = views.cohort(key)
        planned.append(_plan("cohort", key, event, _cohort_data(current) if current else None))
    return planned
