"""The statement store: the xAPI read model, a projection of ``statement.stored`` events.

Tables
  ``xapi_statements``            one row per statement id: the stored JSON and the columns
                                 queries filter and sort on (stored, verb, registration, voided)
  ``xapi_statement_agents``      (statement, agent key, primary?, and the statement's verb and
                                 stored) for the ``agent`` filter, which reads from it in order
  ``xapi_statement_activities``  (statement, activity id, primary?) for the ``activity`` filter
  ``xapi_voids``                 voided target id -> voiding statement id; a voiding statement may
                                 be applied before its target, which then arrives voided
  ``xapi_statement_refs``        (statement, target) for every statement a statement reaches by a
                                 chain of StatementRef objects: a targets b targets c gives (a, b),
                                 (a, c), (b, c); kept whichever order the three arrive in

Rules applied here (xAPI 2.0.0, Data 2.2 / Communication 2.1.1): a repeated id is a no-op (the
write path has already refused different content under one id); a voiding statement marks its
target voided unless the target is itself a voiding statement. Ordering is by (stored, id), which
the log fixes, so a rebuild gives the same rows and the same pages as the live projection.

Queries (Communication 2.1.3 and "Filter Conditions for StatementRefs", 2.1.4; 1.0.3 Part Three
2.1.3, 2.1.4): voided statements are never returned by a query, but they still count as targets:
a statement whose object is a StatementRef matches the filters other than since, until and limit
when a statement it reaches by StatementRefs matches them, voided or not. since and until always
apply to the returned statement itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from events import Record, blobs, claims
from events.sql import DeflatedText, bytewise
from events.sealing import AGENT_ERASED, STATEMENT_SHREDDED
from projections.base import Projection
from schemas.agents import agent_key
from schemas.personal import anonymise, persons_in

log = logging.getLogger(__name__)

STATEMENT_STORED = "statement.stored"
#: retention (lrs/personal_data/retention.py): statements stored before a cutoff leave the read models
STATEMENTS_EXPIRED = "statements.expired"
VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

statements = sa.Table(
    "xapi_statements",
    metadata,
    sa.Column("id", bytewise(36), primary_key=True),
    sa.Column("stored", bytewise(32), nullable=False),
    sa.Column("verb_id", sa.Text, nullable=False),
    sa.Column("registration", sa.String(36), nullable=True),
    sa.Column("voided", sa.Boolean, nullable=False, default=False),
    sa.Column("voids", sa.String(36), nullable=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("body", DeflatedText, nullable=False),  # the statement as compact JSON, deflated (revision 0007)
    # the identifier key of the statement's authority: what statements/read/mine reads by
    sa.Column("authority", sa.String(300), nullable=True),
    sa.Index("ix_xapi_statements_stored", "stored", "id"),
    sa.Index("ix_xapi_statements_authority", "authority", "stored", "id"),
    sa.Index("ix_xapi_statements_verb", "verb_id", "stored", "id"),
    sa.Index("ix_xapi_statements_registration", "registration", "stored", "id"),
)

statement_agents = sa.Table(
    "xapi_statement_agents",
    metadata,
    sa.Column("statement_id", sa.String(36), sa.ForeignKey("xapi_statements.id"), primary_key=True),
    sa.Column("agent", sa.Text, primary_key=True),
    sa.Column("is_primary", sa.Boolean, primary_key=True),
    # the statement's verb and stored time beside each key (revision 0007): the agent filter, with
    # or without verb and since/until, reads a page from one index in stored order
    sa.Column("verb_id", sa.Text, nullable=False),
    sa.Column("stored", bytewise(32), nullable=False),
    sa.Index("ix_xapi_statement_agents_read", "agent", "is_primary", "verb_id", "stored", "statement_id"),
    sqlite_with_rowid=False,  # SQLite: the primary key's tree is the table (revision 0007)
)

statement_activities = sa.Table(
    "xapi_statement_activities",
    metadata,
    sa.Column("statement_id", sa.String(36), sa.ForeignKey("xapi_statements.id"), primary_key=True),
    sa.Column("activity", sa.Text, primary_key=True),
    sa.Column("is_primary", sa.Boolean, primary_key=True),
    sa.Index("ix_xapi_statement_activities_activity", "activity", "statement_id"),
    sqlite_with_rowid=False,  # SQLite: the primary key's tree is the table (revision 0007)
)

voids = sa.Table(
    "xapi_voids",
    metadata,
    sa.Column("target_id", sa.String(36), primary_key=True),
    sa.Column("voiding_id", sa.String(36), nullable=False),
)

#: every identified Agent or Group a statement names (schemas.personal.persons_in): what an
#: erasure finds a person's statements and mentions by
statement_people = sa.Table(
    "xapi_statement_people",
    metadata,
    sa.Column("statement_id", sa.String(36), sa.ForeignKey("xapi_statements.id"), primary_key=True),
    sa.Column("person", sa.String(300), primary_key=True),
    sa.Column("is_actor", sa.Boolean, primary_key=True),
    sa.Index("ix_xapi_statement_people_person", "person", "is_actor", "statement_id"),
    sqlite_with_rowid=False,  # SQLite: the primary key's tree is the table (revision 0007)
)

#: the attachments a statement carries: an erasure deletes the bytes no one else references
statement_attachments = sa.Table(
    "xapi_statement_attachments",
    metadata,
    sa.Column("statement_id", sa.String(36), sa.ForeignKey("xapi_statements.id"), primary_key=True),
    sa.Column("sha2", sa.String(128), primary_key=True),
    sa.Index("ix_xapi_statement_attachments_sha2", "sha2", "statement_id"),
    sqlite_with_rowid=False,  # SQLite: the primary key's tree is the table (revision 0007)
)

statement_refs = sa.Table(
    "xapi_statement_refs",
    metadata,
    sa.Column("statement_id", sa.String(36), primary_key=True),
    sa.Column("target_id", sa.String(36), primary_key=True),
    sa.Index("ix_xapi_statement_refs_target", "target_id", "statement_id"),
)


# ---- identities --------------------------------------------------------------------------

def authority_key(statement: dict[str, Any]) -> str | None:
    """The identifier key of a statement's authority (an Agent the LRS set), at most 300 characters."""
    key = agent_key(statement.get("authority") or {})
    return key[:300] if key else None


def _agents_in(actor: Any) -> Iterator[str]:
    """Keys of an Agent/Group and, for a Group, of its members."""
    if not isinstance(actor, dict):
        return
    key = agent_key(actor)
    if key:
        yield key
    for member in actor.get("member") or []:
        key = agent_key(member)
        if key:
            yield key


def index_terms(statement: dict[str, Any]) -> tuple[set[tuple[str, bool]], set[tuple[str, bool]]]:
    """(agents, activities) a statement matches, each with whether the match is primary.

    Primary: the actor or an Agent/Group object (``agent`` filter), the Activity object
    (``activity`` filter). Related (``related_agents`` / ``related_activities``): authority,
    instructor, team, context agents and groups, context activities, and the same parts of a
    SubStatement object.
    """
    agents: set[tuple[str, bool]] = set()
    activities: set[tuple[str, bool]] = set()

    def visit(stmt: dict[str, Any], primary: bool) -> None:
        for key in _agents_in(stmt.get("actor")):
            agents.add((key, primary))
        obj = stmt.get("object") or {}
        kind = obj.get("objectType", "Activity")
        if kind in ("Agent", "Group"):
            for key in _agents_in(obj):
                agents.add((key, primary))
        elif kind == "Activity" and obj.get("id"):
            activities.add((obj["id"], primary))
        elif kind == "SubStatement":
            visit(obj, False)
        context = stmt.get("context") or {}
        for role in ("instructor", "team"):
            for key in _agents_in(context.get(role)):
                agents.add((key, False))
        for entry in context.get("contextAgents") or []:
            for key in _agents_in(entry.get("agent")):
                agents.add((key, False))
        for entry in context.get("contextGroups") or []:
            for key in _agents_in(entry.get("group")):
                agents.add((key, False))
        for group in (context.get("contextActivities") or {}).values():
            for activity in group if isinstance(group, list) else [group]:
                if isinstance(activity, dict) and activity.get("id"):
                    activities.add((activity["id"], False))

    visit(statement, True)
    for key in _agents_in(statement.get("authority")):
        agents.add((key, False))
    # A primary match is also a related one: index both so one lookup serves each filter.
    agents |= {(key, False) for key, _ in agents}
    activities |= {(iri, False) for iri, _ in activities}
    return agents, activities


def index_rows(statement: dict[str, Any]) -> dict[sa.Table, list[dict[str, Any]]]:
    """The rows of every index table for one statement (not the statement row itself)."""
    statement_id, verb_id, stored = statement["id"], statement["verb"]["id"], statement["stored"]
    agents, activities = index_terms(statement)
    hashes = sorted({a["sha2"] for a in statement.get("attachments") or [] if isinstance(a, dict) and isinstance(a.get("sha2"), str)})
    return {
        statement_agents: [
            {"statement_id": statement_id, "agent": k, "is_primary": p, "verb_id": verb_id, "stored": stored} for k, p in sorted(agents)
        ],
        statement_activities: [{"statement_id": statement_id, "activity": a, "is_primary": p} for a, p in sorted(activities)],
        statement_people: [{"statement_id": statement_id, "person": k[:300], "is_actor": a} for k, a in sorted(persons_in(statement))],
        statement_attachments: [{"statement_id": statement_id, "sha2": h} for h in hashes],
    }


#: the index tables, children of ``xapi_statements``
INDEX_TABLES = (statement_agents, statement_activities, statement_people, statement_attachments)


# ---- the projection ----------------------------------------------------------------------

class StatementStore(Projection):
    name = "statements"
    event_types = frozenset({STATEMENT_STORED, STATEMENT_SHREDDED, AGENT_ERASED, STATEMENTS_EXPIRED})
    metadata = metadata

    def apply_batch(self, conn: sa.Connection, records: list[Record]) -> None:
        """Runs of stored statements go set-wise (:meth:`_apply_stored`); a shredded statement or an
        erasure ends a run and is applied on its own, in log order."""
        run: list[Record] = []
        for record in records:
            if record.event.type == STATEMENT_STORED:
                run.append(record)
                continue
            if run:
                self._apply_stored(conn, run)
                run = []
            self.apply(conn, record)
        if run:
            self._apply_stored(conn, run)

    def _apply_stored(self, conn: sa.Connection, records: list[Record]) -> None:
        """The batch in one insert per table: one lookup of the ids already stored and of those
        already voided, then the rows of every new statement that neither voids nor references
        another. Those few go one by one after the rest, as :meth:`apply` does; the result is the
        same as in log order, because a voiding statement applied later still voids its target
        and StatementRef links are kept whichever order their statements arrive in."""
        batch = [(record, record.event.data["statement"], record.event.data["fingerprint"]) for record in records]
        ids = sorted({statement["id"] for _, statement, _ in batch})
        claims.landed_all(conn, claims.STATEMENT_IDS, ids)  # readable once this commits
        s = statements
        held = dict(conn.execute(sa.select(s.c.id, s.c.fingerprint).where(s.c.id.in_(ids))).all())
        voided = set(conn.scalars(sa.select(voids.c.target_id).where(voids.c.target_id.in_(ids))))
        rows: list[dict[str, Any]] = []
        index: dict[sa.Table, list[dict[str, Any]]] = {table: [] for table in INDEX_TABLES}
        later: list[Record] = []
        for record, statement, fingerprint in batch:
            statement_id = statement["id"]
            if statement_id in held:
                if held[statement_id] != fingerprint:
                    log.warning("statement %s repeated with different content; the first stays", statement_id)
                continue
            held[statement_id] = fingerprint
            obj = statement.get("object") or {}
            if obj.get("objectType") == "StatementRef":
                later.append(record)
                continue
            rows.append(_row(statement, fingerprint, voided=statement_id in voided, voids_id=None))
            for table, table_rows in index_rows(statement).items():
                index[table] += table_rows
        for table, table_rows in ((statements, rows), *index.items()):
            if table_rows:
                conn.execute(table.insert(), table_rows)
        for record in later:
            self.apply(conn, record)

    def apply(self, conn: sa.Connection, record: Record) -> None:
        if record.event.type == STATEMENTS_EXPIRED:
            expire_statements(conn, record.event.data)
            return
        if record.event.type == AGENT_ERASED:
            erase_person(conn, record.event.data)
            return
        if record.event.type == STATEMENT_SHREDDED:
            # its actor was erased before it was applied: the id stays spent, the content's hash goes
            claims.erased(conn, claims.STATEMENT_IDS, [str(record.event.data["statement"].get("id", "")).lower()])
            _void_only(conn, record.event.data["statement"])
            return
        data = record.event.data
        statement = data["statement"]
        statement_id = statement["id"]
        claims.landed(conn, claims.STATEMENT_IDS, statement_id)  # readable now: the watermark may pass it
        existing = conn.execute(sa.select(statements.c.fingerprint).where(statements.c.id == statement_id)).first()
        if existing is not None:
            if existing.fingerprint != data["fingerprint"]:
                log.warning("statement %s repeated with different content; the first stays", statement_id)
            return
        obj = statement.get("object") or {}
        referenced = str(obj["id"]).lower() if obj.get("objectType") == "StatementRef" and obj.get("id") else None
        target = referenced if statement["verb"]["id"] == VOIDED_VERB else None
        # A voiding statement is never voided; any other may have been voided before it arrived.
        voided = target is None and (
            conn.execute(sa.select(voids.c.target_id).where(voids.c.target_id == statement_id)).first() is not None
        )
        conn.execute(statements.insert(), [_row(statement, data["fingerprint"], voided=voided, voids_id=target)])
        for table, table_rows in index_rows(statement).items():
            if table_rows:
                conn.execute(table.insert(), table_rows)
        if referenced is not None:
            _link(conn, statement_id, referenced)
        if target is not None:
            _void(conn, target, statement_id)


def _void(conn: sa.Connection, target: str, voiding_id: str) -> None:
    """Mark ``target`` voided by ``voiding_id`` (remembered if the target has not arrived yet)."""
    if conn.execute(sa.select(voids.c.target_id).where(voids.c.target_id == target)).first() is None:
        conn.execute(voids.insert().values(target_id=target, voiding_id=voiding_id))
    conn.execute(statements.update().where(statements.c.id == target).where(statements.c.voids.is_(None)).values(voided=True))


def _void_only(conn: sa.Connection, statement: dict[str, Any]) -> None:
    """A statement whose actor was erased before it was applied (``statement.shredded``): it is not
    stored, but what it refers to stays as a view that applied it and then erased its actor has it:
    its StatementRef links (ids only: a chain through it still reaches on) and, if it voids another
    statement, that one stays voided."""
    obj = statement.get("object") or {}
    if obj.get("objectType") != "StatementRef" or not obj.get("id"):
        return
    statement_id, target = str(statement.get("id", "")).lower(), str(obj["id"]).lower()
    _link(conn, statement_id, target)
    if statement.get("verb", {}).get("id") == VOIDED_VERB:
        _void(conn, target, statement_id)


def erase_person(conn: sa.Connection, data: dict[str, Any]) -> tuple[int, int]:
    """Apply an ``agent.erased`` event: the person's own statements leave the store (what they
    voided stays voided, and their StatementRef links stay: ids only, as a rebuild links them from
    the shredded statement), and where they appear in someone else's statement the anonymous agent
    takes their place. Returns (statements removed, statements anonymised). An erasure whose
    identity can no longer be opened (its key is deleted: a rebuild) finds nothing to do: the
    person's parts of the log were never readable to this rebuild."""
    identity = data.get("identity")
    if not isinstance(identity, dict) or not identity.get("person"):
        return 0, 0
    person = str(identity["person"])[:300]
    p = statement_people
    own = sorted(set(conn.scalars(sa.select(p.c.statement_id).where(p.c.person == person, p.c.is_actor.is_(True)))))
    for chunk in _chunks(own):
        claims.erased(conn, claims.STATEMENT_IDS, chunk)
        for table in INDEX_TABLES:
            conn.execute(table.delete().where(table.c.statement_id.in_(chunk)))
        conn.execute(statements.delete().where(statements.c.id.in_(chunk)))
    named = sorted(set(conn.scalars(sa.select(p.c.statement_id).where(p.c.person == person))) - set(own))
    for statement_id in named:
        body = conn.execute(sa.select(statements.c.body).where(statements.c.id == statement_id)).scalar()
        if body is None:
            continue
        changed, _ = anonymise(json.loads(body), {person})
        conn.execute(
            statements.update().where(statements.c.id == statement_id).values(body=json.dumps(changed, separators=(",", ":"), ensure_ascii=False))
        )
        for table, table_rows in index_rows(changed).items():
            if table in (statement_agents, statement_people):
                conn.execute(table.delete().where(table.c.statement_id == statement_id))
                if table_rows:
                    conn.execute(table.insert(), table_rows)
    return len(own), len(named)


def expire_statements(conn: sa.Connection, data: dict[str, Any]) -> int:
    """Apply ``statements.expired`` (retention): the statements stored before ``data["before"]``
    leave the store -- all of them, or (a programme's retention) those with one of the
    programme's items (``data["activities"]``) among their activities. What they voided stays
    voided (``xapi_voids`` keeps the ids). Returns how many left."""
    query = sa.select(statements.c.id).where(statements.c.stored < str(data["before"]))
    if data.get("programme") is not None:
        t = statement_activities
        items = sorted({str(a) for a in data.get("activities") or []})
        query = query.where(statements.c.id.in_(sa.select(t.c.statement_id).where(t.c.activity.in_(items))))
    expired = sorted(conn.scalars(query))
    r = statement_refs
    for chunk in _chunks(expired):
        claims.erased(conn, claims.STATEMENT_IDS, chunk)  # the ids stay spent; the content's hash goes
        for table in INDEX_TABLES:
            conn.execute(table.delete().where(table.c.statement_id.in_(chunk)))
        conn.execute(r.delete().where(sa.or_(r.c.statement_id.in_(chunk), r.c.target_id.in_(chunk))))
        conn.execute(statements.delete().where(statements.c.id.in_(chunk)))
    return len(expired)


def _chunks(ids: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _row(statement: dict[str, Any], fingerprint: str, voided: bool, voids_id: str | None) -> dict[str, Any]:
    """The ``xapi_statements`` row of a statement."""
    return dict(
        id=statement["id"],
        stored=statement["stored"],
        verb_id=statement["verb"]["id"],
        registration=(str((statement.get("context") or {}).get("registration") or "").lower() or None),
        voided=voided,
        voids=voids_id,
        fingerprint=fingerprint,
        body=json.dumps(statement, separators=(",", ":"), ensure_ascii=False),
        authority=authority_key(statement),
    )


def _link(conn: sa.Connection, statement_id: str, target_id: str) -> None:
    """Record that ``statement_id`` targets ``target_id``: it and every statement that reaches it
    now reach the target and everything the target reaches."""
    r = statement_refs
    targets = {target_id} | set(conn.scalars(sa.select(r.c.target_id).where(r.c.statement_id == target_id)))
    sources = {statement_id} | set(conn.scalars(sa.select(r.c.statement_id).where(r.c.target_id == statement_id)))
    held = {
        (row.statement_id, row.target_id)
        for row in conn.execute(sa.select(r.c.statement_id, r.c.target_id).where(r.c.statement_id.in_(sorted(sources))))
    }
    new = sorted((s, t) for s in sources for t in targets if s != t and (s, t) not in held)
    if new:
        conn.execute(r.insert(), [{"statement_id": s, "target_id": t} for s, t in new])


# ---- queries -----------------------------------------------------------------------------

@dataclass(frozen=True)
class StatementFilter:
    """The xAPI GET /statements filters (Communication 2.1.3), already parsed."""

    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    since: str | None = None
    until: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    ascending: bool = False
    #: not a client's filter but a restriction: only statements with this authority (statements/read/mine)
    authority: str | None = None


@dataclass(frozen=True)
class Page:
    statements: list[dict[str, Any]]
    #: (stored, id) of the last statement when more may follow, else None
    next_after: tuple[str, str] | None = None


def _within(rows: list, max_bytes: int | None, contents: dict[str, list[tuple[str, int]]], size: Callable[[Any], int]) -> list:
    """The first of ``rows`` whose ``size`` and attachment ``contents`` (each counted once) stay
    within ``max_bytes``: always at least one, all without a limit."""
    if max_bytes is None:
        return list(rows)
    kept, total, counted = [], 0, set()
    for row in rows:
        carried = {digest: length for digest, length in contents.get(row.id, ()) if digest not in counted}
        grown = total + size(row) + sum(carried.values())
        if kept and grown > max_bytes:
            break
        kept.append(row)
        total = grown
        counted.update(carried)
    return kept


def _conditions(f: StatementFilter, s: sa.FromClause, by_agent: bool = True) -> list[sa.ColumnElement[bool]]:
    """The filters other than since/until as conditions on the statements table (or an alias).
    With ``agent``, the verb is matched in the agent index (it holds each statement's verb), so
    that the lookup reads that agent's statements of that verb alone; without ``by_agent``, the
    agent and verb filters are left out (the query reads them from the agent index itself:
    :meth:`StatementReader.query`)."""
    conditions = []
    if f.verb and not f.agent:
        conditions.append(s.c.verb_id == f.verb)
    if f.registration:
        conditions.append(s.c.registration == f.registration.lower())
    if f.agent and by_agent:
        a = statement_agents
        match = sa.select(a.c.statement_id).where(a.c.agent == f.agent, a.c.is_primary == (not f.related_agents))
        if f.verb:
            match = match.where(a.c.verb_id == f.verb)
        conditions.append(s.c.id.in_(match))
    if f.activity:
        t = statement_activities
        match = sa.select(t.c.statement_id).where(t.c.activity == f.activity)
        conditions.append(s.c.id.in_(match.where(t.c.is_primary == (not f.related_activities))))
    return conditions


@dataclass
class StatementReader:
    """Reads the statement store; never writes."""

    engine: sa.Engine

    def unreferenced(self, hashes: list[str]) -> list[str]:
        """Those of ``hashes`` (attachment sha2) no statement in the store carries."""
        if not hashes:
            return []
        a = statement_attachments
        with self.engine.connect() as conn:
            held = set(conn.scalars(sa.select(a.c.sha2).where(a.c.sha2.in_(sorted(set(hashes))))))
        return sorted(set(hashes) - held)

    def held_of(self, person: str) -> tuple[int, int, list[str]]:
        """What an erasure of ``person`` (a person key) reaches: their own statements, the other
        statements that name them, and the attachments (sha2) only their own statements carry."""
        p, a = statement_people, statement_attachments
        own = sa.select(p.c.statement_id).where(p.c.person == person[:300], p.c.is_actor.is_(True))
        with self.engine.connect() as conn:
            own_count = conn.execute(sa.select(sa.func.count()).select_from(own.subquery())).scalar() or 0
            named = conn.execute(
                sa.select(sa.func.count(sa.distinct(p.c.statement_id))).where(p.c.person == person[:300], p.c.statement_id.not_in(own))
            ).scalar() or 0
            theirs = set(conn.scalars(sa.select(a.c.sha2).where(a.c.statement_id.in_(own))))
            shared = set(conn.scalars(sa.select(a.c.sha2).where(a.c.sha2.in_(sorted(theirs)), a.c.statement_id.not_in(own)))) if theirs else set()
        return own_count, named, sorted(theirs - shared)

    def get(self, statement_id: str, *, voided: bool | None, authority: str | None = None) -> dict[str, Any] | None:
        """The statement with ``statement_id`` if its voided state is ``voided`` (None: either) and,
        with ``authority``, if that is its authority."""
        query = sa.select(statements.c.body, statements.c.voided).where(statements.c.id == statement_id.lower())
        if authority is not None:
            query = query.where(statements.c.authority == authority)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or (voided is not None and bool(row.voided) != voided):
            return None
        return json.loads(row.body)

    def holds_statements_beyond(self, activity_prefix: str) -> bool:
        """Whether the store holds a statement, other than a voiding one, none of whose activities
        starts with ``activity_prefix`` (``polku demo`` asks: is there anything but the demo?)."""
        a = statement_activities
        within = sa.select(a.c.statement_id).where(a.c.activity.startswith(activity_prefix, autoescape=True))
        query = sa.select(statements.c.id).where(statements.c.verb_id != VOIDED_VERB, statements.c.id.not_in(within)).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def query(
        self,
        f: StatementFilter,
        limit: int,
        after: tuple[str, str] | None = None,
        max_bytes: int | None = None,
        with_attachments: bool = False,
    ) -> Page:
        """A page of the statements matching ``f``, ``after`` the (stored, id) of the last one seen:
        at most ``limit`` statements, and, with ``max_bytes``, no more of them than fit in that
        many characters of stored JSON (at least one), so that a page of large statements stays
        bounded (docs/design.md, invariant 10). ``with_attachments``: the page is answered with the
        contents of its statements' attachments, each once, which count towards ``max_bytes`` too.

        Two queries, each free to use its own index: the statements that match themselves, and
        (only when some filter other than since/until is set) the statements that match through a
        StatementRef target. Each is limited to the page; the page is their merge. They read each
        statement's stored size, not its body; the bodies of the statements kept are read after.

        With ``agent``, the first reads from the agent index (agent, primary?, verb, stored): the
        entries of the page in stored order, each joined to its statement, so that its cost does
        not grow with the store (revision 0007).
        """
        s = statements
        # the body as stored (deflated): never more than a few bytes over its JSON, so a page cut
        # by these sizes holds every statement a cut by the JSON's sizes keeps
        size = sa.func.length(s.c.body).label("size")
        columns = (s.c.id, s.c.stored, size)
        conditions = _conditions(f, s)
        if f.agent:
            a = statement_agents
            own = (
                sa.select(s.c.id, a.c.stored, size)
                .select_from(a.join(s, s.c.id == a.c.statement_id))
                .where(a.c.agent == f.agent, a.c.is_primary == (not f.related_agents), *_conditions(f, s, by_agent=False))
            )
            if f.verb:
                own = own.where(a.c.verb_id == f.verb)
            queries = [self._window(own, f, limit, after, a.c.stored, a.c.statement_id)]
        else:
            queries = [self._window(sa.select(*columns).where(*conditions), f, limit, after)]
        if conditions:
            # driven from the references (one row per statement that targets another: voidings
            # and StatementRefs, a small share of the store), each target looked up by its id;
            # driven from the targets, a verb filter read every statement of the verb (issue 19)
            t = statements.alias("target")
            r = statement_refs
            via_ref = sa.select(r.c.statement_id).where(sa.exists().where(t.c.id == r.c.target_id, *_conditions(f, t)))
            queries.append(self._window(sa.select(*columns).where(s.c.id.in_(via_ref)), f, limit, after))
        with self.engine.connect() as conn:
            found = {row.id: row for query in queries for row in conn.execute(query)}
            rows = sorted(found.values(), key=lambda row: (row.stored, row.id), reverse=not f.ascending)[: limit + 1]
            contents = self._attachment_sizes(conn, [row.id for row in rows[:limit]]) if with_attachments and max_bytes else {}
            kept = _within(rows[:limit], max_bytes, contents, lambda row: row.size)
            bodies = {}
            for start in range(0, len(kept), 500):
                chunk = [row.id for row in kept[start : start + 500]]
                bodies.update(conn.execute(sa.select(s.c.id, s.c.body).where(s.c.id.in_(chunk))).all())
        # a statement erased or expired between the two reads is left out, as it would be a moment later
        kept = [row for row in kept if row.id in bodies]
        kept = _within(kept, max_bytes, contents, lambda row: len(bodies[row.id]))  # the JSON's own sizes
        next_after = (kept[-1].stored, kept[-1].id) if len(kept) < len(rows) and kept else None
        return Page([json.loads(bodies[row.id]) for row in kept], next_after)

    @staticmethod
    def _attachment_sizes(conn: sa.Connection, ids: list[str]) -> dict[str, list[tuple[str, int]]]:
        """The (sha2, length) of the attachment contents held for each of the statements ``ids``."""
        a, b = statement_attachments, blobs.blobs
        found: dict[str, list[tuple[str, int]]] = {}
        for start in range(0, len(ids), 500):
            query = sa.select(a.c.statement_id, a.c.sha2, b.c.length).join(b, b.c.digest == a.c.sha2)
            for row in conn.execute(query.where(a.c.statement_id.in_(ids[start : start + 500]))):
                found.setdefault(row.statement_id, []).append((row.sha2, row.length))
        return found

    @staticmethod
    def _window(
        query: sa.Select, f: StatementFilter, limit: int, after: tuple[str, str] | None,
        stored: sa.ColumnElement[str] = statements.c.stored, id_: sa.ColumnElement[str] = statements.c.id,
    ) -> sa.Select:
        """Unvoided, within since/until, past ``after``, in order, at most one more than a page.
        ``stored`` and ``id_``: the columns that bound and order it (those of the index it reads)."""
        s = statements
        query = query.where(s.c.voided.is_(False))
        if f.authority is not None:
            query = query.where(s.c.authority == f.authority)
        if f.since:
            query = query.where(stored > f.since)
        if f.until:
            query = query.where(stored <= f.until)
        if after is not None:
            last_stored, last_id = after
            if f.ascending:
                query = query.where(sa.or_(stored > last_stored, sa.and_(stored == last_stored, id_ > last_id)))
            else:
                query = query.where(sa.or_(stored < last_stored, sa.and_(stored == last_stored, id_ < last_id)))
        order = (stored.asc(), id_.asc()) if f.ascending else (stored.desc(), id_.desc())
        return query.order_by(*order).limit(limit + 1)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(statements)).scalar_one()

    def names_agent(self, authority: str, agent: str) -> bool:
        """Whether a statement stored under ``authority`` has ``agent`` as its actor or object (or
        as a member of a Group there): the agents a credential is associated with, as far as the
        LRS can tell (the ``state`` and ``profile`` scopes, Communication 4.2)."""
        a = statement_agents
        query = (
            sa.select(a.c.statement_id)
            .join(statements, statements.c.id == a.c.statement_id)
            .where(a.c.agent == agent, a.c.is_primary.is_(True), statements.c.authority == authority)
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None
