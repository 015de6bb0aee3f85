"""What a projection is: a name, its tables, which events it wants, and how one event changes
its tables. It never commits: the runner owns transactions and positions."""

from __future__ import annotations

import abc

import sqlalchemy as sa

from events import Record


class Projection(abc.ABC):
    #: Unique name; positions are tracked under it.
    name: str
    #: The event types it applies; others are passed over (their position still advances).
    event_types: frozenset[str]
    #: The tables it owns (made by the migrations in lrs/migrations, emptied on rebuild).
    metadata: sa.MetaData

    @abc.abstractmethod
    def apply(self, conn: sa.Connection, record: Record) -> None:
        """Change the projection's tables for one event, inside the runner's transaction."""

    def reset(self, conn: sa.Connection) -> None:
        """Empty every table the projection owns (children first), before a replay."""
        for table in reversed(self.metadata.sorted_tables):
            conn.execute(table.delete())
