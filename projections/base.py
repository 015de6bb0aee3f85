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
    #: The tables it owns (made by the migrations in lrs/storage/migrations, emptied on rebuild).
    metadata: sa.MetaData

    @abc.abstractmethod
    def apply(self, conn: sa.Connection, record: Record) -> None:
        """Change the projection's tables for one event, inside the runner's transaction."""

    def apply_batch(self, conn: sa.Connection, records: list[Record]) -> None:
        """Change the tables for ``records`` (of the projection's event types, in log order) as
        applying them one by one would: a projection overrides this to write each table once per
        batch. The projection contract test (tests/projections/test_contract.py) holds every
        projection to it: a batch equals its events one by one, twice counts once."""
        for record in records:
            self.apply(conn, record)

    def reset(self, conn: sa.Connection) -> None:
        """Empty every table the projection owns (children first), before a replay."""
        for table in reversed(self.metadata.sorted_tables):
            conn.execute(table.delete())
