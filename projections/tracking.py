"""Where each projection is in each log partition.

One row per (projection, partition): ``next_offset`` is the offset of the first event not yet
applied, ``last_recorded`` the recording time of the last applied event. The runner changes a
row in the same transaction as the projection's tables, with a compare-and-set on
``next_offset``; that makes the effect exactly-once even with two runners on one log.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from projections.upserts import insert_missing

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

positions = sa.Table(
    "polku_projection_positions",
    metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("next_offset", sa.BigInteger, nullable=False),
    sa.Column("last_recorded", sa.String(40), nullable=True),
)


#: The identity of the log the positions above belong to (one row): see projections/log_guard.py.
projected_log = sa.Table(
    "polku_projected_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("identity", sa.String(300), nullable=False),
    sa.Column("recorded", sa.String(40), nullable=False),
)


#: Events a projection could not apply, set aside so that the rest goes on (docs/design.md, invariant 7).
dead_letters = sa.Table(
    "polku_dead_letters",
    metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("log_offset", sa.BigInteger, primary_key=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("error", sa.String(1000), nullable=False),
    sa.Column("set_aside", sa.String(40), nullable=False),
)


@dataclass(frozen=True)
class Applied:
    partition: int
    next_offset: int
    last_recorded: str | None


def ensure_rows(conn: sa.Connection, projection: str, partitions: int) -> None:
    """Create a zero position for every partition a projection has none for; a row another
    runner inserts at the same moment is left as it is."""
    insert_missing(
        conn, positions, [{"projection": projection, "partition": p, "next_offset": 0} for p in range(partitions)]
    )


def applied(conn: sa.Connection, projection: str) -> dict[int, Applied]:
    rows = conn.execute(sa.select(positions).where(positions.c.projection == projection))
    return {row.partition: Applied(row.partition, row.next_offset, row.last_recorded) for row in rows}


def all_applied(conn: sa.Connection) -> dict[tuple[str, int], int]:
    """Every tracked position: (projection, partition) -> next offset."""
    return {(row.projection, row.partition): row.next_offset for row in conn.execute(sa.select(positions))}


def advance(
    conn: sa.Connection, projection: str, partition: int, expected: int, next_offset: int, last_recorded: str | None
) -> bool:
    """Move a position from ``expected`` to ``next_offset``; False if another runner moved it first.

    Run this first in the transaction: on SQLite it takes the write lock, on PostgreSQL it locks
    the row, so competing runners wait instead of applying the same events twice.
    """
    values = {"next_offset": next_offset}
    if last_recorded is not None:
        values["last_recorded"] = last_recorded
    result = conn.execute(
        positions.update()
        .where(positions.c.projection == projection)
        .where(positions.c.partition == partition)
        .where(positions.c.next_offset == expected)
        .values(**values)
    )
    return result.rowcount == 1


def lock_unless_locked(conn: sa.Connection, projections: list[str], partition: int) -> set[str]:
    """Lock the positions of ``projections`` in ``partition`` for this transaction, passing over
    those another transaction holds (a rebuild); return the projections locked (PostgreSQL)."""
    query = (
        sa.select(positions.c.projection)
        .where(positions.c.projection.in_(projections), positions.c.partition == partition)
        .with_for_update(skip_locked=True)
    )
    return set(conn.execute(query).scalars())


def highest_applied(conn: sa.Connection) -> dict[int, int]:
    """partition -> the highest next offset any projection has reached there."""
    query = sa.select(positions.c.partition, sa.func.max(positions.c.next_offset)).group_by(positions.c.partition)
    return {partition: highest for partition, highest in conn.execute(query)}


def recorded_log(conn: sa.Connection) -> str | None:
    return conn.execute(sa.select(projected_log.c.identity).where(projected_log.c.id == 1)).scalar()


def record_log(conn: sa.Connection, identity: str, recorded: str) -> None:
    """Note ``identity`` as the log the positions belong to (replacing any earlier one)."""
    conn.execute(projected_log.delete())
    conn.execute(projected_log.insert().values(id=1, identity=identity, recorded=recorded))


def set_aside(conn: sa.Connection, projection: str, partition: int, offset: int, event_id: str, event_type: str, error: str, now: str) -> None:
    conn.execute(
        dead_letters.insert().values(
            projection=projection, partition=partition, log_offset=offset, event_id=event_id[:64],
            event_type=event_type[:100], error=error[:1000], set_aside=now,
        )
    )


def dead_letter_counts(conn: sa.Connection) -> dict[str, int]:
    query = sa.select(dead_letters.c.projection, sa.func.count()).group_by(dead_letters.c.projection)
    return {projection: count for projection, count in conn.execute(query)}


def reset(conn: sa.Connection, projection: str) -> None:
    conn.execute(
        positions.update().where(positions.c.projection == projection).values(next_offset=0, last_recorded=None)
    )
    conn.execute(dead_letters.delete().where(dead_letters.c.projection == projection))
