"""``/cohorts/{key}/live``: server-sent events that tell an open cohort page it is out of date.

Fed by the cohort projection's applied position: once a second a stream looks at it (one small
query), and only when it has moved does it read the cohort's fingerprint
(:meth:`projections.cohort_details.CohortDetails.fingerprint`); a changed fingerprint is sent as a
``changed`` event, and the page then fetches itself again. A stream begins with ``hello``: the
position and the fingerprint it starts from. The page carries the position it was read at
(``data-position``): a ``hello`` from further on means something was applied in between, and the
page fetches itself once; after that the script compares fingerprints. No polling storm: the page
makes a request only when something may have changed since it was read.

A stream holds a request thread, so streams are bounded (docs/design.md, invariant 10): at most
``max_streams(threads)`` at once, each ended after ``STREAM_SECONDS``; the browser's
EventSource reconnects by itself (after ``retry``). A stream refused for want of a slot is
answered at once with a longer ``retry``, so the thread is free again immediately.
"""

from __future__ import annotations

import threading
import time

from flask import Response, current_app

from dashboard.blueprint import blueprint
from dashboard import signin as auth
from lrs.errors import NotFound
from lrs.http.current import services
from projections import tracking
from projections.cohort_details import CohortDetails
from projections.cohort_views import CohortViews

#: How long one stream lasts before the browser is asked to reconnect.
STREAM_SECONDS = 30.0
#: How often a stream looks at the projection's position.
CHECK_SECONDS = 1.0
#: Retry (ms) a browser is told: after a stream ends, and after being refused a slot.
RETRY_MS = 500
BUSY_RETRY_MS = 10_000


def max_streams(threads: int) -> int:
    """A quarter of the request threads, at least one: the rest stay free for requests."""
    return max(1, threads // 4)


def _slots() -> threading.BoundedSemaphore:
    found = current_app.extensions.get("polku_dashboard_streams")
    if found is None:
        found = current_app.extensions.setdefault(
            "polku_dashboard_streams", threading.BoundedSemaphore(max_streams(services().settings.threads))
        )
    return found


def applied_position(engine) -> int:
    """How far the cohort projection has applied the log: a number that grows with every event it
    applies (the sum of its next offsets over the partitions). A page notes it before reading the
    views; a stream compares against it."""
    with engine.connect() as conn:
        return sum(a.next_offset for a in tracking.applied(conn, "cohorts").values())


def _event(name: str, data: str) -> str:
    return f"event: {name}\ndata: {data}\n\n"


@blueprint.get("/cohorts/<key>/live")
@auth.signed_in
def live(key: str):
    svc = services()
    if CohortViews(svc.engine).cohort(key) is None:
        raise NotFound(f"no cohort {key!r}")
    slots = _slots()
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if not slots.acquire(blocking=False):
        return Response(f"retry: {BUSY_RETRY_MS}\n\n", mimetype="text/event-stream", headers=headers)
    details = CohortDetails(svc.engine)

    def stream():
        at = applied_position(svc.engine)  # first: whatever is applied after it is looked at again below
        seen = details.fingerprint(key)
        yield f"retry: {RETRY_MS}\n" + _event("hello", f"{at} {seen}")
        ends = time.monotonic() + STREAM_SECONDS
        while time.monotonic() < ends:
            time.sleep(CHECK_SECONDS)
            now_at = applied_position(svc.engine)
            if now_at == at:
                yield ": -\n\n"  # a comment: finds a browser that has gone away
                continue
            at = now_at
            fingerprint = details.fingerprint(key)
            if fingerprint != seen:
                seen = fingerprint
                yield _event("changed", fingerprint)
            else:
                yield ": -\n\n"

    return Response(_Held(stream(), slots), mimetype="text/event-stream", headers=headers)


class _Held:
    """A stream that gives its slot back when the server closes it, whether or not it ever ran
    (a generator's ``finally`` does not run if it was never started)."""

    def __init__(self, chunks, slots: threading.BoundedSemaphore) -> None:
        self._chunks = chunks
        self._slots = slots
        self._lock = threading.Lock()
        self._held = True

    def __iter__(self):
        try:
            yield from self._chunks
        finally:
            self.close()

    def close(self) -> None:
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._chunks.close()
            self._slots.release()
