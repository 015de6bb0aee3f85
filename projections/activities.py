"""Activity definitions: the read model of the Activities Resource (xAPI 2.0.0 Communication 2.5;
1.0.3 Part Three 2.5), a projection of ``statement.stored`` events.

Table
  ``xapi_activity_definitions``  one row per distinct definition of an activity, stamped with
                                 the latest (stored, statement id) that carried it

Every Activity a statement carries with a ``definition`` contributes it: the object, the
context activities, and the same parts of a SubStatement. The canonical definition folds an
activity's definitions oldest first: language maps and extensions merge key by key, the newer
value winning; interaction components are taken from the newer list, keeping older languages of
a component's description; any other property the newer definition replaces. So two statements
that describe one activity in two languages give a definition in both (XAPI-00254).

A row keeps the greatest stamp it has seen, which does not depend on the order events are
applied in: a rebuild, or another interleaving of partitions, gives the same table and the same
answer. Voiding does not retract a definition.

Erasure (issue 11) leaves definitions alone: they describe activities, not people. A statement
whose actor was erased before it was applied (``statement.shredded``) carries its activities in
clear and contributes their definitions as a stored one does, so a rebuild holds what the live
projection learned before the erasure.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterator

import sqlalchemy as sa

from events import Record
from events.sealing import STATEMENT_SHREDDED
from events.sql import bytewise
from projections.base import Projection
from projections.statements import STATEMENT_STORED
from projections.upserts import fold, upsert

LANGUAGE_MAPS = ("name", "description")
COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

definitions = sa.Table(
    "xapi_activity_definitions",
    metadata,
    sa.Column("activity_hash", sa.String(64), primary_key=True),
    sa.Column("definition_hash", sa.String(64), primary_key=True),
    sa.Column("activity_id", sa.Text, nullable=False),
    sa.Column("stored", bytewise(32), nullable=False),
    sa.Column("statement_id", bytewise(36), nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def defined_activities(statement: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(activity id, definition) for every Activity in a statement that has a definition."""

    def visit(stmt: dict[str, Any]) -> Iterator[Any]:
        obj = stmt.get("object") or {}
        kind = obj.get("objectType", "Activity") if isinstance(obj, dict) else None
        if kind == "Activity":
            yield obj
        elif kind == "SubStatement":
            yield from visit(obj)
        for group in ((stmt.get("context") or {}).get("contextActivities") or {}).values():
            yield from group if isinstance(group, list) else [group]

    for activity in visit(statement):
        if isinstance(activity, dict) and isinstance(activity.get("id"), str):
            definition = activity.get("definition")
            if isinstance(definition, dict) and definition:
                yield activity["id"], definition


def merge_definitions(older: dict[str, Any], newer: dict[str, Any]) -> dict[str, Any]:
    result = dict(older)
    for name, value in newer.items():
        old = result.get(name)
        if name in LANGUAGE_MAPS + ("extensions",) and isinstance(old, dict) and isinstance(value, dict):
            result[name] = {**old, **value}
        elif name in COMPONENT_LISTS and isinstance(old, list) and isinstance(value, list):
            result[name] = _merge_components(old, value)
        else:
            result[name] = value
    return result


def _merge_components(older: list[Any], newer: list[Any]) -> list[Any]:
    previous = {c.get("id"): c for c in older if isinstance(c, dict)}
    merged = []
    for component in newer:
        before = previous.get(component.get("id")) if isinstance(component, dict) else None
        if before and isinstance(before.get("description"), dict) and isinstance(component.get("description"), dict):
            component = {**component, "description": {**before["description"], **component["description"]}}
        merged.append(component)
    return merged


class ActivityDefinitions(Projection):
    name = "activities"
    event_types = frozenset({STATEMENT_STORED, STATEMENT_SHREDDED})
    metadata = metadata

    def apply(self, conn: sa.Connection, record: Record) -> None:
        self.apply_batch(conn, [record])

    def apply_batch(self, conn: sa.Connection, records: list[Record]) -> None:
        """One upsert for the batch: of the rows one (activity, definition) gets, the latest stamp."""
        rows = [row for record in records for row in _rows(record.event.data["statement"])]
        d = definitions
        upsert(
            conn,
            d,
            sorted(fold(rows, ("activity_hash", "definition_hash"), lambda old, new: _stamp(new) > _stamp(old)),
                   key=lambda row: (row["activity_hash"], row["definition_hash"])),
            update=["stored", "statement_id"],
            when=lambda new: sa.or_(d.c.stored < new.stored, sa.and_(d.c.stored == new.stored, d.c.statement_id < new.statement_id)),
        )


def _stamp(row: dict[str, Any]) -> tuple[str, str]:
    return row["stored"], row["statement_id"]


def _rows(statement: dict[str, Any]) -> list[dict[str, Any]]:
    """The definition rows one statement contributes, stamped with its (stored, id)."""
    rows = []
    for activity_id, definition in defined_activities(statement):
        text = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        rows.append(dict(activity_hash=sha256(activity_id), definition_hash=sha256(text), activity_id=activity_id,
                         stored=statement["stored"], statement_id=statement["id"], definition=text))
    return rows


@dataclass
class ActivityReader:
    """Reads activity definitions; never writes."""

    engine: sa.Engine

    def activity(self, activity_id: str) -> dict[str, Any]:
        """The canonical Activity object; one with only its id when nothing defines it (2.5.s2)."""
        d = definitions
        query = (
            sa.select(d.c.definition)
            .where(d.c.activity_hash == sha256(activity_id))
            .order_by(d.c.stored, d.c.statement_id, d.c.definition_hash)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        definition: dict[str, Any] = {}
        for row in rows:
            definition = merge_definitions(definition, json.loads(row.definition))
        activity: dict[str, Any] = {"objectType": "Activity", "id": activity_id}
        if definition:
            activity["definition"] = definition
        return activity
