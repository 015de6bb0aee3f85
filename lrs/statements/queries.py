"""The parameters of GET /statements (xAPI 2.0.0 Communication 2.1.3; 1.0.3 Part Three 2.1.3),
parsed into plain values, and the ``more`` tokens that carry a query to its next page.

A query is a plain dict (JSON-safe), so a ``more`` token can hold all of it together with the
position of the last statement returned: any worker can serve the next page, also after a
restart, without server-side cursors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

from events import utc_iso
from lrs.statements import formats
from lrs.errors import BadRequest
from lrs.config.settings import Settings
from projections.statements import StatementFilter
from schemas.agents import AgentProblem
from schemas.validation import agent_parameter
from schemas.timestamps import parse_query_timestamp

SINGLE_PARAMS = {"statementId", "voidedStatementId"}
QUERY_PARAMS = {
    "agent", "verb", "activity", "registration", "related_activities", "related_agents",
    "since", "until", "limit", "format", "attachments", "ascending",
}
#: parameters that go with statementId / voidedStatementId
ALWAYS_ALLOWED = {"format", "attachments"}


@dataclass(frozen=True)
class Single:
    """GET by ``statementId`` or ``voidedStatementId``."""

    statement_id: str
    voided: bool
    format: str
    attachments: bool


def parse(params: Mapping[str, str], settings: Settings, version: str) -> Single | dict[str, Any]:
    """A :class:`Single` lookup or a query dict; :class:`BadRequest` for anything wrong. The
    ``agent`` parameter is held to the Agent rules of ``version``."""
    unknown = set(params) - SINGLE_PARAMS - QUERY_PARAMS
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    present = SINGLE_PARAMS & set(params)
    if present:
        return _single(params, present)
    return _query(params, settings, version)


def _single(params: Mapping[str, str], present: set[str]) -> Single:
    if len(present) > 1:
        raise BadRequest("statementId and voidedStatementId cannot be used together")
    (name,) = present
    others = set(params) - present - ALWAYS_ALLOWED
    if others:
        raise BadRequest(f"{', '.join(sorted(others))}: not allowed with {name} (only format and attachments are)")
    return Single(
        statement_id=_uuid(name, params[name]),
        voided=name == "voidedStatementId",
        format=_format(params),
        attachments=_bool("attachments", params["attachments"]) if "attachments" in params else False,
    )


def _query(params: Mapping[str, str], settings: Settings, version: str) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if "agent" in params:
        query["agent"] = _agent(params["agent"], version)
    for name in ("verb", "activity"):
        if name in params:
            if not params[name]:
                raise BadRequest(f"{name}: must be an IRI")
            query[name] = params[name]
    if "registration" in params:
        query["registration"] = _uuid("registration", params["registration"])
    for name in ("since", "until"):
        if name in params:
            query[name] = _timestamp(name, params[name])
    for name in ("related_activities", "related_agents", "ascending", "attachments"):
        if name in params:
            query[name] = _bool(name, params[name])
    query["format"] = _format(params)
    limit = _int("limit", params.get("limit", "0"))
    query["limit"] = settings.page_size if limit == 0 else min(limit, settings.max_page_size)
    return query


def statement_id_param(params: Mapping[str, str]) -> str:
    """The ``statementId`` a PUT names (required)."""
    if "statementId" not in params:
        raise BadRequest("statementId: parameter is required")
    return _uuid("statementId", params["statementId"])


def statement_filter(query: Mapping[str, Any]) -> StatementFilter:
    return StatementFilter(
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


# ---- more tokens -------------------------------------------------------------------------------

def more_token(query: Mapping[str, Any], after: tuple[str, str], key: bytes) -> str:
    """The query and the position after the last statement returned, signed with the server's
    key (HMAC-SHA256), so that a client can carry it but not change it."""
    payload = base64.urlsafe_b64encode(json.dumps({"q": dict(query), "after": list(after)}, separators=(",", ":")).encode())
    return payload.decode().rstrip("=") + "." + _signature(payload.rstrip(b"="), key)


def from_more_token(params: Mapping[str, str], key: bytes, settings: Settings) -> tuple[dict[str, Any], tuple[str, str]]:
    """(query, after) from the parameters of a ``more`` URL, once its signature holds; the page
    size is capped again by today's settings."""
    if set(params) != {"more"}:
        raise BadRequest("more: cannot be combined with other parameters")
    payload, _, signature = params["more"].partition(".")
    expected = _signature(payload.encode("utf-8", "surrogateescape"), key).encode("ascii")
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape")):
        raise BadRequest("more: not a token this server issued")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        query, after = decoded["q"], tuple(decoded["after"])
        if not isinstance(query, dict) or len(after) != 2 or not all(isinstance(a, str) for a in after):
            raise ValueError
        if not isinstance(query.get("limit"), int) or "format" not in query:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise BadRequest("more: not a token this server issued") from None
    query["limit"] = min(max(query["limit"], 1), settings.max_page_size)
    return query, after  # type: ignore[return-value]


def _signature(payload: bytes, key: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, b"polku-more:" + payload, hashlib.sha256).digest()).decode().rstrip("=")


# ---- values ------------------------------------------------------------------------------------

def _agent(value: str, version: str) -> str:
    """The identifier key of the ``agent`` parameter: a valid Agent or identified Group as JSON."""
    try:
        return agent_parameter(value, version, groups=True)[1]
    except AgentProblem as exc:
        raise BadRequest(str(exc)) from None


def _uuid(name: str, value: str) -> str:
    try:
        return str(uuid.UUID(value)).lower()
    except ValueError:
        raise BadRequest(f"{name}: must be a UUID") from None


def _timestamp(name: str, value: str) -> str:
    try:
        moment = parse_query_timestamp(value)  # no time zone: UTC
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise BadRequest(f"{name}: must be an ISO 8601 timestamp in the years 0001 to 9999 (UTC)")
    return utc_iso(moment)


def _bool(name: str, value: str) -> bool:
    if value.lower() == "true":
        return True
    if value.lower() == "false":
        return False
    raise BadRequest(f"{name}: must be true or false")


def _int(name: str, value: str) -> int:
    # ASCII digits only: Python's int() also reads "٣" and " 3 " and "1_000"
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise BadRequest(f"{name}: must be a non-negative integer")
    return int(value)


def _format(params: Mapping[str, str]) -> str:
    fmt = params.get("format", "exact")
    if fmt not in formats.FORMATS:
        raise BadRequest(f"format: must be one of {', '.join(formats.FORMATS)}")
    return fmt
