"""Erasing a person and reading the log's keys (issue 11; not xAPI, no version header needed).

- ``DELETE /api/v1/agents?agent=<Agent JSON>`` (scope ``erase``, which ``all`` does not grant):
  erase the person for good (:mod:`lrs.personal_data.erasure`); 200 with a summary once every projection has
  applied it and the person's keys are deleted, 202 with the same summary while that is still
  to come (the projection worker finishes it).
- ``GET /api/v1/erasures`` (scope ``erase`` or ``admin``): the erasure record, newest first --
  who asked, when, how much; the person only as a keyed hash.
- ``GET /api/v1/data-keys?kid=K[,K2...]`` (scope ``keys``, which ``all`` does not grant): the
  data keys a consumer of the log needs to open sealed parts (events/reader.py); a key deleted
  by an erasure, or retired by one, is not given: what it sealed stays unreadable to everyone.
"""

from __future__ import annotations

import base64

from flask import Blueprint, jsonify, request

from lrs.personal_data import erasure
from lrs.http.auth import authorize, require
from lrs.errors import BadRequest
from lrs.http.current import services
from schemas.agents import AgentProblem
from schemas.validation import agent_parameter

blueprint = Blueprint("erasure", __name__)

#: The most keys one ``/data-keys`` request may ask for.
MAX_KIDS = 200


@blueprint.delete("/agents")
def erase_agent():
    credential = authorize(request.headers.get("Authorization"), "erase")
    unknown = sorted(set(request.args) - {"agent"})
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(unknown)}; this resource takes agent")
    raw = request.args.get("agent")
    if raw is None:
        raise BadRequest('agent: required, e.g. agent={"mbox": "mailto:aino@example.org"}')
    try:
        agent, _ = agent_parameter(raw, services().settings.default_version)
    except AgentProblem as exc:
        raise BadRequest(str(exc)) from None
    summary = erasure.erase(services(), agent, requested_by=f"credential {credential.key}")
    return jsonify(summary.as_json()), 200 if summary.status == "done" else 202


@blueprint.get("/erasures")
@require("erase", "admin")
def erasures():
    raw = request.args.get("limit", "100")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequest("limit: must be a whole number from 1 to 1000")
    return jsonify({"erasures": erasure.history(services(), int(raw))})


@blueprint.get("/data-keys")
@require("keys")
def data_keys():
    kids = [kid for kid in request.args.get("kid", "").split(",") if kid]
    if not kids:
        raise BadRequest("kid: at least one key id is required (the kid of a sealed part)")
    if len(kids) > MAX_KIDS:
        raise BadRequest(f"kid: at most {MAX_KIDS} per request")
    if any(len(kid) != 32 or not all(c in "0123456789abcdef" for c in kid) for kid in kids):
        raise BadRequest("kid: a key id is 32 lower-case hexadecimal digits")
    found = {kid: key for kid, key in services().keyring.keys(kids).items() if not key.retired}
    return jsonify({
        "keys": {kid: {"key": base64.b64encode(key.key).decode("ascii"), "ref": key.ref} for kid, key in sorted(found.items())},
        "unavailable": sorted(set(kids) - set(found)),
    }), 200, {"Cache-Control": "no-store"}
