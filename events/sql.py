"""The embedded durable log: one table in the SQL database (SQLite or PostgreSQL).

It has a single partition. Each event is stored deflated (events.envelope.deflate; rows written
before, whole, are read as they are). An append is one database transaction, so a batch is stored whole or
not at all. Offsets come from the table's identity column; on PostgreSQL appends take a
transaction-scoped advisory lock so that offsets become visible in the order they were assigned
(otherwise a reader could pass over an offset whose transaction commits late). SQLite serialises
writers by itself.
"""

from __future__ import annotations

import uuid
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from events.envelope import Event, Record, decode, deflate, encode, inflate
from events.log import Log, LogUnavailable, Position

metadata = sa.MetaData()  # made and changed by the migrations (lrs/storage/migrations), never created here

log_table = sa.Table(
    "polku_event_log",
    metadata,
    sa.Column("log_offset", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(512), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    # SQLite: never hand out an offset again, even after the last rows were deleted (a log must
    # not reuse a position a projection has applied)
    sqlite_autoincrement=True,
)

#: The embedded log's own identity: one row, written by the first process that asks for it.
log_identity = sa.Table(
    "polku_event_log_identity",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("log_id", sa.String(64), nullable=False),
)

_APPEND_LOCK_ID = 0x706F6C6B75  # "polku"
#: One statement for a whole append (executemany; SQLAlchemy sends the rows in multi-row batches),
#: answering each row's offset in the order of the rows.
_APPEND = log_table.insert().returning(log_table.c.log_offset, sort_by_parameter_order=True)


def bytewise(length: int) -> sa.types.TypeEngine:
    """A string column compared byte by byte, for ids and timestamp text that are sorted or
    compared as ranges (PostgreSQL's locale collations ignore punctuation)."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


class DeflatedText(sa.types.TypeDecorator):
    """Text kept deflated in a binary column (:func:`events.envelope.deflate`): JSON documents take
    about half the bytes. Text stored whole before (a plain string or its UTF-8 bytes) reads as it is."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> bytes | None:
        return None if value is None else deflate(value.encode("utf-8"))

    def process_result_value(self, value: bytes | str | None, dialect: sa.Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return inflate(bytes(value)).decode("utf-8")


def make_engine(url: str, connect_timeout_s: float = 5.0, statement_timeout_s: float = 30.0, **kwargs) -> sa.Engine:
    """An engine with the settings Polku needs, every wait bounded (docs/design.md, invariant 10).

    SQLite: WAL, a busy timeout of ``statement_timeout_s`` for the write lock, and secure delete
    (deleted rows are overwritten in the file: an erasure leaves no copy in free pages). PostgreSQL: a
    connect timeout; ``statement_timeout`` and ``idle_in_transaction_session_timeout`` on every
    session; TCP keepalives and ``tcp_user_timeout``, so that a connection into a network
    partition fails within seconds instead of hanging for the kernel's minutes; a bounded wait
    for a pooled connection; and a ping before a pooled connection is reused.
    """
    kwargs.setdefault("hide_parameters", True)  # a driver error must not carry a statement's content into a log
    if url.startswith("sqlite"):
        busy_ms = int(statement_timeout_s * 1000)
        engine = sa.create_engine(url, connect_args={"timeout": statement_timeout_s, "check_same_thread": False}, **kwargs)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - driver hook
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA secure_delete=ON")  # what is deleted (an erased person) is overwritten, not left in free pages
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_timeout", max(connect_timeout_s * 2, 5))
    statement_ms = int(statement_timeout_s * 1000)
    connect_args = {
        "connect_timeout": max(int(connect_timeout_s), 1),
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": max(int(connect_timeout_s * 2000), 5000),
        "options": f"-c statement_timeout={statement_ms} -c idle_in_transaction_session_timeout={max(statement_ms * 2, 60000)}",
    }
    return sa.create_engine(url, connect_args=connect_args | kwargs.pop("connect_args", {}), **kwargs)


class SqlLog(Log):
    """The single-partition log kept in a table of the SQL database."""

    def __init__(self, engine: sa.Engine, max_event_bytes: int | None = None) -> None:
        self._engine = engine
        if max_event_bytes is not None:
            self.max_event_bytes = max_event_bytes

    @property
    def partitions(self) -> int:
        return 1

    def identity(self) -> str:
        """``sql:<uuid>``, made once per database (a copy of the database keeps it); read each
        time, so that a log replaced under a running process is noticed."""
        try:
            with self._engine.connect() as conn:
                found = conn.execute(sa.select(log_identity.c.log_id)).scalar()
            if found is None:
                try:
                    with self._engine.begin() as conn:
                        found = str(uuid.uuid4())
                        conn.execute(log_identity.insert().values(id=1, log_id=found))
                except IntegrityError:  # another process made it first
                    with self._engine.connect() as conn:
                        found = conn.execute(sa.select(log_identity.c.log_id)).scalar()
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the embedded log could not be read") from exc
        return f"sql:{found}"

    def append(self, events: Sequence[Event]) -> list[Position]:
        if not events:
            return []
        encoded = [encode(event) for event in events]
        self.check_sizes(encoded)
        try:
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_APPEND_LOCK_ID)))
                # deflated: about half the bytes; decode reads it, and the rows written whole before
                rows = [{"key": event.key, "payload": deflate(payload)} for event, payload in zip(events, encoded)]
                offsets = conn.execute(_APPEND, rows).scalars().all()  # in the order of the rows
                return [Position(0, offset) for offset in offsets]
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the embedded log could not store the events") from exc

    def read(self, partition: int, offset: int, limit: int = 500) -> list[Record]:
        self._check_partition(partition)
        query = (
            sa.select(log_table.c.log_offset, log_table.c.payload)
            .where(log_table.c.log_offset >= offset)
            .order_by(log_table.c.log_offset)
            .limit(limit)
        )
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the embedded log could not be read") from exc
        return [Record(0, row.log_offset, decode(row.payload)) for row in rows]

    def end(self, partition: int) -> int:
        self._check_partition(partition)
        try:
            with self._engine.connect() as conn:
                last = conn.execute(sa.select(sa.func.max(log_table.c.log_offset))).scalar()
        except (OperationalError, DBAPIError) as exc:
            raise LogUnavailable("the embedded log could not be read") from exc
        return 0 if last is None else last + 1

    @staticmethod
    def _check_partition(partition: int) -> None:
        if partition != 0:
            raise ValueError(f"the embedded log has one partition, not {partition}")
