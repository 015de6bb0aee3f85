"""The scale-out log: one Kafka topic, read and written with kafka-python.

Keying. Every message's key is the event's ``key`` (UTF-8); the producer's default partitioner
hashes it (murmur2, the same hash the Java client uses), so every event with one key lands in one
partition, and Kafka keeps a partition in append order. That is how one learner's statements stay
in order while different learners spread over the partitions. The value is exactly
:func:`events.envelope.encode` of the event, so an integrator consuming the topic directly sees
the same JSON envelope the embedded log holds.

Durability. The producer uses ``acks='all'`` (and kafka-python's idempotent producer, so a retried
send is not stored twice). :meth:`KafkaLog.append` flushes and then waits for the broker's
acknowledgement of every event; it returns only when all of them are on the log, with the
partition and offset the broker assigned. Anything else -- a broker that is down or unreachable,
a timeout, an error response -- becomes :class:`LogUnavailable` within ``timeout_s``: nothing
here waits forever. A failed batch may still have been partly stored (or be stored by a retry
in flight); that is safe because appending the same statement again is a no-op upstream.

Reading uses manual partition assignment (no consumer group: no join, no rebalance, no committed
offsets -- the projections keep their own positions): ``assign`` + ``seek`` + ``poll``.

"""

from __future__ import annotations

import threading
import time
from typing import Any, Sequence

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, OffsetOutOfRangeError, TopicAlreadyExistsError

from events.envelope import Event, Record, decode, encode
from events.log import Log, LogUnavailable, Position


class KafkaLog(Log):
    """A partitioned log kept in one Kafka topic.

    ``timeout_s`` bounds every blocking step: connecting (the constructor fails with
    :class:`LogUnavailable` rather than hang when no broker answers), an append's wait for the
    acknowledgement, and a read or ``end`` request. ``poll_s`` is how long :meth:`read` waits for
    records before checking whether there are any at all; the runner calls ``read`` again.
    ``api_version`` (e.g. ``(3, 9)``) skips the client's version probe if it ever misjudges a
    broker.
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
    ) -> None:
        self.topic = topic
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        timeout_ms = max(int(timeout_s * 1000), 1000)
        common: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "request_timeout_ms": timeout_ms,
            "bootstrap_timeout_ms": timeout_ms,
            # after an outage, try the broker again within a second, not after the default 30 s
            "reconnect_backoff_max_ms": 1000,
        }
        if api_version is not None:
            common["api_version"] = tuple(api_version)
        consumer_config = common | {
            "group_id": None,
            "enable_auto_commit": False,
            "auto_offset_reset": "none",  # an offset outside the log is an error, not a silent jump
            "allow_auto_create_topics": False,
            "fetch_max_wait_ms": 50,  # the broker holds an empty fetch this long; keeps reads snappy
        }
        self._producer: KafkaProducer | None = None
        self._reader: KafkaConsumer | None = None
        self._prober: KafkaConsumer | None = None
        self._read_lock = threading.Lock()
        self._probe_lock = threading.Lock()
        try:
            self._partitions = self._ensure_topic(common, partitions)
            self._producer = KafkaProducer(
                **common,
                acks="all",
                linger_ms=0,
                max_block_ms=timeout_ms,
                delivery_timeout_ms=2 * timeout_ms,
                allow_auto_create_topics=False,
            )
            self._reader = KafkaConsumer(**consumer_config)
            self._prober = KafkaConsumer(**consumer_config)
        except KafkaError as exc:
            self.close()
            raise LogUnavailable(f"Kafka at {bootstrap_servers} is unavailable: {exc}") from exc

    def _ensure_topic(self, common: dict[str, Any], partitions: int) -> int:
        """Create the topic if it is missing; return how many partitions it really has."""
        admin = KafkaAdminClient(**common)
        try:
            try:
                admin.create_topics([NewTopic(self.topic, num_partitions=partitions, replication_factor=1)])
            except TopicAlreadyExistsError:
                pass
            (described,) = admin.describe_topics([self.topic])
            if described["error_code"]:
                raise LogUnavailable(f"Kafka cannot describe topic {self.topic!r} (error {described['error_code']})")
            return len(described["partitions"])
        finally:
            admin.close()

    @property
    def partitions(self) -> int:
        return self._partitions

    # ---- writing ------------------------------------------------------------------------------
    def append(self, events: Sequence[Event]) -> list[Position]:
        if not events:
            return []
        assert self._producer is not None
        deadline = time.monotonic() + self._timeout_s
        try:
            futures = [self._producer.send(self.topic, key=e.key.encode("utf-8"), value=encode(e)) for e in events]
            self._producer.flush(timeout=_remaining(deadline))
            metadata = [future.get(timeout=_remaining(deadline)) for future in futures]
        except KafkaError as exc:
            raise LogUnavailable(f"Kafka did not acknowledge the events on {self.topic!r}: {exc}") from exc
        return [Position(m.partition, m.offset) for m in metadata]

    # ---- reading ------------------------------------------------------------------------------
    def read(self, partition: int, offset: int, limit: int = 500) -> list[Record]:
        tp = self._partition(partition)
        assert self._reader is not None
        with self._read_lock:
            try:
                self._reader.assign([tp])
                self._reader.seek(tp, offset)
                batch = self._poll(tp, limit, time.monotonic() + self._poll_s)
                if not batch and self.end(partition) > offset:
                    # there are records at or past ``offset``; they are just slow to arrive
                    batch = self._poll(tp, limit, time.monotonic() + self._timeout_s)
                    if not batch:
                        raise LogUnavailable(f"Kafka served no records of {tp.topic}[{partition}] from {offset} in time")
            except OffsetOutOfRangeError as exc:
                if offset >= self.end(partition):
                    return []
                raise LogUnavailable(f"offset {offset} of {tp.topic}[{partition}] is no longer on the log") from exc
            except KafkaError as exc:
                raise LogUnavailable(f"Kafka could not serve {tp.topic}[{partition}]: {exc}") from exc
        return [Record(partition, r.offset, decode(r.value)) for r in batch]

    def _poll(self, tp: TopicPartition, limit: int, deadline: float) -> list:
        assert self._reader is not None
        while True:
            wait_ms = int(_remaining(deadline) * 1000)
            records = self._reader.poll(timeout_ms=wait_ms, max_records=limit).get(tp, [])
            if records or wait_ms <= 0:
                return records

    def end(self, partition: int) -> int:
        tp = self._partition(partition)
        assert self._prober is not None
        with self._probe_lock:
            try:
                return self._prober.end_offsets([tp], timeout_ms=int(self._timeout_s * 1000))[tp]
            except KafkaError as exc:
                raise LogUnavailable(f"Kafka could not tell the end of {tp.topic}[{partition}]: {exc}") from exc

    def _partition(self, partition: int) -> TopicPartition:
        if not 0 <= partition < self._partitions:
            raise ValueError(f"topic {self.topic!r} has {self._partitions} partitions, not {partition}")
        return TopicPartition(self.topic, partition)

    def close(self) -> None:
        """Close the producer and both consumers; closing twice is harmless."""
        if self._producer is not None:
            self._producer.close(timeout=self._timeout_s)
            self._producer = None
        for name in ("_reader", "_prober"):
            consumer = getattr(self, name)
            if consumer is not None:
                consumer.close()
                setattr(self, name, None)


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)
