"""The document store: State, Activity Profile and Agent Profile documents (xAPI 2.0.0
Communication 2.2-2.7 and 3.1; 1.0.3 Part Three 2.2-2.7 and 3.1). One table, three key shapes.

Documents are not on the log (docs/design.md): they are small mutable records that a client
overwrites, merges and deletes, guarded by ETags, so they live in a store of their own.

Keys
  state             activityId + agent + registration (may be empty) + stateId
  activity profile  activityId + profileId
  agent profile     agent + profileId
The part of a key without the document id is its :class:`Scope`: what "GET ids" lists and what
"DELETE all state" removes. Agents are keyed by their inverse functional identifier
(:func:`projections.statements.agent_key`). Long IRIs are hashed into the indexed columns.

Concurrency
  Every write is a compare-and-set on a per-document ``revision`` (random per write): read the
  document, decide (preconditions, merge), then write only if the revision is still the one
  read, else decide again. Two writers holding the same ``If-Match`` cannot both win: the loser re-reads, finds a
  new ETag and gets 412. The ETag is the SHA-1 of the content (1.0.3 Part Three 3.1 demands it;
  2.0.0 permits it), lower-case hex, sent quoted.

What a request without ``If-Match``/``If-None-Match`` may do (see :class:`Unconditional`)
  State, 1.0.x client   create or overwrite (1.0.3 3.1: State permits requests without
                        concurrency headers; packaged courses rely on it)
  State, 2.0.x client   create; overwriting an existing document is 409 (2.0.0 suite, 4.1.4)
  Profiles, any client  overwriting is 409 (3.1 LRS requirements); creating is 400, because a
                        client MUST send one of the headers (3.1 client requirements; the 1.0.3
                        suite, XAPI-00273, expects the rejection). Neither version lists 428.
POST merges JSON objects (2.2 "JSON Procedure"); DELETE honours ``If-Match`` and
``If-None-Match`` as RFC 7232 describes; neither needs a header.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from events import utc_iso
from events.sql import bytewise

from lrs.errors import BadRequest, Conflict, PreconditionFailed, Unavailable
from schemas import strict_json
from schemas.agents import person_key_of

log = logging.getLogger(__name__)

STATE = "state"
ACTIVITY_PROFILE = "activity_profile"
AGENT_PROFILE = "agent_profile"
KINDS = (STATE, ACTIVITY_PROFILE, AGENT_PROFILE)

JSON = "application/json"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: How often a write decides again after another writer changed the document under it.
ATTEMPTS = 20

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

documents = sa.Table(
    "xapi_documents",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("scope", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("activity_id", sa.Text, nullable=False),
    sa.Column("agent", sa.Text, nullable=False),
    sa.Column("registration", sa.String(36), nullable=False),
    sa.Column("document_id", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("etag", sa.String(40), nullable=False),
    sa.Column("updated", bytewise(32), nullable=False),
    sa.Column("revision", sa.String(32), nullable=False),
    sa.Index("ix_xapi_documents_scope", "scope", "updated"),
)


def _digest(parts: list[str]) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()




# ---- keys and values ---------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """A key without its document id: the documents of one activity, agent, or both."""

    kind: str
    activity_id: str = ""
    agent: str = ""

    @property
    def digest(self) -> str:
        return _digest([self.kind, self.activity_id, self.agent])


@dataclass(frozen=True)
class DocumentKey:
    scope: Scope
    document_id: str
    registration: str = ""

    @property
    def digest(self) -> str:
        s = self.scope
        return _digest([s.kind, s.activity_id, s.agent, self.registration, self.document_id])


@dataclass(frozen=True)
class Body:
    """Content as a client sent it: bytes and the Content-Type header, both kept exactly."""

    content: bytes
    content_type: str = DEFAULT_CONTENT_TYPE

    @property
    def is_json(self) -> bool:
        return self.content_type.split(";", 1)[0].strip().lower() == JSON

    def json_object(self) -> dict[str, Any] | None:
        """The content as a JSON object, or None when it is not one (or not strict JSON: nested
        past the limit, a non-finite number, a NUL -- see :mod:`schemas.strict_json`)."""
        try:
            value = strict_json.loads(self.content.decode("utf-8"))
        except (strict_json.JsonProblem, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Document(Body):
    etag: str = ""
    updated: str = ""
    #: Random per write: what a compare-and-set compares (an ETag repeats when content does).
    revision: str = ""


@dataclass(frozen=True)
class Listed:
    """A document with the key it is kept under (:meth:`DocumentStore.of_agent`)."""

    activity_id: str
    registration: str
    document_id: str
    document: Document


def etag_of(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


# ---- the xAPI rules ----------------------------------------------------------------------

@dataclass(frozen=True)
class Preconditions:
    """``If-Match`` / ``If-None-Match``: None when the header is absent, else its entity tags."""

    if_match: frozenset[str] | None = None
    if_none_match: frozenset[str] | None = None

    @property
    def given(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None

    def check(self, current: Document | None) -> None:
        """Raise 412 unless the preconditions hold for ``current`` (RFC 7232 section 3)."""
        if self.if_match is not None:
            if current is None:
                raise PreconditionFailed("If-Match: there is no such document")
            if "*" not in self.if_match and current.etag not in self.if_match:
                raise PreconditionFailed("If-Match: the document has changed; GET it for its current ETag")
        if self.if_none_match is not None and current is not None:
            if "*" in self.if_none_match or current.etag in self.if_none_match:
                raise PreconditionFailed("If-None-Match: the document exists")


class Unconditional(enum.Enum):
    """What a PUT carrying neither ``If-Match`` nor ``If-None-Match`` may do."""

    OVERWRITE = "create or overwrite"
    CREATE = "create only"
    REFUSE = "nothing"


OVERWRITE_CONFLICT = (
    "the document already exists and the request has no If-Match or If-None-Match header: "
    "GET the document to check its current state, then PUT again with If-Match set to its ETag"
)
PRECONDITION_MISSING = (
    "a PUT to a profile document needs an If-Match header (the ETag of the document it replaces) "
    "or If-None-Match: * (to create it)"
)


def for_put(body: Body, pre: Preconditions, unconditional: Unconditional) -> Callable[[Document | None], Body]:
    def decide(current: Document | None) -> Body:
        pre.check(current)
        if not pre.given:
            if current is not None and unconditional is not Unconditional.OVERWRITE:
                raise Conflict(OVERWRITE_CONFLICT)
            if current is None and unconditional is Unconditional.REFUSE:
                raise BadRequest(PRECONDITION_MISSING)
        return body

    return decide


def for_post(body: Body, pre: Preconditions) -> Callable[[Document | None], Body]:
    """POST stores a new document as sent, and merges a JSON object into an existing one."""

    def decide(current: Document | None) -> Body:
        pre.check(current)
        posted = body.json_object() if body.is_json else None
        if body.is_json and posted is None:
            raise BadRequest("the posted document has Content-Type application/json but is not a JSON object")
        if current is None:
            return body
        if posted is None:
            raise BadRequest(
                "POST merges JSON objects: send the document as application/json, or PUT to replace the document"
            )
        stored = current.json_object() if current.is_json else None
        if stored is None:
            raise BadRequest("POST cannot merge into the stored document, which is not a JSON object; PUT to replace it")
        merged = dict(stored)
        merged.update(posted)  # top-level properties only (2.2 "JSON Procedure")
        return Body(json.dumps(merged, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), body.content_type)

    return decide


def for_delete(pre: Preconditions) -> Callable[[Document | None], None]:
    def decide(current: Document | None) -> None:
        pre.check(current)
        return None

    return decide


# ---- the store ---------------------------------------------------------------------------

class DocumentStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def get(self, key: DocumentKey) -> Document | None:
        with _database(), self._engine.connect() as conn:
            row = conn.execute(sa.select(documents).where(documents.c.key == key.digest)).first()
        return None if row is None else _document(row)

    def ids(self, scope: Scope, registration: str | None = None, since: str | None = None) -> list[tuple[str, str]]:
        """(document id, updated) of a scope's documents, oldest first; ``since`` is exclusive.

        Without ``registration`` every registration's State counts (Communication 2.3: "for this
        context (Activity + Agent [+ registration if specified])").
        """
        d = documents
        query = sa.select(d.c.document_id, d.c.updated).where(d.c.scope == scope.digest)
        if registration is not None:
            query = query.where(d.c.registration == registration)
        if since is not None:
            query = query.where(d.c.updated > since)
        query = query.order_by(d.c.updated, d.c.document_id)
        with _database(), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        seen: dict[str, str] = {}
        for row in rows:  # one id may name a document under several registrations
            seen[row.document_id] = row.updated
        return sorted(seen.items(), key=lambda item: (item[1], item[0]))

    def of_agent(self, kind: str, agent: str) -> list[Listed]:
        """Every document of ``kind`` (State or Agent Profile) kept under the agent key ``agent``,
        whatever its activity and registration, ordered by activity, registration and id: what an
        export of a person lists. State is found by a scan of the agent column (no index holds the
        agent alone); an export is an occasional administrative read."""
        d = documents
        query = sa.select(d).where(d.c.kind == kind, d.c.agent == agent)
        if kind == AGENT_PROFILE:
            query = query.where(d.c.scope == Scope(AGENT_PROFILE, "", agent).digest)  # the indexed column
        query = query.order_by(d.c.activity_id, d.c.registration, d.c.document_id)
        with _database(), self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Listed(row.activity_id, row.registration, row.document_id, _document(row)) for row in rows]

    def change(self, key: DocumentKey, decide: Callable[[Document | None], Body | None]) -> Document | None:
        """Apply ``decide`` to the current document (None: absent) and store what it returns
        (None: delete), unless another writer got in between: then decide again."""
        for _attempt in range(ATTEMPTS):
            current = self.get(key)
            wanted = decide(current)
            if wanted is None:
                if current is None or self._delete(key, current):
                    return None
                continue
            written = Document(wanted.content, wanted.content_type, etag_of(wanted.content), utc_iso(), uuid.uuid4().hex)
            if self._write(key, current, written):
                return written
        raise Unavailable("the document is being changed by many writers at once; retry", cause="document_contention")

    def delete_all(self, scope: Scope, registration: str | None = None) -> int:
        query = documents.delete().where(documents.c.scope == scope.digest)
        if registration is not None:
            query = query.where(documents.c.registration == registration)
        with _database(), self._engine.begin() as conn:
            return conn.execute(query).rowcount

    def delete_person(self, person: str, agents: list[str]) -> int:
        """Delete every State and Agent Profile document of a person (an erasure): those kept under
        any of ``agents`` (agent keys), and -- an address and its hash being one person
        (schemas.agents.person_key) -- those kept under the person's ``mbox_sha1sum`` or under a
        ``mailto:`` whose SHA-1 is the person's."""
        d = documents
        mine = [a for a in agents if a]
        with _database(), self._engine.begin() as conn:
            if person.startswith("sha1:"):
                mine.append("mbox_sha1sum:" + person.removeprefix("sha1:"))
                rows = conn.execute(sa.select(d.c.agent).where(d.c.kind != ACTIVITY_PROFILE, d.c.agent.like("mbox:%")).distinct())
                mine += [row.agent for row in rows if person_key_of(row.agent) == person]
            if not mine:
                return 0
            return conn.execute(d.delete().where(d.c.kind != ACTIVITY_PROFILE, d.c.agent.in_(sorted(set(mine))))).rowcount

    # ---- compare-and-set ---------------------------------------------------------------------
    def _write(self, key: DocumentKey, current: Document | None, new: Document) -> bool:
        values = dict(content=new.content, content_type=new.content_type, etag=new.etag, updated=new.updated, revision=new.revision)
        try:
            with _database(), self._engine.begin() as conn:
                if current is None:
                    s = key.scope
                    conn.execute(documents.insert().values(
                        key=key.digest, scope=s.digest, kind=s.kind, activity_id=s.activity_id, agent=s.agent,
                        registration=key.registration, document_id=key.document_id, **values,
                    ))
                    return True
                result = conn.execute(
                    documents.update()
                    .where(documents.c.key == key.digest)
                    .where(documents.c.revision == current.revision)
                    .values(**values)
                )
                return result.rowcount == 1
        except IntegrityError:
            return False  # created by another writer since we looked

    def _delete(self, key: DocumentKey, current: Document) -> bool:
        with _database(), self._engine.begin() as conn:
            result = conn.execute(
                documents.delete().where(documents.c.key == key.digest).where(documents.c.revision == current.revision)
            )
            return result.rowcount == 1

@contextlib.contextmanager
def _database() -> Iterator[None]:
    """Turns a database that cannot be reached into 503 (the client retries), nothing else."""
    try:
        yield
    except IntegrityError:
        raise
    except (OperationalError, DBAPIError) as error:
        log.warning("document store unavailable: %s", type(error).__name__)
        raise Unavailable("the document store is unavailable; retry later", cause="database") from error


def _document(row: Any) -> Document:
    return Document(bytes(row.content), row.content_type, row.etag, row.updated, row.revision)
