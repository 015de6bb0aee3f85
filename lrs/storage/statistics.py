"""The planner's statistics, kept as part of operating the database (issue 19).

Without statistics SQLite plans every query from its defaults, and once chose to read one row per
statement ever POSTed to answer the consistency watermark. The reads Polku makes are planned to
be right without statistics too (tests/lrs/storage/test_query_plans.py runs them on a store that was never
analysed), but the planner chooses better with them, so they are gathered:

* SQLite: when a process opens the database and then at most every :data:`EVERY_S` seconds beside
  the projection runner, ``ANALYZE`` of each table that holds rows but was never analysed, then
  ``PRAGMA optimize``, which analyses the tables whose size changed a great deal since. Each reads
  a bounded number of rows per index (``analysis_limit``): milliseconds, not a pass over the store.
* PostgreSQL: autovacuum's ANALYZE keeps them (its defaults suffice; docs/performance.md). A
  process that opens the database analyses the tables autovacuum has never analysed (a database
  restored from a dump, or just migrated), so that the first requests are planned from real sizes.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

#: How often a running process refreshes SQLite's statistics (at most).
EVERY_S = 3600.0
#: Rows read per index by SQLite's ANALYZE: enough for the planner, bounded however large the store.
ANALYSIS_LIMIT = 1000


def refresh(engine: sa.Engine) -> list[str]:
    """Gather the statistics that are missing or stale; the tables analysed (PostgreSQL) or the
    statements run (SQLite). Never raises for a database that is away: the next look tries again."""
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
                # PRAGMA optimize (before SQLite 3.46) passes over a table that was never analysed
                never = sorted(_sqlite_tables(conn) - _sqlite_analysed(conn))
                for table in never:
                    conn.exec_driver_sql(f'ANALYZE "{table}"')
                conn.exec_driver_sql("PRAGMA optimize=0x10002")  # every table, not only those this connection used
                return never + ["PRAGMA optimize"]
            never = list(conn.scalars(sa.text(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_analyze IS NULL AND last_autoanalyze IS NULL ORDER BY relname"
            )))
            for table in never:
                conn.exec_driver_sql(f'ANALYZE "{table}"')
            return never
    except SQLAlchemyError as exc:
        log.warning("could not refresh the planner's statistics: %s", type(getattr(exc, "orig", exc)).__name__)
        return []


def _sqlite_tables(conn: sa.Connection) -> set[str]:
    """The tables that hold rows (an empty table gives the planner nothing to count)."""
    names = conn.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
    return {name for name in names if conn.execute(sa.text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None}


def _sqlite_analysed(conn: sa.Connection) -> set[str]:
    if conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first() is None:
        return set()
    return set(conn.scalars(sa.text("SELECT DISTINCT tbl FROM sqlite_stat1")))


def beside(runner: Any, engine: sa.Engine, every_s: float = EVERY_S) -> None:
    """Refresh SQLite's statistics after the projection runner's rounds (its ``after_round``, after
    what is already there), at most every ``every_s`` seconds; PostgreSQL's autovacuum needs no help."""
    if engine.dialect.name != "sqlite":
        return
    before: Callable[[], None] | None = runner.after_round
    last = [time.monotonic()]  # the process refreshed them when it opened the database

    def after_round() -> None:
        if before is not None:
            before()
        if time.monotonic() - last[0] >= every_s:
            last[0] = time.monotonic()
            refresh(engine)

    runner.after_round = after_round
