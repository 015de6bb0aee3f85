"""The scale-out log: one Kafka topic, read and written with kafka-python.

Keying. Every message's key is the event's ``key`` (UTF-8); the producer's default partitioner
hashes it (murmur2, the same hash the Java client uses), so every event with one key lands in one
partition, and Kafka keeps a partition in append order. That is how one learner's statements stay
in order while different learners spread over the partitions. The value is exactly
:func:`events.envelope.encode` of the event, so an integrator consuming the topic directly sees
the same JSON envelope the embedded log holds. Record batches are gzip-compressed by the producer
(Kafka's own batch compression: consumers decompress on their own).

Durability. The producer uses ``acks='all'`` (and kafka-python's idempotent producer, so a retried
send is not stored twice). :meth:`KafkaLog.append` flushes and then waits for the broker's
acknowledgement of every event; it returns only when all of them are on the log, with the
partition and offset the broker assigned. Anything else -- a broker that is down or unreachable,
a timeout, an error response -- becomes :class:`LogUnavailable` within ``timeout_s``: nothing
here waits forever. A failed batch may still have been partly stored (or be stored by a retry
in flight); that is safe because appending the same statement again is a no-op upstream.

Recovery. A producer or consumer whose request failed is thrown away and built again on the next
call: after a broker outage or pause, a client can be left with expired batches, a fenced
producer id or a stuck connection, and a new one is the only state known to be good. So the
server needs no restart when the broker is back.

The topic is a source of truth, so Polku creates it with unlimited retention
(``retention.ms=-1``, ``retention.bytes=-1``), the replication factor and ``min.insync.replicas``
it is given, and a ``max.message.bytes`` that admits the largest event Polku accepts. A topic
that exists already keeps its settings; a finite retention is reported by :meth:`warnings`.

Identity. :meth:`identity` is the cluster id and the topic id: a wiped broker is a new cluster, a
deleted and recreated topic a new topic id, so the projections notice either.

Reading uses manual partition assignment (no consumer group: no join, no rebalance, no committed
offsets -- the projections keep their own positions): ``assign`` + ``seek`` + ``poll``. A worker
follows the topic with :meth:`KafkaLog.tail`: one consumer assigned every partition the worker
applies, sought only where a position is not where it stopped, so the fetches run on without a
pause, and held at the broker (``fetch.max.wait.ms``) until an event arrives: an idle worker sends
a couple of requests a second, and an acknowledged event reaches it with the broker's answer.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Callable, Mapping, Sequence, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    OffsetOutOfRangeError,
    TopicAlreadyExistsError,
)

from events.envelope import Event, Record, decode, encode
from events.log import EventTooLarge, Log, LogMisconfigured, LogUnavailable, Position, summary

log = logging.getLogger(__name__)

#: What a record batch adds to an event's key and value (headers, lengths, CRC), rounded up.
RECORD_OVERHEAD = 512
#: Kafka's error code for a topic the cluster does not have.
UNKNOWN_TOPIC_OR_PARTITION = 3
#: After an ``end`` request failed, further ones fail at once for this long (a read of the
#: watermark must not wait for the log's timeout once per partition while the broker is away).
END_BACKOFF_S = 2.0
#: How long a caller waits for another's end request, and how long an end request may take: the
#: consistency watermark asks on reads, which must stay fast while a broker does not answer.
END_WAIT_S = 0.5
END_TIMEOUT_S = 1.0
#: How long the broker holds a tailing fetch that finds nothing new (it answers at once when an
#: event arrives): the requests an idle worker makes, not the latency of a new one.
TAIL_FETCH_WAIT_MS = 500

T = TypeVar("T")


class KafkaLog(Log):
    """A partitioned log kept in one Kafka topic.

    ``timeout_s`` bounds every blocking step: connecting (the constructor fails with
    :class:`LogUnavailable` rather than hang when no broker answers), an append's wait for the
    acknowledgement, and a read or ``end`` request. ``poll_s`` is how long :meth:`read` waits for
    records before checking whether there are any at all; the runner calls ``read`` again.
    ``api_version`` (e.g. ``(4, 1)``) skips the client's version probe if it ever misjudges a
    broker. ``max_event_bytes`` is the largest event Polku will append; a new topic is created to admit
    it, an existing topic's own ``max.message.bytes`` may lower it.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str = "xapi.statements",
        partitions: int = 4,
        timeout_s: float = 10.0,
        client_id: str = "polku",
        api_version: tuple[int, ...] | None = None,
        poll_s: float = 0.1,
        replication_factor: int = 1,
        min_insync_replicas: int | None = None,
        max_event_bytes: int = 20 * 1024 * 1024,
    ) -> None:
        self.topic = topic
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        timeout_ms = max(int(timeout_s * 1000), 1000)
        self._common: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "request_timeout_ms": timeout_ms,
            "bootstrap_timeout_ms": timeout_ms,
            # after an outage, try the broker again within a second, not after the default 30 s
            "reconnect_backoff_max_ms": 1000,
        }
        if api_version is not None:
            self._common["api_version"] = tuple(api_version)
        self._timeout_ms = timeout_ms
        self._producer: KafkaProducer | None = None
        self._reader: KafkaConsumer | None = None
        self._prober: KafkaConsumer | None = None
        self._tailer: KafkaConsumer | None = None
        self._tailed: dict[int, _Tailed] = {}
        self._tail_lock = threading.Lock()
        self._swap_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._warnings: list[str] = []
        self._identity_admin: KafkaAdminClient | None = None
        self._admin_lock = threading.Lock()
        self._end_broken_until = 0.0
        self._prober_building = False
        self._prober_flag_lock = threading.Lock()
        self._closed = False
        self.max_event_bytes = max_event_bytes
        try:
            self._partitions = self._ensure_topic(partitions, replication_factor, min_insync_replicas)
            self._producer = self._new_producer()
            self._reader = self._new_consumer()
            self._prober = self._new_consumer()
        except KafkaError as exc:
            self.close()
            if getattr(exc, "retriable", False) or isinstance(exc, (KafkaConnectionError, KafkaTimeoutError)):
                raise LogUnavailable(f"Kafka at {bootstrap_servers} is unavailable: {summary(exc)}") from exc
            raise LogMisconfigured(f"Kafka refuses topic {topic!r} as configured: {summary(exc)}") from exc
        for warning in self._warnings:
            log.warning("%s", warning)

    # ---- clients ------------------------------------------------------------------------------
    def _new_producer(self, bootstrap_timeout_ms: int | None = None) -> KafkaProducer:
        common = self._common | ({"bootstrap_timeout_ms": max(bootstrap_timeout_ms, 100)} if bootstrap_timeout_ms else {})
        return KafkaProducer(
            **common,
            acks="all",
            linger_ms=0,
            # a sealed event is half clear JSON: gzip takes 40 % of one, 65 % of a batch, on the
            # broker's disk and the wire; every Kafka client reads it without being told
            compression_type="gzip",
            max_block_ms=self._timeout_ms,
            delivery_timeout_ms=2 * self._timeout_ms,
            max_request_size=self.max_event_bytes + RECORD_OVERHEAD,
            allow_auto_create_topics=False,
        )

    def _new_consumer(self, fetch_max_wait_ms: int = 50) -> KafkaConsumer:
        """``fetch_max_wait_ms``: how long the broker holds a fetch that finds nothing (it answers
        as soon as there is something); short for random reads, long for the tail."""
        return KafkaConsumer(
            **self._common,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="none",  # an offset outside the log is an error, not a silent jump
            allow_auto_create_topics=False,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )

    def _admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(**self._common)

    def _ensure_topic(self, partitions: int, replication_factor: int, min_insync_replicas: int | None) -> int:
        """Create the topic if it is missing; return how many partitions it really has, and note
        the settings of an existing topic that break a promise."""
        configs = {
            "retention.ms": "-1",
            "retention.bytes": "-1",
            "max.message.bytes": str(self.max_event_bytes + RECORD_OVERHEAD),
            "min.insync.replicas": str(min_insync_replicas or max(1, min(2, replication_factor - 1))),
        }
        admin = self._admin()
        try:
            try:
                admin.create_topics(
                    [NewTopic(self.topic, num_partitions=partitions, replication_factor=replication_factor, topic_configs=configs)]
                )
                log.info("created topic %r: %d partitions, replication %d, %s", self.topic, partitions, replication_factor, configs)
            except TopicAlreadyExistsError:
                pass
            deadline = time.monotonic() + self._timeout_s
            while True:  # a topic just created reaches the broker's metadata a moment later
                (described,) = admin.describe_topics([self.topic])
                if not described["error_code"]:
                    break
                if time.monotonic() > deadline:
                    raise LogUnavailable(f"Kafka cannot describe topic {self.topic!r} (error {described['error_code']})")
                time.sleep(0.05)
            self._inspect(admin)
            return len(described["partitions"])
        finally:
            admin.close()

    def _inspect(self, admin: KafkaAdminClient) -> None:
        """Read the topic's settings: lower the event limit to its ``max.message.bytes`` and note
        a finite retention."""
        # every value in force, also those the topic takes from the broker's defaults
        found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, self.topic)], config_filter="all")
        values = {name: entry.get("value") for name, entry in found.get("topic", {}).get(self.topic, {}).items()}
        if values.get("max.message.bytes"):
            self.max_event_bytes = min(self.max_event_bytes, int(values["max.message.bytes"]) - RECORD_OVERHEAD)
        for name in ("retention.ms", "retention.bytes"):
            value = values.get(name)
            if value is not None and value != "-1":
                self._warnings.append(
                    f"topic {self.topic!r} has {name}={value}: Kafka will delete events Polku needs to rebuild its "
                    f"views; set {name}=-1 (kafka-configs --alter --entity-type topics --entity-name {self.topic} "
                    f"--add-config {name}=-1)"
                )

    @property
    def partitions(self) -> int:
        return self._partitions

    def warnings(self) -> list[str]:
        return list(self._warnings)

    def identity(self) -> str:
        """``kafka:<cluster id>/<topic>:<topic id>`` (``…:missing`` when the topic is not there).

        One admin client serves every call (a client whose construction fails leaves a thread of
        kafka-python's behind, so it is not built anew every few seconds)."""
        with self._admin_lock:
            if self._identity_admin is None:
                self._identity_admin = self._rebuilt("admin client", self._admin, again=False)
            admin = self._identity_admin
            try:
                cluster = admin.describe_cluster()["cluster_id"]
                (described,) = admin.describe_topics([self.topic])
            except KafkaError as exc:
                raise LogUnavailable(f"Kafka could not tell who it is: {summary(exc)}") from exc
        if described["error_code"] == UNKNOWN_TOPIC_OR_PARTITION:
            return f"kafka:{cluster}/{self.topic}:missing"
        if described["error_code"] or not described.get("topic_id"):
            raise LogUnavailable(f"Kafka could not describe topic {self.topic!r} (error {described['error_code']})")
        return f"kafka:{cluster}/{self.topic}:{described['topic_id']}"

    # ---- writing ------------------------------------------------------------------------------
    def append(self, events: Sequence[Event]) -> list[Position]:
        if not events:
            return []
        encoded = [(e.key.encode("utf-8"), encode(e)) for e in events]
        self.check_sizes([key + value for key, value in encoded])
        deadline = time.monotonic() + self._timeout_s
        producer = self._current_producer(deadline)
        try:
            futures = [producer.send(self.topic, key=key, value=value) for key, value in encoded]
            producer.flush(timeout=_remaining(deadline))
            metadata = [future.get(timeout=_remaining(deadline)) for future in futures]
        except MessageSizeTooLargeError as exc:
            size = max(len(k) + len(v) for k, v in encoded)
            raise EventTooLarge(size, self.max_event_bytes) from exc
        except KafkaError as exc:
            self._discard_producer(producer)
            raise LogUnavailable(f"Kafka did not acknowledge the events on {self.topic!r}: {exc}") from exc
        return [Position(m.partition, m.offset) for m in metadata]

    def _current_producer(self, deadline: float) -> KafkaProducer:
        """The producer, built anew if the last one failed -- all within the append's deadline.
        One thread builds while the others wait for it, bounded by their own deadlines; the swap
        lock is only ever held for an assignment, so discarding a producer never waits."""
        with self._swap_lock:
            if self._producer is not None:
                return self._producer
        if not self._build_lock.acquire(timeout=_remaining(deadline)):
            raise LogUnavailable(f"Kafka did not accept the events on {self.topic!r} in time (producer being rebuilt)")
        try:
            with self._swap_lock:
                if self._producer is not None:
                    return self._producer
            producer = self._rebuilt("producer", lambda: self._new_producer(int(_remaining(deadline) * 1000)))
            with self._swap_lock:
                self._producer = producer
            return producer
        finally:
            self._build_lock.release()

    def _discard_producer(self, producer: KafkaProducer) -> None:
        """Throw a failed producer away (the next append builds a new one), without waiting for it."""
        with self._swap_lock:
            if self._producer is producer:
                self._producer = None
        threading.Thread(target=_quietly, args=(lambda: producer.close(timeout=0),), daemon=True).start()

    def _rebuilt(self, what: str, build: Callable[[], T], again: bool = True) -> T:
        """``build()`` a client, once a bootstrap server accepts connections; ``again``: it
        replaces one that failed (said in the log)."""
        if not self._reachable():  # a failed construction leaks a kafka-python thread: try only when it may work
            raise LogUnavailable(f"Kafka at {self._common['bootstrap_servers']} does not accept connections")
        try:
            client = build()
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka is unavailable: {summary(exc)}") from exc
        if again:
            log.info("Kafka %s rebuilt after a failure", what)
        return client

    def _reachable(self) -> bool:
        """Whether any bootstrap server accepts a TCP connection (no Kafka request: no thread)."""
        for server in str(self._common["bootstrap_servers"]).split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=1).close()
                return True
            except (OSError, ValueError):
                continue
        return False

    # ---- reading ------------------------------------------------------------------------------
    def read(self, partition: int, offset: int, limit: int = 500) -> list[Record]:
        tp = self._partition(partition)
        with self._read_lock:
            if self._reader is None:
                self._reader = self._rebuilt("reader", self._new_consumer)
            try:
                self._reader.assign([tp])
                self._reader.seek(tp, offset)
                batch = self._poll(tp, limit, time.monotonic() + self._poll_s)
                if not batch and self.end(partition) > offset:
                    # there are records at or past ``offset``; they are just slow to arrive
                    batch = self._poll(tp, limit, time.monotonic() + self._timeout_s)
                    if not batch:
                        self._discard_reader()  # a reader that brings nothing in time is stuck
                        raise LogUnavailable(f"Kafka served no records of {tp.topic}[{partition}] from {offset} in time")
            except OffsetOutOfRangeError as exc:
                if offset >= self.end(partition):
                    return []
                raise LogUnavailable(f"offset {offset} of {tp.topic}[{partition}] is no longer on the log") from exc
            except KafkaError as exc:
                self._discard_reader()
                raise LogUnavailable(f"Kafka could not serve {tp.topic}[{partition}]: {summary(exc)}") from exc
        return [Record(partition, r.offset, decode(r.value)) for r in batch]

    waits = True

    def tail(self, starts: Mapping[int, int], limit: int = 500, wait_s: float = 0.0) -> dict[int, list[Record]]:
        """See :meth:`events.log.Log.tail`. What was fetched and not yet asked for is kept per
        partition (a batch that was not committed is asked for again and served from it); a
        partition holding ``limit`` records is paused, so nothing grows without bound."""
        with self._tail_lock:
            try:
                return self._tail(starts, limit, wait_s)
            except OffsetOutOfRangeError as exc:
                self._discard_tailer()
                ends = self.ends(list(starts))
                behind = [p for p, offset in starts.items() if offset < ends[p]]
                raise LogUnavailable(f"an offset of {self.topic}{behind} is no longer on the log") from exc
            except KafkaError as exc:
                self._discard_tailer()
                raise LogUnavailable(f"Kafka could not serve {self.topic}: {summary(exc)}") from exc

    def _tail(self, starts: Mapping[int, int], limit: int, wait_s: float) -> dict[int, list[Record]]:
        if self._tailer is None:
            self._tailer = self._rebuilt("tail reader", lambda: self._new_consumer(TAIL_FETCH_WAIT_MS), again=False)
            self._tailed = {}
        consumer = self._tailer
        tps = {partition: self._partition(partition) for partition in starts}
        if set(consumer.assignment()) != set(tps.values()):
            consumer.assign(list(tps.values()))
            self._tailed = {}
        for partition, offset in starts.items():
            tailed = self._tailed.get(partition)
            if tailed is None or not tailed.move_to(offset):
                consumer.seek(tps[partition], offset)
                self._tailed[partition] = _Tailed(offset)

        def found() -> dict[int, list[Record]]:
            return {p: self._tailed[p].records[:limit] for p in starts if self._tailed[p].records}

        if all(self._tailed[p].records for p in starts):
            return found()
        # wait for news only when there is nothing to give
        self._fetch(tps, limit, wait_s if not found() else 0.0)
        if found():
            return found()
        # Nothing came: caught up, or are there records the consumer is slow to bring?
        ends = self.ends(list(starts))
        if all(ends[p] <= offset for p, offset in starts.items()):
            return {}
        deadline = time.monotonic() + self._timeout_s
        while not found():
            if time.monotonic() >= deadline:
                self._discard_tailer()  # a reader that brings nothing in time is stuck
                raise LogUnavailable(f"Kafka served no records of {self.topic} in time")
            self._fetch(tps, limit, min(_remaining(deadline), TAIL_FETCH_WAIT_MS / 1000))
        return found()

    def _fetch(self, tps: Mapping[int, TopicPartition], limit: int, wait_s: float) -> None:
        """One poll of the tail into the per-partition buffers; partitions that hold ``limit``
        records already are paused meanwhile."""
        assert self._tailer is not None
        full = [tps[p] for p in tps if len(self._tailed[p].records) >= limit]
        self._tailer.pause(*full)
        self._tailer.resume(*[tp for tp in tps.values() if tp not in full])
        polled = self._tailer.poll(timeout_ms=int(wait_s * 1000), max_records=limit)
        for tp, batch in polled.items():
            if tp.partition in self._tailed and batch:
                self._tailed[tp.partition].add([Record(tp.partition, r.offset, decode(r.value)) for r in batch])

    def _discard_tailer(self) -> None:
        """Throw the tail reader away (held under the tail lock); the next tail builds a new one."""
        if self._tailer is not None:
            _quietly(self._tailer.close)
            self._tailer = None
        self._tailed = {}

    def _discard_reader(self) -> None:
        """Throw the reader away (held under the read lock); the next read builds a new one."""
        if self._reader is not None:
            _quietly(self._reader.close)
            self._reader = None

    def _poll(self, tp: TopicPartition, limit: int, deadline: float) -> list:
        assert self._reader is not None
        while True:
            wait_ms = int(_remaining(deadline) * 1000)
            records = self._reader.poll(timeout_ms=wait_ms, max_records=limit).get(tp, [])
            if records or wait_ms <= 0:
                return records

    def end(self, partition: int) -> int:
        return self.ends([partition])[partition]

    def ends(self, partitions: Sequence[int]) -> dict[int, int]:
        """Every partition's end in one ListOffsets request."""
        tps = [self._partition(partition) for partition in partitions]
        where = f"{self.topic}{sorted(partitions)}"
        if time.monotonic() < self._end_broken_until:
            raise LogUnavailable(f"Kafka could not tell the end of {where} a moment ago")
        # Readers ask for the end (the consistency watermark) and must not wait out the log's
        # append timeout behind a broker that does not answer: one probe at a time, briefly.
        if not self._probe_lock.acquire(timeout=END_WAIT_S):
            raise LogUnavailable(f"Kafka is slow to tell the end of {where}")
        try:
            if self._prober is None:  # built beside the caller: a reader never waits for a bootstrap
                self._rebuild_prober_in_background()
                raise LogUnavailable(f"Kafka cannot tell the end of {where} yet (reconnecting)")
            try:
                found = self._prober.end_offsets(tps, timeout_ms=min(self._timeout_ms, int(END_TIMEOUT_S * 1000)))
            except KafkaError as exc:
                _quietly(self._prober.close)
                self._prober = None
                self._end_broken_until = time.monotonic() + END_BACKOFF_S
                raise LogUnavailable(f"Kafka could not tell the end of {where}: {summary(exc)}") from exc
            return {tp.partition: found[tp] for tp in tps}
        finally:
            self._probe_lock.release()

    def _rebuild_prober_in_background(self) -> None:
        with self._prober_flag_lock:
            if self._prober_building:
                return
            self._prober_building = True

        def build() -> None:
            try:
                prober = self._rebuilt("end-offset prober", self._new_consumer)
            except LogUnavailable:
                self._end_broken_until = time.monotonic() + END_BACKOFF_S
            else:
                with self._probe_lock:
                    if self._closed:
                        _quietly(prober.close)
                    else:
                        self._prober = prober
            finally:
                self._prober_building = False

        threading.Thread(target=build, name="polku-kafka-prober", daemon=True).start()

    def _partition(self, partition: int) -> TopicPartition:
        if not 0 <= partition < self._partitions:
            raise ValueError(f"topic {self.topic!r} has {self._partitions} partitions, not {partition}")
        return TopicPartition(self.topic, partition)

    def close(self) -> None:
        """Close the producer and both consumers; closing twice is harmless."""
        self._closed = True
        if self._producer is not None:
            _quietly(lambda: self._producer.close(timeout=self._timeout_s))
            self._producer = None
        if self._identity_admin is not None:
            _quietly(self._identity_admin.close)
            self._identity_admin = None
        for name in ("_reader", "_prober", "_tailer"):
            consumer = getattr(self, name)
            if consumer is not None:
                _quietly(consumer.close)
                setattr(self, name, None)


class _Tailed:
    """What the tail holds of one partition: every record from ``start`` up to ``next`` (the
    consumer's position there), in order."""

    def __init__(self, offset: int) -> None:
        self.start = self.next = offset
        self.records: list[Record] = []

    def move_to(self, offset: int) -> bool:
        """Drop what lies below ``offset``; False when ``offset`` is outside what is held (seek)."""
        if not self.start <= offset <= self.next:
            return False
        if offset > self.start:
            self.records = [r for r in self.records if r.offset >= offset]
            self.start = offset
        return True

    def add(self, records: list[Record]) -> None:
        self.records.extend(records)
        self.next = records[-1].offset + 1


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)


def _quietly(close: Callable[[], Any]) -> None:
    """Close a client that already failed; its own errors tell nothing new."""
    try:
        close()
    except Exception:  # noqa: BLE001 - a broken client may fail in any way while closing
        log.debug("closing a failed Kafka client raised", exc_info=True)
