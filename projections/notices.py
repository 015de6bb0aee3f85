"""Applied-notices on PostgreSQL: a projection worker's commit wakes the writes waiting for it.

A POST is answered only once its statements are readable (read-your-writes). In the scale-out
mode another process (``polku project``) applies them, so a server cannot be told in memory when
that happened. Rather than every waiting request asking the database every few milliseconds, the
runner's transaction sends ``NOTIFY polku_applied`` (PostgreSQL delivers it when the transaction
commits, and never for one rolled back), and each server process listens on one connection of
its own and wakes its waiters, who then look at the positions once.

A notice only hastens a look: waiters still look every 50 ms without one, so a notice lost while
the listener reconnects delays an answer by at most that, and correctness never rests on it.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

log = logging.getLogger(__name__)

CHANNEL = "polku_applied"
#: How long one wait for a notice lasts, so that :meth:`Listener.stop` is answered within it.
NOTICE_WAIT_S = 1.0
#: Waits between attempts to listen again after the connection failed: the first, the longest.
RECONNECT_S = (0.5, 10.0)


def announce(conn: sa.Connection) -> None:
    """Tell listeners, once ``conn``'s transaction commits, that positions moved (PostgreSQL;
    PostgreSQL folds the identical notices of one transaction into one)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_notify(CHANNEL, "")))


class Listener:
    """Listens for :data:`CHANNEL` on a connection taken out of ``engine``'s pool (so it has the
    engine's timeouts and keepalives) and notifies :attr:`condition` on every notice."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.condition = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Listener":
        self._thread = threading.Thread(target=self._run, name="polku-applied-notices", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=NOTICE_WAIT_S + 1)
            self._thread = None

    def _run(self) -> None:
        pause = RECONNECT_S[0]
        while not self._stop.is_set():
            try:
                self._listen()
                pause = RECONNECT_S[0]
            except Exception as exc:  # noqa: BLE001 - the database away, or anything else: listen again later
                level = logging.DEBUG if pause == RECONNECT_S[0] else logging.WARNING  # repeated failures are worth a warning
                log.log(level, "listening for applied-notices failed (%s); waiting writes look every 50 ms meanwhile", type(exc).__name__)
                self._stop.wait(pause)
                pause = min(pause * 2, RECONNECT_S[1])

    def _listen(self) -> None:
        raw = self.engine.raw_connection()
        connection = raw.driver_connection
        raw.detach()  # this connection is the listener's alone, never returned to the pool
        try:
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                for _ in connection.notifies(timeout=NOTICE_WAIT_S, stop_after=1):
                    with self.condition:
                        self.condition.notify_all()
        finally:
            connection.close()
