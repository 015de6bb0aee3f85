"""Every stored time is fixed-width UTC text that sorts as time does (events.envelope.utc_iso)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from events.envelope import utc_iso


@pytest.mark.parametrize("year", [1, 5, 999, 1000, 2026, 9999])
def test_a_stored_time_is_fixed_width_in_every_year(year):
    written = utc_iso(datetime(year, 3, 4, 5, 6, 7, 89, tzinfo=timezone.utc))
    assert len(written) == len("2026-02-03T09:15:00.000000Z")
    assert written == f"{year:04d}-03-04T05:06:07.000089Z"


def test_stored_times_sort_as_the_moments_do_across_centuries():
    moments = [datetime(5, 1, 1, tzinfo=timezone.utc), datetime(999, 12, 31, tzinfo=timezone.utc), datetime(2026, 1, 1, tzinfo=timezone.utc)]
    assert sorted(utc_iso(m) for m in moments) == [utc_iso(m) for m in moments]


def test_a_moment_in_another_zone_is_written_in_utc():
    helsinki = timezone(timedelta(hours=2))
    assert utc_iso(datetime(2026, 11, 30, 2, 0, tzinfo=helsinki)) == "2026-11-30T00:00:00.000000Z"
