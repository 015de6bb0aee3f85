"""Agent names: the read model of the Agents Resource (xAPI 2.0.0 Communication 2.4; 1.0.3 Part
Three 2.4), a projection of ``statement.stored`` events.

Table
  ``xapi_agent_names``  (agent identifier, name) for every name a statement gave an Agent or
                        Group, with the earliest ``stored`` it was seen at

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
from events.sql import bytewise
from projections.base import Projection
from projections.statements import STATEMENT_STORED
from schemas.agents import IFIS, agent_key
from projections.upserts import upsert


metadata = sa.MetaData()  # made and changed by the migrations (lrs/migrations), never created here

agent_names = sa.Table(
    "xapi_agent_names",
    metadata,
    sa.Column("agent_hash", sa.String(64), primary_key=True),
    sa.Column("name_hash", sa.String(64), primary_key=True),
    sa.Column("agent", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("first_stored", bytewise(32), nullable=False),
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
        key = agent_key(actor)
        if key and isinstance(actor.get("name"), str) and actor["name"]:
            yield key, actor["name"]


class AgentNames(Projection):
    name = "agents"
    event_types = frozenset({STATEMENT_STORED})
    metadata = metadata

    def apply(self, conn: sa.Connection, record: Record) -> None:
        statement = record.event.data["statement"]
        stored = statement["stored"]
        t = agent_names
        upsert(
            conn,
            t,
            [
                dict(agent_hash=sha256(key), name_hash=sha256(name), agent=key, name=name, first_stored=stored)
                for key, name in sorted(set(named_agents(statement)))
            ],
            update=["first_stored"],
            when=lambda new: t.c.first_stored > new.first_stored,
        )


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
