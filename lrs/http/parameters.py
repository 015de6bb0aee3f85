"""Query parameters of the document, Activities and Agents resources, parsed into typed values.

Every problem is a 400 naming the parameter (xAPI 2.0.0 Communication 4.1.4 / 1.0.3 Part Three
3.2: unknown parameters, parameters in another case, and values that do not validate to the same
standard as in statements are all rejected).
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Iterable

from flask import g, request

from events import utc_iso
from lrs.errors import BadRequest
from schemas import strict_json
from schemas.agents import AgentProblem
from schemas.validation import agent_parameter
from schemas.rules import is_iri, is_uuid
from schemas.timestamps import parse_timestamp


def only(allowed: Iterable[str]) -> None:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(unknown)}; this resource takes {', '.join(sorted(allowed))}")


def text(name: str, required: bool = True) -> str | None:
    value = request.args.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name}: parameter is required")
        return None
    if not value:
        raise BadRequest(f"{name}: must not be empty")
    return value


def iri(name: str) -> str:
    value = text(name)
    if not is_iri(value):
        raise BadRequest(f"{name}: must be an IRI")
    return value


def registration(name: str = "registration") -> str | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not is_uuid(value):
        raise BadRequest(f"{name}: must be a UUID")
    return value.lower()


def since(name: str = "since") -> str | None:
    """An exclusive lower bound on ``updated``, as the store writes timestamps."""
    value = request.args.get(name)
    if value is None:
        return None
    moment = parse_timestamp(value, "1.0")
    if moment is None:
        try:  # an HTTP-date, as a client echoing Last-Modified sends
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is None or moment.tzinfo is None:
            raise BadRequest(f"{name}: must be a timestamp with a time zone, e.g. 2026-01-31T08:00:00Z")
    return utc_iso(moment)


def agent(name: str = "agent") -> tuple[dict[str, Any], str]:
    """An Agent object (JSON) with exactly one identifier, valid as a statement's actor, and its key."""
    try:
        return agent_parameter(text(name), g.get("xapi_version", "2.0.0"), name=name)
    except AgentProblem as exc:
        raise BadRequest(str(exc)) from None


def http_date(iso: str) -> str:
    """A stored time (``utc_iso`` text) as an HTTP-date, for ``Last-Modified``."""
    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")), usegmt=True)


def json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        raise BadRequest("the request body is empty; send a JSON object")
    if (request.mimetype or "application/json") != "application/json":
        raise BadRequest(f"Content-Type {request.mimetype!r} is not supported here; send application/json")
    try:
        return strict_json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8 encoded") from None
    except strict_json.JsonProblem as exc:
        raise BadRequest(f"{exc.path or 'the request body'}: {exc.problem}") from None
