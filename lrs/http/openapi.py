"""The OpenAPI 3 document of the admin and analytics APIs, built from their marshmallow schemas.

Served at ``/api/v1/openapi.json`` (no credential needed: it describes, it does not disclose).
The request and response schemas are the ones the resources validate and dump with
(:mod:`lrs.shapes.api_schemas`), so the document cannot drift from the code.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from lrs.shapes import api_schemas as s

#: Named components, nested ones first (apispec names a nested schema when it first meets it).
SCHEMAS = {
    "Item": s.ItemSchema,
    "Account": s.AccountSchema,
    "Agent": s.AgentSchema,
    "Programme": s.ProgrammeSchema,
    "ProgrammeDefinition": s.ProgrammeOut,
    "Cohort": s.CohortSchema,
    "CohortDefinition": s.CohortOut,
    "Progress": s.ProgressView,
    "Engagement": s.EngagementView,
    "Success": s.SuccessView,
    "Error": s.ErrorBody,
    "NewCredential": s.CredentialIn,
    "Credential": s.CredentialOut,
    "CredentialWithSecret": s.CredentialWithSecret,
}


def _resolver(schema) -> str | None:
    """Name nested schemas after their class (``ProgressMember``…), without a ``Schema`` suffix."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[: -len("Schema")] if name.endswith("Schema") and name != "Schema" else name


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


def _json(schema: str | dict, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string", "pattern": s.KEY_PATTERN}}
FORMAT = {
    "name": "format",
    "in": "query",
    "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"},
    "description": "csv: the members table as CSV (cohort, name, identifiers, then the metrics; null is an empty cell)",
}
ADMIN_ERRORS = {
    "400": _error("Invalid body; the message names each bad field"),
    "401": _error("No or wrong credentials"),
    "403": _error("The credential lacks the admin scope"),
}
READ_ERRORS = {
    "401": _error("No or wrong credentials"),
    "403": _error("The credential has neither the admin nor the analytics scope"),
}
VIEW_ERRORS = {
    "400": _error("Invalid parameter"),
    "401": _error("No or wrong credentials"),
    "403": _error("The credential lacks the analytics scope"),
    "404": _error("No such cohort"),
}


def _view(summary: str, schema: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["analytics"],
            "summary": summary,
            "security": [{"basic": []}],
            "parameters": [KEY, *params, FORMAT],
            "responses": {
                "200": {
                    "description": summary,
                    "content": {"application/json": {"schema": schema}, "text/csv": {"schema": {"type": "string"}}},
                },
                **VIEW_ERRORS,
            },
        }
    }


def _date_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "format": "date"}, "description": description}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    spec = APISpec(
        title="Polku admin and analytics API",
        version="1",
        openapi_version="3.0.3",
        info={
            "description": "Programmes, cohorts, credentials, and the cohort progress, engagement and success views. "
            "Metric definitions: docs/cohort-metrics.md. The xAPI endpoint itself is at /xapi/."
        },
        servers=[{"url": "/api/v1"}],
        plugins=[MarshmallowPlugin(schema_name_resolver=_resolver)],
    )
    spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    admin = {"tags": ["admin"], "security": [{"basic": []}]}
    spec.path(
        "/programmes/{key}",
        operations={
            "put": admin | {
                "summary": "Define or redefine a programme",
                "parameters": [KEY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": "Programme"}}},
                "responses": {
                    "200": _json("ProgrammeDefinition", "Replaced"),
                    "201": _json("ProgrammeDefinition", "Created"),
                    **ADMIN_ERRORS,
                },
            },
            "get": admin | {
                "summary": "A programme",
                "parameters": [KEY],
                "responses": {"200": _json("ProgrammeDefinition", "The programme"), **READ_ERRORS, "404": _error("No such programme")},
            },
            "delete": admin | {
                "summary": "Delete a programme (an event on the log: a rebuild honours it)",
                "parameters": [KEY],
                "responses": {"204": {"description": "Deleted"}, **ADMIN_ERRORS, "404": _error("No such programme"),
                              "409": _error("A cohort follows this programme; the message names the cohorts")},
            },
        },
    )
    spec.path(
        "/programmes",
        operations={"get": admin | {"summary": "Every programme, by key", "responses": {
            "200": _json({"type": "array", "items": "ProgrammeDefinition"}, "Programmes"), **READ_ERRORS}}},
    )
    spec.path(
        "/cohorts/{key}",
        operations={
            "put": admin | {
                "summary": "Define or redefine a cohort",
                "parameters": [KEY],
                "requestBody": {"required": True, "content": {"application/json": {"schema": "Cohort"}}},
                "responses": {
                    "200": _json("CohortDefinition", "Replaced"),
                    "201": _json("CohortDefinition", "Created"),
                    **ADMIN_ERRORS,
                    "404": _error("The programme named is not defined"),
                },
            },
            "get": admin | {
                "summary": "A cohort",
                "parameters": [KEY],
                "responses": {"200": _json("CohortDefinition", "The cohort"), **READ_ERRORS, "404": _error("No such cohort")},
            },
            "delete": admin | {
                "summary": "Delete a cohort and its views (an event on the log: a rebuild honours it; the statements stay)",
                "parameters": [KEY],
                "responses": {"204": {"description": "Deleted"}, **ADMIN_ERRORS, "404": _error("No such cohort")},
            },
        },
    )
    spec.path(
        "/cohorts",
        operations={"get": admin | {"summary": "Every cohort, by key", "responses": {
            "200": _json({"type": "array", "items": "CohortDefinition"}, "Cohorts"), **READ_ERRORS}}},
    )
    spec.path(
        "/cohorts/{key}/progress",
        operations=_view(
            "Progress of each member through the programme's items",
            "Progress",
            [_date_param("as_of", "Count statements up to the end of this UTC date; overdue means due before it (default: today)")],
        ),
    )
    spec.path(
        "/cohorts/{key}/engagement",
        operations=_view(
            "Activity per ISO week and per member",
            "Engagement",
            [_date_param("from", "First UTC date counted (inclusive)"), _date_param("to", "Last UTC date counted (inclusive)")],
        ),
    )
    spec.path("/cohorts/{key}/success", operations=_view("Assessment, self-assessment and pre/post results", "Success", []))
    _credential_paths(spec, admin)
    _export_path(spec, admin)
    _erasure_paths(spec, admin)
    spec.path(
        "/openapi.json",
        operations={"get": {"tags": ["meta"], "summary": "This document", "responses": {"200": {"description": "OpenAPI 3 document"}}}},
    )
    return spec.to_dict()


def _credential_paths(spec: APISpec, admin: dict[str, Any]) -> None:
    """``/credentials``: the credential life cycle (scope admin)."""
    errors = {"401": _error("No or wrong credentials"), "403": _error("The credential lacks the admin scope")}
    unknown = {"404": _error("No credential with this key")}
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    spec.path(
        "/credentials",
        operations={
            "get": admin | {"summary": "Every credential, never a secret",
                            "responses": {"200": _json({"type": "array", "items": "Credential"}, "Credentials"), **errors}},
            "post": admin | {
                "summary": "Create a credential; its secret is in this response only",
                "requestBody": {"required": True, "content": {"application/json": {"schema": "NewCredential"}}},
                "responses": {"201": _json("CredentialWithSecret", "Created"), "400": _error("Invalid body; names the field"),
                              **errors, "409": _error("A credential in use has this name")},
            },
        },
    )
    spec.path(
        "/credentials/{key}",
        operations={
            "get": admin | {"summary": "A credential, never its secret", "parameters": [key],
                            "responses": {"200": _json("Credential", "The credential"), **errors, **unknown}},
            "delete": admin | {"summary": "Revoke a credential for good (from the next request on, every server refuses it)",
                               "parameters": [key],
                               "responses": {"200": _json("Credential", "Revoked (revoking again changes nothing)"), **errors, **unknown}},
        },
    )
    spec.path(
        "/credentials/{key}/rotate",
        operations={"post": admin | {
            "summary": "A new secret, in this response only; the old secret stops working at once", "parameters": [key],
            "responses": {"200": _json("CredentialWithSecret", "Rotated"), **errors, **unknown,
                          "409": _error("The credential is revoked")},
        }},
    )


#: The export document (lrs/personal_data/export.py): its parts, each described; statements as xAPI stores them.
EXPORT_DOCUMENT = {
    "type": "object",
    "required": ["agent", "exported", "polku", "consistent_through", "statements", "voided_statements", "state",
                 "agent_profiles", "cohorts"],
    "properties": {
        "agent": {"type": "object", "description": "The Agent asked about, as given"},
        "exported": {"type": "string", "format": "date-time"},
        "polku": {"type": "string", "description": "Polku's version"},
        "consistent_through": {"type": "object", "additionalProperties": {"type": "string", "format": "date-time"},
                               "description": "Up to when the statement store and the cohort views had applied the log"},
        "statements": {"type": "array", "items": {"type": "object"},
                       "description": "What GET /xapi/statements?agent=…&related_agents=true&format=exact returns, every page, in order"},
        "voided_statements": {"type": "array", "items": {"type": "object"},
                              "description": "Voided statements naming the person, as GET /xapi/statements?voidedStatementId= returns them"},
        "state": {"type": "array", "items": {"type": "object"},
                  "description": "State documents: activityId, registration, stateId, contentType, updated, etag, content "
                                 "(JSON as JSON; anything else base64, with encoding: base64)"},
        "agent_profiles": {"type": "array", "items": {"type": "object"},
                           "description": "Agent Profile documents: profileId and the same fields as state"},
        "cohorts": {"type": "array", "items": {"type": "object"},
                    "description": "Cohorts with the person as a member: key, name, programme, position, member, and the "
                                   "member's progress, engagement (with statements per week) and success rows"},
    },
}


ERASURE_SUMMARY = {
    "type": "object",
    "required": ["id", "person", "statements", "mentions", "documents", "attachments", "keys_deleted", "status", "requested"],
    "properties": {
        "id": {"type": "string", "description": "The agent.erased event's id"},
        "person": {"type": "string", "description": "The person's keyed hash (never the identifier)"},
        "statements": {"type": "integer", "description": "Their own statements, removed"},
        "mentions": {"type": "integer", "description": "Other people's statements that now name the anonymous agent"},
        "documents": {"type": "integer"},
        "attachments": {"type": "integer"},
        "keys_deleted": {"type": "integer"},
        "status": {"type": "string", "enum": ["done", "pending"]},
        "requested": {"type": "string"},
        "linked": {"type": "integer", "description": "Other identifiers a cohort defines as the same person, erased with them"},
    },
}


def _erasure_paths(spec: APISpec, admin: dict[str, Any]) -> None:
    """``/agents`` DELETE (scope erase), ``/erasures`` (erase or admin), ``/data-keys`` (keys)."""
    agent = {"name": "agent", "in": "query", "required": True, "schema": {"type": "string"},
             "description": 'The person: an Agent as JSON, e.g. {"mbox": "mailto:aino@example.org"}'}
    summary = {"content": {"application/json": {"schema": ERASURE_SUMMARY}}}
    spec.path("/agents", operations={"delete": admin | {
        "summary": "Erase a person for good (scope erase, which all does not grant); docs/personal-data.md",
        "parameters": [agent],
        "responses": {
            "200": {"description": "Erased: every view applied it and the person's keys are deleted"} | summary,
            "202": {"description": "Erased from the log's point of view; the keys are deleted once every view applied it"} | summary,
            "400": _error("Invalid parameter; the message names it"),
            "401": _error("No or wrong credentials"),
            "403": _error("The credential lacks the erase scope"),
            "503": _error("The database or the log is unavailable; retry"),
        },
    }})
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
    spec.path("/erasures", operations={"get": admin | {
        "summary": "The erasure record, newest first (the person only as a keyed hash)",
        "parameters": [limit],
        "responses": {
            "200": {"description": "The record", "content": {"application/json": {"schema": {
                "type": "object", "required": ["erasures"], "properties": {"erasures": {"type": "array", "items": {"type": "object"}}}}}}},
            "400": _error("Invalid parameter; the message names it"),
            "401": _error("No or wrong credentials"),
            "403": _error("The credential lacks the erase or admin scope"),
        },
    }})
    kid = {"name": "kid", "in": "query", "required": True, "schema": {"type": "string"},
           "description": "Key ids (the kid of sealed parts), comma-separated, at most 200"}
    spec.path("/data-keys", operations={"get": admin | {
        "summary": "Data keys for consumers of the log (scope keys, which all does not grant); erased keys are never given",
        "parameters": [kid],
        "responses": {
            "200": {"description": "The keys still given", "content": {"application/json": {"schema": {
                "type": "object", "required": ["keys", "unavailable"],
                "properties": {"keys": {"type": "object"}, "unavailable": {"type": "array", "items": {"type": "string"}}}}}}},
            "400": _error("Invalid parameter; the message names it"),
            "401": _error("No or wrong credentials"),
            "403": _error("The credential lacks the keys scope"),
        },
    }})


def _export_path(spec: APISpec, admin: dict[str, Any]) -> None:
    """``/agents/export``: everything Polku holds about one person (scope admin)."""
    agent = {"name": "agent", "in": "query", "required": True, "schema": {"type": "string"},
             "description": 'The person: an Agent as JSON, e.g. {"mbox": "mailto:aino@example.org"}'}
    fmt = {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "zip"], "default": "json"},
           "description": "zip: export.json and attachments/<sha2>, the content of each attachment of the statements"}
    spec.path(
        "/agents/export",
        operations={"get": admin | {
            "summary": "Everything Polku holds about one person (right of access and portability), as a download",
            "parameters": [agent, fmt],
            "responses": {
                "200": {"description": "The export",
                        "content": {"application/json": {"schema": EXPORT_DOCUMENT},
                                    "application/zip": {"schema": {"type": "string", "format": "binary"}}}},
                "400": _error("Invalid parameter; the message names it"),
                "401": _error("No or wrong credentials"),
                "403": _error("The credential lacks the admin scope"),
                "413": _error("The export would hold more statements than POLKU_EXPORT_MAX_STATEMENTS"),
            },
        }},
    )
