"""The Statement Resource (xAPI 2.0.0 Communication 2.1; 1.0.3 Part Three 2.1).

PUT stores one statement under ``statementId``; POST stores one statement or an array; GET
returns one statement by ``statementId`` / ``voidedStatementId`` or a page of a filtered query,
with a ``more`` link whose token carries the whole query, so any worker can serve the next page,
also after a restart. Writes go through :mod:`lrs.commands`; reads come from the statement store.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from lrs import commands, formats
from lrs.auth import require
from lrs.errors import BadRequest, NotFound
from lrs.services import services
from lrs.versioning import HEADER, negotiate
from projections.statements import StatementFilter, agent_key

blueprint = Blueprint("statements", __name__)

CONSISTENT_THROUGH = "X-Experience-API-Consistent-Through"
SINGLE_PARAMS = {"statementId", "voidedStatementId"}
QUERY_PARAMS = {
    "agent", "verb", "activity", "registration", "related_activities", "related_agents",
    "since", "until", "limit", "format", "attachments", "ascending",
}
ALWAYS_ALLOWED = {"format", "attachments"}


@blueprint.before_request
def _version():
    g.xapi_version = negotiate(request.headers.get(HEADER))


# ---- writes --------------------------------------------------------------------------------

def _json_body() -> Any:
    if not request.get_data(cache=True):
        raise BadRequest("the request body is empty; send a statement or an array of statements")
    mimetype = request.mimetype or ""
    if mimetype not in ("application/json", ""):
        raise BadRequest(f"Content-Type {mimetype!r} is not supported here; send application/json")
    try:
        return json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request body is not valid JSON") from None


@blueprint.post("/statements")
@require("statements/write")
def post_statements():
    body = _json_body()
    commands.check(body, g.xapi_version)
    statements = body if isinstance(body, list) else [body]
    ids = commands.store(services(), statements, g.credential, g.xapi_version)
    return jsonify(ids)


@blueprint.put("/statements")
@require("statements/write")
def put_statement():
    statement_id = _uuid_param("statementId", required=True)
    body = _json_body()
    if isinstance(body, list):
        raise BadRequest("PUT takes one statement, not an array; POST an array instead")
    if isinstance(body, dict) and "id" in body and str(body["id"]).lower() != statement_id:
        raise BadRequest("id: does not match the statementId parameter")
    if isinstance(body, dict):
        body = dict(body, id=statement_id)
    commands.check(body, g.xapi_version)
    commands.store(services(), [body], g.credential, g.xapi_version)
    return Response(status=204)


# ---- reads ---------------------------------------------------------------------------------

@blueprint.get("/statements")
@require("statements/read", "all/read")
def get_statements():
    svc = services()
    through = svc.consistency.consistent_through("statements")
    params = request.args
    if "more" in params:
        response = _page_from_token(params)
    else:
        unknown = set(params) - SINGLE_PARAMS - QUERY_PARAMS
        if unknown:
            raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        if SINGLE_PARAMS & set(params):
            response = _single(params)
        else:
            response = _page(_query_from_params(params), None)
    response.headers[CONSISTENT_THROUGH] = through
    response.headers["Date"] = _http_date()
    return response


def _single(params) -> Response:
    present = SINGLE_PARAMS & set(params)
    if len(present) > 1:
        raise BadRequest("statementId and voidedStatementId cannot be used together")
    others = set(params) - present - ALWAYS_ALLOWED
    if others:
        raise BadRequest(f"{', '.join(sorted(others))}: not allowed with {present.pop()}")
    voided = "voidedStatementId" in params
    name = "voidedStatementId" if voided else "statementId"
    statement_id = _uuid_param(name, required=True)
    fmt = _format(params)
    statement = services().statements.get(statement_id, voided=voided)
    if statement is None:
        raise NotFound(f"no {'voided ' if voided else ''}statement with id {statement_id}")
    response = jsonify(formats.apply(statement, fmt, formats.accepted_languages(request.headers.get("Accept-Language"))))
    response.headers["Last-Modified"] = _http_date(statement["stored"])
    return response


def _query_from_params(params) -> dict[str, Any]:
    """A query as a plain dict (it travels in ``more`` tokens)."""
    query: dict[str, Any] = {}
    if "agent" in params:
        try:
            agent = json.loads(params["agent"])
        except ValueError:
            raise BadRequest("agent: must be a JSON Agent or Group object") from None
        key = agent_key(agent)
        if key is None:
            raise BadRequest("agent: must be an Agent or identified Group with exactly one identifier")
        query["agent"] = key
    for name in ("verb", "activity"):
        if name in params:
            if not params[name]:
                raise BadRequest(f"{name}: must be an IRI")
            query[name] = params[name]
    if "registration" in params:
        query["registration"] = _uuid_param("registration", required=True)
    for name in ("since", "until"):
        if name in params:
            query[name] = _timestamp(name, params[name])
    for name in ("related_activities", "related_agents", "ascending", "attachments"):
        if name in params:
            query[name] = _bool(name, params[name])
    query["format"] = _format(params)
    limit = _int("limit", params.get("limit", "0"))
    settings = services().settings
    query["limit"] = settings.page_size if limit == 0 else min(limit, settings.max_page_size)
    return query


def _page(query: dict[str, Any], after: tuple[str, str] | None) -> Response:
    f = StatementFilter(
        agent=query.get("agent"),
        verb=query.get("verb"),
        activity=query.get("activity"),
        registration=query.get("registration"),
        since=query.get("since"),
        until=query.get("until"),
        related_activities=query.get("related_activities", False),
        related_agents=query.get("related_agents", False),
        ascending=query.get("ascending", False),
    )
    page = services().statements.query(f, query["limit"], after)
    languages = formats.accepted_languages(request.headers.get("Accept-Language"))
    body = {
        "statements": [formats.apply(s, query["format"], languages) for s in page.statements],
        "more": _more_link(query, page.next_after) if page.next_after else "",
    }
    return jsonify(body)


def _more_link(query: dict[str, Any], after: tuple[str, str]) -> str:
    token = json.dumps({"q": query, "after": list(after)}, separators=(",", ":")).encode()
    return request.script_root + "/xapi/statements?more=" + base64.urlsafe_b64encode(token).decode().rstrip("=")


def _page_from_token(params) -> Response:
    if set(params) != {"more"}:
        raise BadRequest("more: cannot be combined with other parameters")
    raw = params["more"]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        query, after = decoded["q"], tuple(decoded["after"])
        if not isinstance(query, dict) or len(after) != 2:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise BadRequest("more: not a token this server issued") from None
    return _page(query, after)


# ---- parameter parsing -----------------------------------------------------------------------

def _uuid_param(name: str, required: bool = False) -> str | None:
    value = request.args.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name}: parameter is required")
        return None
    try:
        return str(uuid.UUID(value)).lower()
    except ValueError:
        raise BadRequest(f"{name}: must be a UUID") from None


def _timestamp(name: str, value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise BadRequest(f"{name}: must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _bool(name: str, value: str) -> bool:
    if value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise BadRequest(f"{name}: must be true or false")


def _int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name}: must be a non-negative integer") from None
    if number < 0:
        raise BadRequest(f"{name}: must be a non-negative integer")
    return number


def _format(params) -> str:
    fmt = params.get("format", "exact")
    if fmt not in formats.FORMATS:
        raise BadRequest(f"format: must be one of {', '.join(formats.FORMATS)}")
    return fmt


def _http_date(iso: str | None = None) -> str:
    from email.utils import format_datetime

    moment = datetime.now(timezone.utc) if iso is None else datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return format_datetime(moment, usegmt=True)
