"""`polku projections rebuild` while Polku runs (issue 10): the views keep answering from the old
projection until the rebuilt one replaces it at once -- no 404, no empty view in between --, the
rebuild replays the whole log however the live runner competes, and the result equals the views
the live projection had built."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests

NOW = "2026-06-17T15:00:00+00:00"
VIEWS = ["/cohorts/north/progress?as_of=2026-06-17", "/cohorts/south/engagement", "/cohorts/east/success"]


def snapshot(base: str, auth) -> dict[str, object]:
    return {path: requests.get(base + path, auth=auth, timeout=30).json() for path in VIEWS}


@pytest.mark.parametrize("mode", ["embedded", pytest.param("scale-out", marks=[pytest.mark.postgres, pytest.mark.kafka])])
def test_a_rebuild_while_the_server_runs_never_makes_a_view_404_and_replays_everything(fresh_lrs, mode):
    lrs = fresh_lrs(mode)
    base = f"http://127.0.0.1:{lrs.port}/api/v1"
    loaded = lrs.cli("demo", "--url", f"http://127.0.0.1:{lrs.port}", "--key", lrs.key, "--secret", lrs.secret,
                     "--now", NOW, "--members", "3", check=False)
    assert loaded.returncode == 0, loaded.stderr
    deadline = time.monotonic() + 60
    while True:  # the scale-out worker applies the last statements a moment after the load returns
        before = snapshot(base, lrs.auth)
        time.sleep(1)
        if snapshot(base, lrs.auth) == before or time.monotonic() > deadline:
            break
    assert all(view["members"] for view in before.values())

    statuses: Counter = Counter()
    emptied: list[str] = []
    stop = threading.Event()

    def read() -> None:
        session = requests.Session()
        session.auth = lrs.auth
        while not stop.is_set():
            for path in VIEWS:
                response = session.get(base + path, timeout=30)
                statuses[response.status_code] += 1
                if response.status_code == 200 and response.json() != before[path]:
                    emptied.append(path)

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        time.sleep(0.5)
        rebuilt = lrs.cli("projections", "rebuild", check=False)
        time.sleep(0.5)
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=60)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "replayed 0 event(s)" not in rebuilt.stdout
    assert set(statuses) == {200}, f"every read answered from a whole projection: {dict(statuses)}"
    assert emptied == [], "no read saw a half-built view"
    assert snapshot(base, lrs.auth) == before, "the rebuilt views equal the live ones"
