"""The admin API for programmes and cohorts (``/api/v1``).

``PUT /programmes/{key}`` and ``PUT /cohorts/{key}`` (scope ``admin``) define or redefine (201
when new, 200 when replaced, the definition in the body); ``DELETE`` of one (scope ``admin``,
204; 404 when not defined, 409 for a programme a cohort follows); ``GET`` of one, and ``GET`` of the
collection (a JSON array, ordered by key), with scope ``admin`` or ``analytics``: an analyst
needs the cohorts' keys and members to read the views. Not xAPI: no ``X-Experience-API-Version`` header is needed. Writes go
through :mod:`lrs.cohorts.programmes` (onto the log); reads come from the cohort projection.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from flask import Blueprint, jsonify, url_for

from lrs.cohorts import programmes as commands
from lrs.shapes.api_schemas import CohortOut, ProgrammeOut
from lrs.http.auth import require
from lrs.errors import NotFound
from lrs.http.current import services
from lrs.http.parameters import json_body
from projections.cohort_views import Cohort, CohortViews, Item, Programme

blueprint = Blueprint("programmes", __name__)


def views() -> CohortViews:
    return CohortViews(services().engine)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def programme_body(programme: Programme) -> dict[str, Any]:
    """A programme as the API shows it (dumped through :class:`ProgrammeOut`)."""
    items = [asdict(i) | {"due": _date(i.due)} for i in programme.items]
    shown: dict[str, Any] = {"key": programme.key, "name": programme.name, "items": items}
    if programme.retention_days is not None:
        shown["retentionDays"] = programme.retention_days
    return _key_first(ProgrammeOut().dump(shown))


def cohort_body(cohort: Cohort) -> dict[str, Any]:
    """A cohort as the API shows it (dumped through :class:`CohortOut`)."""
    return _key_first(CohortOut().dump(
        {
            "key": cohort.key,
            "name": cohort.name,
            "programme": cohort.programme,
            "iri": cohort.iri,
            "starts": _date(cohort.starts),
            "ends": _date(cohort.ends),
            "members": list(cohort.members),
        }
    ))


def _key_first(body: dict[str, Any]) -> dict[str, Any]:
    return {"key": body.pop("key"), **body}


def _defined(body: dict[str, Any], new: bool, endpoint: str, key: str):
    response = jsonify(body)
    if new:
        response.status_code = 201
        response.headers["Location"] = url_for(endpoint, key=key)
    return response


# ---- programmes ----------------------------------------------------------------------------

@blueprint.put("/programmes/<key>")
@require("admin")
def put_programme(key: str):
    data, new = commands.define_programme(services(), key, json_body())
    definition = programme_body(Programme(key, data["name"], tuple(Item(**i) for i in data["items"]), data.get("retentionDays")))
    return _defined(definition, new, "programmes.get_programme", key)


@blueprint.get("/programmes/<key>")
@require("admin", "analytics")
def get_programme(key: str):
    programme = views().programme(key)
    if programme is None:
        raise NotFound(f"no programme {key!r}")
    return jsonify(programme_body(programme))


@blueprint.delete("/programmes/<key>")
@require("admin")
def delete_programme(key: str):
    commands.delete_programme(services(), key)
    return "", 204


@blueprint.get("/programmes")
@require("admin", "analytics")
def list_programmes():
    return jsonify([programme_body(p) for p in views().programmes()])


# ---- cohorts -------------------------------------------------------------------------------

@blueprint.put("/cohorts/<key>")
@require("admin")
def put_cohort(key: str):
    data, new = commands.define_cohort(services(), key, json_body())
    fields = ("name", "programme", "iri", "starts", "ends")
    definition = cohort_body(Cohort(key, *(data[f] for f in fields), tuple(data["members"])))
    return _defined(definition, new, "programmes.get_cohort", key)


@blueprint.get("/cohorts/<key>")
@require("admin", "analytics")
def get_cohort(key: str):
    cohort = views().cohort(key)
    if cohort is None:
        raise NotFound(f"no cohort {key!r}")
    return jsonify(cohort_body(cohort))


@blueprint.delete("/cohorts/<key>")
@require("admin")
def delete_cohort(key: str):
    commands.delete_cohort(services(), key)
    return "", 204


@blueprint.get("/cohorts")
@require("admin", "analytics")
def list_cohorts():
    return jsonify([cohort_body(c) for c in views().cohorts()])
