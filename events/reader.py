"""Reading Polku's log from outside: open the sealed parts of events with keys fetched from Polku.

For integrators who consume the statement topic directly (Kafka)::

    from kafka import KafkaConsumer
    from events import decode
    from events.reader import KeyClient, open_events

    keys = KeyClient("https://lrs.example.org", key="…", secret="…")  # a credential with scope ``keys``
    for batch in consumer.poll(timeout_ms=1000).values():
        for event in open_events([decode(m.value) for m in batch], keys):
            ...  # event.data["statement"] as Polku stores it

:class:`KeyClient` asks ``GET /api/v1/data-keys`` for the keys a batch names (one request per
batch) and keeps them at most ``keep_s`` seconds: a key an erasure deletes stops opening anything
here too, once the kept copy expires. Parts whose key Polku no longer gives (an erased person) open
as Polku's own projections open them: the anonymous agent, or ``statement.shredded``.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import urllib.request
from typing import Iterable, Mapping

from events.envelope import Event
from events.keyring import DataKey
from events.sealing import kids_of, open_event

MAX_KIDS_PER_REQUEST = 200


class KeyClient:
    def __init__(self, base_url: str, key: str, secret: str, keep_s: float = 300.0, timeout_s: float = 10.0) -> None:
        self._base = base_url.rstrip("/")
        self._auth = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")
        self._keep_s = keep_s
        self._timeout_s = timeout_s
        self._kept: dict[str, tuple[float, DataKey | None]] = {}

    def keys(self, kids: Iterable[str]) -> Mapping[str, DataKey]:
        now = time.monotonic()
        wanted = sorted(set(kids))
        missing = [k for k in wanted if k not in self._kept or now - self._kept[k][0] > self._keep_s]
        for start in range(0, len(missing), MAX_KIDS_PER_REQUEST):
            chunk = missing[start:start + MAX_KIDS_PER_REQUEST]
            query = urllib.parse.urlencode({"kid": ",".join(chunk)})
            request = urllib.request.Request(f"{self._base}/api/v1/data-keys?{query}", headers={"Authorization": self._auth})
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310 - the configured Polku
                answer = json.loads(response.read())
            for kid in chunk:
                found = answer["keys"].get(kid)
                self._kept[kid] = (now, DataKey(kid, found["ref"], base64.b64decode(found["key"])) if found else None)
        return {k: self._kept[k][1] for k in wanted if self._kept.get(k, (0, None))[1] is not None}


def open_events(events: list[Event], keys: KeyClient) -> list[Event]:
    """``events`` with their sealed parts opened (one key request for the batch)."""
    kids = set().union(*(kids_of(e) for e in events)) if events else set()
    found = keys.keys(kids) if kids else {}
    return [open_event(e, found) if kids_of(e) else e for e in events]
