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
    from lrs.storage.schema import upgrade

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


def test_events_are_stored_deflated_and_read_back_as_appended(engine):
    import sqlalchemy as sa

    from events.envelope import DEFLATED, encode
    from events.sql import log_table

    log = SqlLog(engine)
    events = make_events(3)
    log.append(events)
    with engine.connect() as conn:
        stored = [bytes(p) for p in conn.scalars(sa.select(log_table.c.payload).order_by(log_table.c.log_offset))]
    assert all(p.startswith(DEFLATED) for p in stored)
    assert sum(map(len, stored)) < sum(len(encode(e)) for e in events)
    assert [r.event for r in log.read(0, 0)] == events


def test_events_written_whole_before_deflating_stay_readable(engine):
    """Rows an earlier version wrote as plain JSON envelopes are read as they are, in order with
    the deflated ones after them."""
    from events.envelope import encode
    from events.sql import log_table

    older, newer = make_events(2), make_events(2)
    with engine.begin() as conn:
        conn.execute(log_table.insert(), [{"key": e.key, "payload": encode(e)} for e in older])
    log = SqlLog(engine)
    log.append(newer)
    assert [r.event for r in log.read(0, 0)] == older + newer
