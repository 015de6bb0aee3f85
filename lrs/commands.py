"""Writing statements: validate, complete, claim their ids, append to the log, wait until readable.

This is the command side of the Statement Resource (xAPI 2.0.0 Communication 2.1.1 / 2.1.2). The
HTTP layer hands it parsed JSON; it answers the ids stored or raises an :mod:`lrs.errors` error.
Nothing is written unless every statement of the request is valid and no id conflicts.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from events import Event, LogUnavailable
from events.claims import Claim
from lrs.auth import authority_agent
from lrs.comparison import fingerprint
from lrs.credentials import Credential
from lrs.errors import BadRequest, Conflict, Unavailable
from lrs.services import Services
from lrs.validation import validate_statements
from projections.statements import STATEMENT_STORED, VOIDED_VERB, agent_key

log = logging.getLogger(__name__)

CLAIMS = "statement-id"
#: Problems listed in one 400 message before "and N more".
SHOWN_PROBLEMS = 5


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def check(body: Any, version: str) -> None:
    problems = validate_statements(body, version)
    if problems:
        shown = "; ".join(str(p) for p in problems[:SHOWN_PROBLEMS])
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        raise BadRequest(f"invalid statement: {shown}{more}")


def complete(statement: dict[str, Any], stored: str, authority: dict, version: str) -> dict[str, Any]:
    """The statement as the LRS stores it: id, timestamp, stored, authority and version set."""
    result = dict(statement)
    result["id"] = str(statement.get("id") or uuid.uuid4()).lower()
    result.setdefault("timestamp", stored)
    result["stored"] = stored
    result["authority"] = authority
    result.setdefault("version", "2.0.0" if version.startswith("2.") else "1.0.0")
    return result


def store(services: Services, statements: list[dict[str, Any]], credential: Credential, version: str) -> list[str]:
    """Store statements (already validated); return their ids in request order."""
    stored = now_iso()
    authority = authority_agent(credential, services.settings.authority_home_page)
    completed = [complete(s, stored, authority, version) for s in statements]
    _check_voiding(services, completed)

    prints = {s["id"]: fingerprint(s) for s in completed}
    claims = services.claims.claim(CLAIMS, prints)
    conflicting = [sid for sid, c in claims.items() if c is Claim.DIFFERENT]
    if conflicting:
        raise Conflict(f"statement {conflicting[0]} already exists with different content; statements are immutable")

    events = [
        Event(
            type=STATEMENT_STORED,
            key=agent_key(s["actor"]) or s["id"],
            data={"statement": s, "fingerprint": prints[s["id"]]},
            recorded=stored,
        )
        for s in completed
    ]
    try:
        positions = services.log.append(events)
    except LogUnavailable:
        # The claims stay: the log may have stored part of the batch before failing, and a retry
        # with the same content is SAME, so it goes through.
        raise Unavailable("the statement log is unavailable; retry later") from None
    services.runner.wake()
    if not services.consistency.wait_for("statements", positions, services.settings.consistency_wait_s):
        log.warning("statements appended but not yet readable after %.1fs", services.settings.consistency_wait_s)
    return [s["id"] for s in completed]


def _check_voiding(services: Services, statements: list[dict[str, Any]]) -> None:
    """A voiding statement cannot target a voiding statement (Data 2.3.2)."""
    batch = {s["id"]: s for s in statements}
    for s in statements:
        obj = s.get("object") or {}
        if s["verb"]["id"] != VOIDED_VERB or obj.get("objectType") != "StatementRef":
            continue
        target_id = str(obj.get("id", "")).lower()
        target = batch.get(target_id) or services.statements.get(target_id, voided=False) or services.statements.get(
            target_id, voided=True
        )
        if target is not None and target["verb"]["id"] == VOIDED_VERB:
            raise BadRequest(f"object.id: statement {target_id} is a voiding statement and cannot be voided")
