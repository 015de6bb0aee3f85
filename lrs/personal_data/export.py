"""Export of everything Polku holds about one person (the GDPR's right of access, Art. 15, and
to data portability, Art. 20): ``GET /api/v1/agents/export`` (:mod:`lrs.http.api.export`) and
``polku export``.

A query, nothing more: it reads the statement store, the document store and the cohort views
through the same readers the xAPI and analytics APIs answer from, so the export says what those
APIs say, and it writes nothing. The document:

``agent``, ``exported``, ``polku``, ``consistent_through``
    the Agent asked about (as given), when (UTC), which Polku, and up to which moment the
    statement store and the cohort views had applied the log when the export began.
``statements``
    exactly what ``GET /xapi/statements?agent=A&related_agents=true&format=exact`` returns, every
    page, in its order: the person's own statements and those naming them (as object,
    instructor, team, context agent, authority), and statements referring to those.
``voided_statements``
    the voided statements that name the person, as ``GET ?voidedStatementId`` returns them; a
    query never returns a voided statement, but the voiding statements are among
    ``statements`` (a statement referring to a match matches) and name them.
``state``, ``agent_profiles``
    every State and Agent Profile document kept under the person's identifier, with its key,
    type, ETag and time; JSON content as JSON, anything else in base64.
``cohorts``
    each cohort the person is a member of (a member matches as in the views: an ``mbox`` and its
    ``mbox_sha1sum`` are one person), with the member's rows of the progress, engagement and
    success views as the analytics API returns them, and the member's statements per week.

The ZIP form holds ``export.json`` and ``attachments/<sha2>``, the content of each attachment
of those statements that Polku keeps (an attachment known only by ``fileUrl`` has none).
Its size is bounded: more than ``POLKU_EXPORT_MAX_STATEMENTS`` statements is 413.
"""

from __future__ import annotations

import base64
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import metadata
from typing import IO, Any

from events import utc_iso
from lrs.statements import formats, queries as statement_queries
from lrs.shapes.api_schemas import AgentSchema, EngagementView, ProgressView, SuccessView
from lrs.statements.attachments import attachments_of
from lrs.stores.documents import AGENT_PROFILE, STATE, Listed
from lrs.errors import BadRequest, RequestTooLarge, Unavailable
from lrs.services import Services
from projections.cohort_details import CohortDetails
from projections.cohort_model import member_keys_of
from projections.cohort_views import Cohort, CohortViews
from projections.statements import VOIDED_VERB, index_terms
from schemas import strict_json
from schemas.agents import AgentProblem, person_key
from schemas.validation import agent_parameter

FORMATS = ("json", "zip")
#: How often a cohort redefined while it is being read is read again.
ATTEMPTS = 5


@dataclass
class Export:
    """The export document, and the digests of the attachment contents its statements name."""

    document: dict[str, Any]
    attachments: list[str] = field(default_factory=list)

    @property
    def filename(self) -> str:
        """``polku-export-<time>``: no identifier of the person (file names travel in logs and mail)."""
        return "polku-export-" + self.document["exported"].replace("-", "").replace(":", "").split(".")[0] + "Z"


def parse_agent(raw: str | None, version: str) -> tuple[dict[str, Any], str]:
    """The ``agent`` parameter: an Agent as JSON, held to the rules of a statement's actor, and its
    identifier key; 400 naming ``agent`` otherwise."""
    if raw is None:
        raise BadRequest("agent: parameter is required (an Agent as JSON)")
    try:
        return agent_parameter(raw, version)
    except AgentProblem as exc:
        raise BadRequest(str(exc)) from None


def build(services: Services, raw_agent: str | None) -> Export:
    """Everything Polku holds about the Agent ``raw_agent`` (JSON text)."""
    agent, key = parse_agent(raw_agent, services.settings.default_version)
    limit = services.settings.export_max_statements
    through = {name: services.consistency.consistent_through(name) for name in ("statements", "cohorts")}
    exported = utc_iso()
    statements = _statements(services, key, limit)
    voided = _voided(services, key, statements, limit)
    document = {
        "agent": agent,
        "exported": exported,
        "polku": _version(),
        "consistent_through": through,
        "statements": statements,
        "voided_statements": voided,
        "state": [_document_entry(d, "stateId") for d in services.documents.of_agent(STATE, key)],
        "agent_profiles": [_document_entry(d, "profileId") for d in services.documents.of_agent(AGENT_PROFILE, key)],
        "cohorts": _cohorts(services, agent, datetime.fromisoformat(exported.replace("Z", "+00:00")).date()),
    }
    digests = {str(a.get("sha2", "")).lower() for s in statements + voided for a in attachments_of(s)}
    return Export(document, sorted(d for d in digests if d))


def _too_many(limit: int) -> RequestTooLarge:
    return RequestTooLarge(
        f"the export would hold more than {limit} statements (POLKU_EXPORT_MAX_STATEMENTS); "
        "raise the limit to export this person"
    )


def _statements(services: Services, key: str, limit: int) -> list[dict[str, Any]]:
    """Every page of the Statement API's query ``agent=key&related_agents=true&format=exact``."""
    query: dict[str, Any] = {"agent": key, "related_agents": True, "format": "exact"}
    wanted = statement_queries.statement_filter(query)
    page_size = services.settings.max_page_size
    found: list[dict[str, Any]] = []
    after = None
    while True:
        page = services.statements.query(wanted, page_size, after)
        found += [formats.apply(statement, query["format"]) for statement in page.statements]
        if len(found) > limit:
            raise _too_many(limit)
        if page.next_after is None:
            return found
        after = page.next_after


def _voided(services: Services, key: str, statements: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The voided statements that name the person: targets of the voiding statements found."""
    targets: dict[str, None] = {}  # in the order of the voiding statements, once each
    for statement in statements:
        obj = statement.get("object") or {}
        if statement["verb"]["id"] == VOIDED_VERB and obj.get("objectType") == "StatementRef" and obj.get("id"):
            targets.setdefault(str(obj["id"]).lower())
    voided = []
    for target in targets:
        statement = services.statements.get(target, voided=True)
        if statement is not None and key in {agent for agent, _primary in index_terms(statement)[0]}:
            voided.append(statement)
            if len(statements) + len(voided) > limit:
                raise _too_many(limit)
    return voided


def _document_entry(listed: Listed, id_name: str) -> dict[str, Any]:
    document = listed.document
    entry: dict[str, Any] = {}
    if id_name == "stateId":
        entry["activityId"] = listed.activity_id
        entry["registration"] = listed.registration or None
    entry[id_name] = listed.document_id
    entry |= {"contentType": document.content_type, "updated": document.updated, "etag": document.etag}
    content = _json_content(document.content) if document.is_json else None
    if content is not None:
        entry["content"] = content[0]
    else:
        entry["encoding"] = "base64"
        entry["content"] = base64.b64encode(document.content).decode("ascii")
    return entry


def _json_content(content: bytes) -> tuple[Any] | None:
    """(the JSON value,) of a document's content, or None when it is not (strict) JSON."""
    try:
        return (strict_json.loads(content.decode("utf-8")),)
    except (strict_json.JsonProblem, UnicodeDecodeError):
        return None


def _cohorts(services: Services, agent: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """Each cohort with the person as a member, and the member's rows of its three views."""
    person = person_key(agent)
    views = CohortViews(services.engine)
    found = []
    for cohort in views.cohorts():
        if _position(cohort, person) is not None:
            entry = _membership(services, views, cohort.key, person, today)
            if entry is not None:
                found.append(entry)
    return found


def _membership(services: Services, views: CohortViews, key: str, person: str | None, today: date) -> dict[str, Any] | None:
    """The member's entry of cohort ``key``, from the views as the analytics API dumps them (None:
    the cohort is gone, or the person left it). Each view is read in a snapshot of its own: a
    cohort redefined between the reads is read again."""
    for _attempt in range(ATTEMPTS):
        cohort = views.cohort(key)
        position = _position(cohort, person) if cohort is not None else None
        if cohort is None or position is None:
            return None
        raw = (views.progress(key, today), views.engagement(key), views.success(key))
        if any(view is None or len(view["members"]) != len(cohort.members) for view in raw):
            continue
        progress, engagement, success = (
            schema.dump(view) for schema, view in zip((ProgressView(), EngagementView(), SuccessView()), raw)
        )
        members = {json.dumps(view["members"][position]["member"], sort_keys=True) for view in (progress, engagement, success)}
        if members != {json.dumps(AgentSchema().dump(cohort.members[position]), sort_keys=True)}:
            continue
        start, end = (date.fromisoformat(engagement[k]) for k in ("from", "to"))
        weekly = CohortDetails(services.engine).member_weeks(key, start, end).get(position, {})
        return {
            "key": cohort.key,
            "name": cohort.name,
            "programme": cohort.programme,
            "position": position,
            "member": cohort.members[position],
            "progress": {"as_of": progress["as_of"], "row": progress["members"][position]},
            "engagement": {
                "from": engagement["from"],
                "to": engagement["to"],
                "row": engagement["members"][position],
                "weeks": [{"week": w["week"], "statements": weekly.get(w["week"], 0)} for w in engagement["weeks"]],
            },
            "success": {"row": success["members"][position]},
        }
    raise Unavailable(f"cohort {key!r} is being redefined; export again")


def _position(cohort: Cohort, person: str | None) -> int | None:
    """The member position of the person in ``cohort``, matched as the views match (any of a
    member's identifiers; an mbox and its mbox_sha1sum are one person)."""
    for position, member in enumerate(cohort.members):
        if person in member_keys_of(member):
            return position
    return None


def _version() -> str:
    try:
        return metadata.version("polku")
    except metadata.PackageNotFoundError:
        return "unknown"


# ---- the ZIP form ----------------------------------------------------------------------------

def write_zip(export: Export, services: Services, out: IO[bytes]) -> int:
    """``export.json`` and ``attachments/<sha2>`` for each attachment content Polku keeps; how
    many contents it wrote."""
    written = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", to_json(export.document))
        for digest in export.attachments:
            for held, content in services.blobs.get([digest]).items():  # one at a time: bounded memory
                archive.writestr(f"attachments/{held}", content)
                written += 1
    return written


def to_json(document: dict[str, Any], indent: int | None = None) -> bytes:
    separators = None if indent else (",", ":")
    return json.dumps(document, ensure_ascii=False, indent=indent, separators=separators).encode("utf-8")
