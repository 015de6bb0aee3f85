"""The embedded SQL log keeps the log contract on SQLite and on PostgreSQL."""

import pytest

from events.sql import SqlLog
from tests.events.contract import LogContract, make_events


class TestSqlLog(LogContract):
    @pytest.fixture
    def log(self, engine):
        return SqlLog(engine)


def test_embedded_log_survives_reopening(sqlite_url):
    from events.sql import make_engine
    from lrs.schema import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    positions = SqlLog(engine).append(make_events(4))
    engine.dispose()
    reopened = SqlLog(make_engine(sqlite_url))
    assert [r.offset for r in reopened.read(0, 0)] == [p.offset for p in positions]


def test_an_offset_is_never_handed_out_twice_even_after_the_last_rows_are_deleted(engine):
    from events.sql import log_table

    log = SqlLog(engine)
    first = log.append(make_events(3))
    with engine.begin() as conn:
        conn.execute(log_table.delete().where(log_table.c.log_offset == first[-1].offset))
    (again,) = log.append(make_events(1))
    assert again.offset > first[-1].offset
