"""Writing statements: validate, complete, claim their ids, append to the log, wait until readable.

This is the command side of the Statement Resource (xAPI 2.0.0 Communication 2.1.1 / 2.1.2). The
HTTP layer hands it parsed JSON and the attachment contents sent with it; it answers the ids
stored or raises an :mod:`lrs.errors` error. Nothing is written unless every statement of the
request is valid (signatures and attachment parts included) and no id conflicts. Attachment
contents go to the blob store before the statements go to the log, so an acknowledged statement
always has its attachments.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Sequence

from events import Event, EventTooLarge, LogUnavailable, Position, utc_iso
from events.claims import STATEMENT_IDS, Claim
from events.keyring import BeingErased
from events.sealing import MAX_PEOPLE_PER_STATEMENT, COHORT_DEFINED, member_persons, persons_to_seal, seal_members, seal_statement, statement_owners
from lrs.statements import attachments, signatures
from lrs.ops import metrics
from lrs.statements.comparison import fingerprint
from lrs.stores.credentials import Credential, authority_agent
from lrs.errors import BadRequest, Conflict, RequestTooLarge, Unavailable, XAPIError
from lrs.statements.group_commit import Write
from lrs.statements.normalise import normalise
from lrs.services import Services
from schemas.validation import MAX_PROBLEMS, validate_statements
from projections.log_guard import LogMismatch
from projections.statements import STATEMENT_STORED, VOIDED_VERB
from schemas.versions import is_2

log = logging.getLogger(__name__)

CLAIMS = STATEMENT_IDS
#: Problems listed in one 400 message before "and N more".
SHOWN_PROBLEMS = 5


def check(
    body: Any, version: str, contents: dict[str, bytes] | None = None, max_statements: int | None = None
) -> list[dict[str, Any]]:
    """The statements of a request body, once they are valid, their attachment parts match and
    their signatures hold; else :class:`BadRequest` naming the first problems, or
    :class:`RequestTooLarge` for more than ``max_statements`` statements (checked first: the
    cost of a request is bounded before any of it is validated)."""
    if max_statements is not None and isinstance(body, list) and len(body) > max_statements:
        raise RequestTooLarge(
            f"the request holds {len(body)} statements; at most {max_statements} per request (POLKU_MAX_STATEMENTS_PER_REQUEST)"
        )
    problems = validate_statements(body, version)
    if problems:
        shown = "; ".join(str(p) for p in problems[:SHOWN_PROBLEMS])
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        if len(problems) >= MAX_PROBLEMS:
            more = f" (and more; validation stops at {MAX_PROBLEMS} problems)"
        raise BadRequest(f"invalid statement: {shown}{more}")
    statements = body if isinstance(body, list) else [body]
    for i, statement in enumerate(statements):
        named = len(persons_to_seal(statement))
        if named > MAX_PEOPLE_PER_STATEMENT:
            where = f"statements[{i}]" if isinstance(body, list) else "statement"
            raise BadRequest(f"{where}: names {named} people (Agents, Groups and their members); at most {MAX_PEOPLE_PER_STATEMENT}")
    attachments.check(statements, contents or {})
    signatures.check(statements, contents or {})
    return statements


def complete(statement: dict[str, Any], stored: str, authority: dict, version: str) -> dict[str, Any]:
    """The statement as the LRS stores it: normalised, with id, timestamp, stored, authority and
    version set."""
    result = normalise(statement, version)
    result["id"] = str(statement.get("id") or uuid.uuid4()).lower()
    result.setdefault("timestamp", stored)
    result["stored"] = stored
    result["authority"] = authority
    result.setdefault("version", "2.0.0" if is_2(version) else "1.0.0")
    return result


def store(
    services: Services,
    statements: list[dict[str, Any]],
    credential: Credential,
    version: str,
    contents: dict[str, bytes] | None = None,
) -> list[str]:
    """Store statements (already checked) and their attachment contents; return their ids in
    request order. Concurrent requests' statements are claimed and appended together
    (:mod:`lrs.statements.group_commit`); each request still gets its own answer."""
    authority = authority_agent(credential, services.settings.authority_home_page)
    with_ids = [dict(s, id=str(s.get("id") or uuid.uuid4()).lower()) for s in statements]
    completed = [complete(s, utc_iso(), authority, version) for s in with_ids]  # stored: stamped below
    _check_voiding(services, completed)
    if contents:
        try:
            services.blobs.put(contents)
        except LogUnavailable:
            raise Unavailable("the attachment store is unavailable; retry later", cause="attachment_store") from None
    write = Write(
        statements=completed,
        prints={s["id"]: fingerprint(s) for s in completed},
        untimed=["timestamp" not in original for original in statements],
        assigned=[s["id"] for s, original in zip(completed, statements) if not original.get("id")],
    )
    ids = services.writes.run(write, lambda group: _write_group(services, group))
    if not services.settings.projections_in_process:
        # read-your-writes outside the group: the next group is claimed and appended while a
        # worker applies this one (POST x100 on Kafka: 501 -> 821 statements/s)
        wait_applied(services, write.positions, "statements")
    return ids


def _applied_in_group(services: Services, positions: list[Position]) -> None:
    """With the projections in this process the group waits for its statements to be applied
    before the next one begins: on SQLite's one writer, overlapping the next group's claim and
    append with this one's projection pass was slower (POST x1 202 -> 151/s). Otherwise each
    request waits after the group (:func:`store`)."""
    if services.settings.projections_in_process:
        wait_applied(services, positions, "statements")


def _write_group(services: Services, group: list[Write]) -> None:
    """Claim, stamp and append a group of requests' writes, finishing each one with where its
    statements are on the log; read-your-writes is waited for here with the projections in this
    process, else by each request after the group (see :func:`_applied_in_group`).

    The claim marks every id as in flight; ``stored`` is stamped only once that mark is visible,
    so a consistency watermark handed out meanwhile is earlier than every ``stored`` here (docs/design.md,
    invariant 9: a client that polls with since=<watermark> misses nothing). If the append fails
    the claims stay: the log may have stored part of it, and a retry with the same content is
    SAME, so it goes through. A statement the log refuses as too large was refused before
    anything was written: its new ids are given back."""
    claimed = services.claims.claim_each(CLAIMS, [w.prints for w in group], in_flight_since=utc_iso())
    accepted: list[tuple[Write, dict[str, Claim]]] = []
    for write, claims in zip(group, claimed):
        conflicting = [sid for sid, c in claims.items() if c is Claim.DIFFERENT]
        if conflicting:
            write.finish(error=Conflict(f"statement {conflicting[0]} already exists with different content; statements are immutable"))
        else:
            accepted.append((write, claims))
    if not accepted:
        return
    stored = utc_iso()
    for write, _ in accepted:
        for statement, untimed in zip(write.statements, write.untimed):
            statement["stored"] = stored
            if untimed:
                statement["timestamp"] = stored
    try:
        positions = append(services, _events(services, [s for write, _ in accepted for s in write.statements], _prints(accepted), stored))
    except RequestTooLarge:
        if len(accepted) > 1:  # one of them is too large for the log: each on its own, to find it
            for write, claims in accepted:
                _append_alone(services, write, claims, stored)
            return
        write, claims = accepted[0]
        services.claims.release(CLAIMS, [sid for sid, c in claims.items() if c is Claim.NEW])
        raise
    except PersonBeingErased:
        if len(accepted) > 1:  # only the writes naming the person being erased wait: each on its own, to find them
            for write, claims in accepted:
                _append_alone(services, write, claims, stored)
            return
        accepted[0][0].finish(error=Unavailable(_retry_advice(accepted[0][0].assigned), cause="database"))
        return
    except Unconfirmed:
        for write, _ in accepted:
            write.finish(error=Unavailable(_retry_advice(write.assigned), cause="log"))
        return
    _applied_in_group(services, positions)
    for write, _ in accepted:  # the events are in the order of the writes' statements
        write.positions, positions = positions[: len(write.statements)], positions[len(write.statements) :]
        metrics.STATEMENTS_APPENDED.inc(len(write.statements))
        write.finish(ids=[s["id"] for s in write.statements])


def _append_alone(services: Services, write: Write, claims: dict[str, Claim], stored: str) -> None:
    try:
        write.positions = append(services, _events(services, write.statements, write.prints, stored))
        _applied_in_group(services, write.positions)
    except RequestTooLarge as exc:
        services.claims.release(CLAIMS, [sid for sid, c in claims.items() if c is Claim.NEW])
        write.finish(error=exc)
    except Unconfirmed:
        write.finish(error=Unavailable(_retry_advice(write.assigned), cause="log"))
    except XAPIError as exc:
        write.finish(error=exc)
    else:
        metrics.STATEMENTS_APPENDED.inc(len(write.statements))
        write.finish(ids=[s["id"] for s in write.statements])


def _retry_advice(assigned: list[str]) -> str:
    """What a client told 503 for an unconfirmed append must do: the log may still store the
    statements, so a retry must carry the same ids (the same content under the same id is a
    no-op; a statement sent without an id and sent again without one would be stored twice)."""
    advice = "the log did not confirm the write and may still store it; retry with the same statements and the same ids"
    if not assigned:
        return advice
    shown = ", ".join(assigned[:20]) + (f" and {len(assigned) - 20} more" if len(assigned) > 20 else "")
    return f"{advice} (those sent without an id were given: {shown})"


def _prints(accepted: list[tuple[Write, dict[str, Claim]]]) -> dict[str, str]:
    return {sid: p for write, _ in accepted for sid, p in write.prints.items()}


def _events(services: Services, completed: list[dict[str, Any]], prints: dict[str, str], stored: str) -> list[Event]:
    """One ``statement.stored`` event per statement, its personal parts sealed with the keys of
    the people they name (events/sealing.py; the keys of a whole group in one lookup), keyed by
    the keyed hash of its actor (one learner's statements stay in order on the log, and the log's
    keys name nobody), recorded when it was stored."""
    owners = [statement_owners(s) for s in completed]  # found once per statement, used three times
    persons = {actor for actor, _ in owners} | {person for _, slots in owners for _, person in slots}
    try:
        keys = services.keyring.current_keys(persons)
    except BeingErased as exc:
        raise PersonBeingErased(f"{exc}; retry with the same statements and the same ids", cause="database") from None
    except LogUnavailable:
        raise Unconfirmed("the key store is unavailable; retry later", cause="database") from None
    return [
        Event(
            type=STATEMENT_STORED,
            key=services.keyring.ref(owner[0]),
            data=seal_statement(s, prints[s["id"]], keys, owner),
            recorded=stored,
        )
        for s, owner in zip(completed, owners)
    ]


def append(services: Services, events: Sequence[Event]) -> list[Position]:
    """Append events to the log, or answer 503 when it does not accept them (or is not the log
    the views were applied from: nothing is acknowledged that could not be shown), 413 when one
    is larger than the log stores."""
    events = [_sealed_members(services, e) if e.type == COHORT_DEFINED and "sealed" not in e.data else e for e in events]
    try:
        highest = services.guard.check()
        positions = services.log.append(list(events))
        services.guard.check_positions(positions, highest)
        return positions
    except LogMismatch as exc:
        metrics.APPEND_FAILURES.labels("log_mismatch").inc()
        raise Unavailable(exc.public, cause="log_mismatch") from None
    except EventTooLarge as exc:
        metrics.APPEND_FAILURES.labels("too_large").inc()
        raise RequestTooLarge(f"statement too large: {exc}") from None
    except LogUnavailable:
        metrics.APPEND_FAILURES.labels("log_unavailable").inc()
        raise Unconfirmed("the log is unavailable; retry later", cause="log") from None


def _sealed_members(services: Services, event: Event) -> Event:
    """A cohort definition with each member sealed with their own key (they are personal data
    too: an erased person leaves every cohort, in every rebuild)."""
    try:
        keys = services.keyring.current_keys(member_persons(event.data))
    except BeingErased as exc:
        raise Unavailable(f"{exc}", cause="database") from None
    except LogUnavailable:
        raise Unavailable("the key store is unavailable; retry later", cause="database") from None
    return Event(type=event.type, key=event.key, data=seal_members(event.data, keys), id=event.id, recorded=event.recorded)


class Unconfirmed(Unavailable):
    """The log did not confirm an append: it may have stored it or not (a timeout), so 503."""


class PersonBeingErased(Unconfirmed):
    """A statement of the group names a person whose erasure is under way: nothing was appended."""


def append_and_wait(services: Services, events: Sequence[Event], projection: str) -> list[Position]:
    """Append events, then wait (bounded) until ``projection`` has applied them: read-your-writes
    for every command. In the embedded mode the calling thread applies what is pending itself."""
    positions = append(services, events)
    wait_applied(services, positions, projection)
    return positions


def wait_applied(services: Services, positions: Sequence[Position], projection: str) -> None:
    """Wait (bounded) until ``projection`` has applied ``positions`` (a lagging projection is
    logged, not an error: the events are on the log). In the embedded mode the calling thread
    applies what is pending itself."""
    if not positions:
        return
    if services.settings.projections_in_process:
        services.runner.apply_now()
    settings = services.settings
    waited, started, outcome = False, time.perf_counter(), "no_waiter_free"
    if services.waiters.acquire(timeout=0.5):  # some request threads always stay free for others
        try:
            waited = services.consistency.wait_for(projection, positions, settings.consistency_wait_s, settings.consistency_stall_s)
            outcome = "applied" if waited else "lagging"
        finally:
            services.waiters.release()
    metrics.CONSISTENCY_WAIT.labels(projection, outcome).observe(time.perf_counter() - started)
    if not waited:
        log.warning("events appended but not yet applied by %s: the projection lags", projection)


def _check_voiding(services: Services, statements: list[dict[str, Any]]) -> None:
    """A voiding statement cannot target a voiding statement (Data 2.3.2)."""
    batch = {s["id"]: s for s in statements}
    for s in statements:
        obj = s.get("object") or {}
        if s["verb"]["id"] != VOIDED_VERB or obj.get("objectType") != "StatementRef":
            continue
        target_id = str(obj.get("id", "")).lower()
        target = batch.get(target_id) or services.statements.get(target_id, voided=None)
        if target is not None and target["verb"]["id"] == VOIDED_VERB:
            raise BadRequest(f"object.id: statement {target_id} is a voiding statement and cannot be voided")
