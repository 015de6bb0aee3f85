"""X-Experience-API-Consistent-Through is a true watermark (docs/design.md, invariant 9; issue 9, defect 2):
a client that sets each ``since`` to the watermark of its previous answer, while others write,
misses no statement -- in both modes."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from events import utc_iso
from tests.fixtures.statements_builders import statement

MODES = ["embedded", pytest.param("scale-out", marks=[pytest.mark.postgres, pytest.mark.kafka])]
V2 = {"X-Experience-API-Version": "2.0.0"}
WRITERS = 6
WRITE_FOR_S = 8


def poll(session: requests.Session, lrs, since: str | None) -> tuple[set[str], str]:
    """One poll, every page of it: the ids seen and the watermark of its first answer."""
    params = {"ascending": "true", "limit": 200} | ({"since": since} if since else {})
    response = session.get(lrs.endpoint + "/statements", params=params, headers=V2, timeout=30)
    assert response.status_code == 200, response.text
    watermark = response.headers["X-Experience-API-Consistent-Through"]
    seen = set()
    while True:
        body = response.json()
        seen |= {s["id"] for s in body["statements"]}
        if not body["more"]:
            return seen, watermark
        response = session.get(f"http://127.0.0.1:{lrs.port}{body['more']}", headers=V2, timeout=30)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("mode", MODES)
def test_a_client_polling_since_the_last_watermark_misses_no_statement(fresh_lrs, mode):
    lrs = fresh_lrs(mode)
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop_at = time.monotonic() + WRITE_FOR_S

    def write(n: int) -> None:
        session = requests.Session()
        session.auth = lrs.auth
        while time.monotonic() < stop_at:
            body = statement(actor=f"writer{n}")
            if session.post(lrs.endpoint + "/statements", json=body, headers=V2, timeout=60).status_code == 200:
                with lock:
                    acknowledged.add(body["id"])

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for w in writers:
        w.start()
    reader = requests.Session()
    reader.auth = lrs.auth
    seen, watermark = set(), None
    while any(w.is_alive() for w in writers):
        got, watermark = poll(reader, lrs, watermark)
        seen |= got
        time.sleep(0.05)
    for w in writers:
        w.join()
    finished = utc_iso()
    deadline = time.monotonic() + 60
    while watermark < finished:  # follow the watermark past the last write, never re-reading history
        assert time.monotonic() < deadline, "the watermark did not pass the last write"
        got, watermark = poll(reader, lrs, watermark)
        seen |= got
        time.sleep(0.05)

    assert len(acknowledged) > 50, "the writers wrote"
    missed = acknowledged - seen
    assert not missed, f"{len(missed)} of {len(acknowledged)} statements appeared behind a watermark already handed out"
