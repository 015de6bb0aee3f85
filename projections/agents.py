"""Agent names: the read model of the Agents Resource (xAPI 2.0.0 Communication 2.4; 1.0.3 Part
Three 2.4), a projection of ``statement.stored`` events.

Table
  ``xapi_agent_names``  (agent identifier, name) for every name a statement gave an Agent or
                        Group, with the earliest and the latest ``stored`` it was seen at

Erasure (issue 11): ``agent.erased`` deletes every row of the person (each agent identifier whose
person key is theirs). A statement whose actor was erased (``statement.shredded``) still gives the
names of the others it names, whose parts can be opened: so a projection that learned them live
and then applied the erasure holds what a rebuild holds. The anonymous agent that takes an erased
person's place is never recorded.

Retention (``statements.expired`` without a programme): a name last seen before the cutoff goes.

The Agents Resource answers with a Person: the identifier asked about and every name seen for
it. An Agent carries exactly one inverse functional identifier, so statements alone never tie
two identifiers to one person; a directory that did would add rows here. Keeping the earliest
stamp does not depend on the order events are applied in, so a rebuild gives the same answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterator

import sqlalchemy as sa

from events import Record
from events.sealing import AGENT_ERASED, STATEMENT_SHREDDED
from events.sql import bytewise
from projections.base import Projection
from projections.statements import STATEMENT_STORED, STATEMENTS_EXPIRED
from projections.upserts import upsert
from schemas.agents import IFIS, agent_key, person_key_of
from schemas.personal import is_anonymous


metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

agent_names = sa.Table(
    "xapi_agent_names",
    metadata,
    sa.Column("agent_hash", sa.String(64), primary_key=True),
    sa.Column("name_hash", sa.String(64), primary_key=True),
    sa.Column("agent", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("first_stored", bytewise(32), nullable=False),
    # NULL only in rows made before migration 0006 filled it in
    sa.Column("last_stored", bytewise(32), nullable=True),
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def named_agents(statement: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(agent key, name) for every identified Agent or Group in a statement that has a name."""

    def members(actor: Any) -> Iterator[dict[str, Any]]:
        if isinstance(actor, dict):
            yield actor
            for member in actor.get("member") or []:
                if isinstance(member, dict):
                    yield member

    def visit(stmt: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from members(stmt.get("actor"))
        obj = stmt.get("object") or {}
        if isinstance(obj, dict) and obj.get("objectType") in ("Agent", "Group"):
            yield from members(obj)
        elif isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
            yield from visit(obj)
        context = stmt.get("context") or {}
        for role in ("instructor", "team"):
            yield from members(context.get(role))
        for entry in context.get("contextAgents") or []:
            yield from members(entry.get("agent") if isinstance(entry, dict) else None)
        for entry in context.get("contextGroups") or []:
            yield from members(entry.get("group") if isinstance(entry, dict) else None)

    for actor in [*visit(statement), *members(statement.get("authority"))]:
        if is_anonymous(actor):
            continue
        key = agent_key(actor)
        if key and isinstance(actor.get("name"), str) and actor["name"]:
            yield key, actor["name"]


class AgentNames(Projection):
    name = "agents"
    event_types = frozenset({STATEMENT_STORED, STATEMENT_SHREDDED, AGENT_ERASED, STATEMENTS_EXPIRED})
    metadata = metadata

    def apply(self, conn: sa.Connection, record: Record) -> None:
        self.apply_batch(conn, [record])

    def apply_batch(self, conn: sa.Connection, records: list[Record]) -> None:
        """Statements between two erasures (or expiries) go in one upsert; each erasure in log order."""
        run: list[Record] = []
        for record in records:
            if record.event.type not in (AGENT_ERASED, STATEMENTS_EXPIRED):
                run.append(record)
                continue
            self._names(conn, run)
            run = []
            if record.event.type == AGENT_ERASED:
                erase_person(conn, record.event.data)
            else:
                expire_names(conn, record.event.data)
        self._names(conn, run)

    @staticmethod
    def _names(conn: sa.Connection, records: list[Record]) -> None:
        """One upsert for the batch: of the rows one (agent, name) gets, the earliest and the latest stamp."""
        folded: dict[tuple[str, str], dict[str, Any]] = {}
        for statement in (record.event.data["statement"] for record in records):
            stored = statement["stored"]
            for key, name in set(named_agents(statement)):
                hashes = (sha256(key), sha256(name))
                row = folded.get(hashes)
                if row is None:
                    folded[hashes] = dict(agent_hash=hashes[0], name_hash=hashes[1], agent=key, name=name,
                                          first_stored=stored, last_stored=stored)
                elif stored < row["first_stored"]:
                    row["first_stored"] = stored
                elif stored > row["last_stored"]:
                    row["last_stored"] = stored
        t = agent_names

        def widened(new: Any) -> dict[str, Any]:
            return {
                "first_stored": sa.case((new.first_stored < t.c.first_stored, new.first_stored), else_=t.c.first_stored),
                "last_stored": sa.case(
                    (t.c.last_stored.is_(None), new.last_stored), (new.last_stored > t.c.last_stored, new.last_stored),
                    else_=t.c.last_stored,
                ),
            }

        upsert(
            conn,
            t,
            [folded[k] for k in sorted(folded)],
            update=widened,
            when=lambda new: sa.or_(t.c.first_stored > new.first_stored, t.c.last_stored.is_(None), t.c.last_stored < new.last_stored),
        )


def erase_person(conn: sa.Connection, data: dict[str, Any]) -> int:
    """Apply ``agent.erased``: delete the names of every agent identifier of the person (``mbox``
    and ``mbox_sha1sum`` forms of one address are one person). Returns the rows deleted; an
    erasure whose identity is unreadable (a rebuild) finds none to delete."""
    identity = data.get("identity")
    if not isinstance(identity, dict) or not identity.get("person"):
        return 0
    person = str(identity["person"])
    keys = {str(key) for key in identity.get("agents") or []} | {person}
    t = agent_names
    if person.startswith("sha1:"):
        keys.add("mbox_sha1sum:" + person.removeprefix("sha1:"))
        if not any(key.startswith("mbox:") for key in keys):  # the address is not known: look for it
            addresses = sa.select(t.c.agent).where(t.c.agent.startswith("mbox:")).distinct()
            keys |= {key for key in conn.scalars(addresses) if person_key_of(key) == person}
    theirs = sorted(sha256(key) for key in keys if person_key_of(key) == person)
    return conn.execute(t.delete().where(t.c.agent_hash.in_(theirs))).rowcount if theirs else 0


def expire_names(conn: sa.Connection, data: dict[str, Any]) -> int:
    """Apply ``statements.expired`` (retention, all programmes only): names last seen in a
    statement stored before the cutoff go. Returns the rows deleted."""
    if data.get("programme") is not None:
        return 0
    before = str(data["before"])
    t = agent_names
    old = sa.or_(t.c.last_stored < before, sa.and_(t.c.last_stored.is_(None), t.c.first_stored < before))
    return conn.execute(t.delete().where(old)).rowcount


@dataclass
class AgentReader:
    """Reads agent names; never writes."""

    engine: sa.Engine

    def names(self, key: str) -> list[str]:
        t = agent_names
        query = sa.select(t.c.name).where(t.c.agent_hash == sha256(key)).order_by(t.c.first_stored, t.c.name)
        with self.engine.connect() as conn:
            return [row.name for row in conn.execute(query)]

    def person(self, agent: dict[str, Any]) -> dict[str, Any]:
        """The Person object for an Agent with one identifier (Communication 2.4.s4)."""
        key = agent_key(agent)
        names = self.names(key) if key else []
        if isinstance(agent.get("name"), str) and agent["name"] and agent["name"] not in names:
            names.append(agent["name"])
        person: dict[str, Any] = {"objectType": "Person"}
        if names:
            person["name"] = names
        for ifi in IFIS:
            if ifi in agent:
                person[ifi] = [agent[ifi]]
        return person
