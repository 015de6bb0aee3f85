"""The Kafka log keeps the log contract on a real Apache Kafka broker, and fails fast
and clearly when the broker is not there."""

from __future__ import annotations

import json
import threading
import time

import pytest

pytest.importorskip("kafka", reason="kafka-python is not installed; Kafka tests need it: pip install -e '.[kafka]'")

from kafka import KafkaConsumer, TopicPartition  # noqa: E402

from events import Event, EventTooLarge, LogUnavailable  # noqa: E402
from events.kafka import KafkaLog  # noqa: E402
from tests.events.contract import LogContract, make_events, read_all  # noqa: E402
from tests.fixtures.server import free_port  # noqa: E402

pytestmark = pytest.mark.kafka

TIMEOUT_S = 2.0


class TestKafkaLog(LogContract):
    @pytest.fixture
    def log(self, kafka_bootstrap, kafka_topic):
        log = KafkaLog(kafka_bootstrap, topic=kafka_topic, partitions=4, timeout_s=5.0)
        yield log
        log.close()


def test_append_to_unreachable_broker_raises_log_unavailable():
    nobody = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(LogUnavailable, match="unavailable"):
        KafkaLog(nobody, timeout_s=TIMEOUT_S).append(make_events(1))
    assert time.monotonic() - started < 3 * TIMEOUT_S, "gives up within its timeout instead of hanging"


def test_append_after_broker_stopped_raises_log_unavailable(private_broker, kafka_topic):
    log = KafkaLog(private_broker.bootstrap, topic=kafka_topic, timeout_s=TIMEOUT_S)
    try:
        assert len(log.append(make_events(2))) == 2
        private_broker.kill()
        started = time.monotonic()
        with pytest.raises(LogUnavailable):
            log.append(make_events(1))
        assert time.monotonic() - started < 3 * TIMEOUT_S
        with pytest.raises(LogUnavailable):
            log.read(0, 0)
        with pytest.raises(LogUnavailable):
            log.end(0)
        with pytest.raises(LogUnavailable):
            log.tail({0: 0, 1: 0}, wait_s=0.5)
    finally:
        log.close()


def test_a_waiting_tail_brings_an_event_appended_while_it_waits(kafka_bootstrap, kafka_topic):
    """A worker's idle read is held at the broker and answered by the next event: it is applied
    as soon as it is acknowledged, without a worker asking again and again."""
    log = KafkaLog(kafka_bootstrap, topic=kafka_topic, partitions=2, timeout_s=5.0)
    writer = KafkaLog(kafka_bootstrap, topic=kafka_topic, timeout_s=5.0)
    try:
        assert log.tail({0: 0, 1: 0}) == {}
        appender = threading.Timer(0.3, lambda: writer.append(make_events(1, key="late")))
        appender.start()
        found = log.tail({0: 0, 1: 0}, wait_s=30.0)
        appender.join()
        assert [r.event.key for records in found.values() for r in records] == ["late"]
    finally:
        log.close()
        writer.close()


def test_topic_name_is_configurable_and_messages_are_the_envelope_json(kafka_bootstrap, kafka_topic):
    log = KafkaLog(kafka_bootstrap, topic=kafka_topic, partitions=2, timeout_s=5.0)
    events = make_events(3, key="learner-ä") + make_events(2, key="learner-b")
    try:
        positions = log.append(events)
    finally:
        log.close()
    assert log.partitions == 2

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=None, enable_auto_commit=False)
    try:
        assert kafka_topic in consumer.topics()
        partitions = [TopicPartition(kafka_topic, p) for p in range(2)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        messages: dict[tuple[int, int], object] = {}
        deadline = time.monotonic() + 10
        while len(messages) < len(events) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                messages.update({(m.partition, m.offset): m for m in batch})
    finally:
        consumer.close()

    assert len(messages) == len(events)
    for event, position in zip(events, positions):
        message = messages[(position.partition, position.offset)]
        assert message.key == event.key.encode("utf-8")
        assert json.loads(message.value) == {
            "id": event.id,
            "type": event.type,
            "key": event.key,
            "recorded": event.recorded,
            "data": event.data,
        }


def test_an_existing_topic_is_reused_with_its_real_partition_count(kafka_bootstrap, kafka_topic):
    first = KafkaLog(kafka_bootstrap, topic=kafka_topic, partitions=3)
    positions = first.append(make_events(4))
    first.close()

    again = KafkaLog(kafka_bootstrap, topic=kafka_topic, partitions=8)
    try:
        assert again.partitions == 3
        assert [r.offset for r in read_all(again, positions[0].partition)] == [p.offset for p in positions]
        assert again.end(positions[0].partition) == positions[-1].offset + 1
    finally:
        again.close()


def _topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    return {name: entry["value"] for name, entry in found["topic"][topic].items()}


def _create_topic(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    """A topic made by someone else than Polku, with settings of theirs."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs=configs)])
    finally:
        admin.close()


def test_a_topic_polku_creates_keeps_events_forever_and_admits_the_largest_event(kafka_bootstrap, kafka_topic):
    log = KafkaLog(kafka_bootstrap, topic=kafka_topic, partitions=2, max_event_bytes=3_000_000)
    try:
        configs = _topic_configs(kafka_bootstrap, kafka_topic)
        assert configs["retention.ms"] == "-1" and configs["retention.bytes"] == "-1"
        assert int(configs["max.message.bytes"]) >= 3_000_000
        assert configs["min.insync.replicas"] == "1"
        assert log.warnings() == []
        big = Event(type="test.happened", key="big", data={"text": "x" * 2_000_000})
        assert len(log.append([big])) == 1, "an event over Kafka's 1 MB default goes through"
    finally:
        log.close()


def test_an_existing_topic_with_finite_retention_is_a_warning(kafka_bootstrap, kafka_topic):
    _create_topic(kafka_bootstrap, kafka_topic, {"retention.ms": "604800000"})
    log = KafkaLog(kafka_bootstrap, topic=kafka_topic)
    try:
        (warning,) = log.warnings()
        assert "retention.ms=604800000" in warning and "retention.ms=-1" in warning
    finally:
        log.close()


def test_an_existing_topics_smaller_message_limit_lowers_the_event_limit(kafka_bootstrap, kafka_topic):
    _create_topic(kafka_bootstrap, kafka_topic, {"max.message.bytes": "20000"})
    log = KafkaLog(kafka_bootstrap, topic=kafka_topic, max_event_bytes=1_000_000)
    try:
        assert log.max_event_bytes < 20_000
        with pytest.raises(EventTooLarge):
            log.append([Event(type="test.happened", key="k", data={"text": "x" * 30_000})])
        assert log.end(0) == 0
    finally:
        log.close()


def test_a_topic_made_with_the_brokers_defaults_is_inspected_with_them(kafka_bootstrap, kafka_topic):
    """Kafka reports a value a topic inherits from its broker only when asked for all of them:
    the broker's 1 MB message limit must lower Polku's, and its 7-day retention is a warning."""
    _create_topic(kafka_bootstrap, kafka_topic, {})
    log = KafkaLog(kafka_bootstrap, topic=kafka_topic, max_event_bytes=20_000_000)
    try:
        assert log.max_event_bytes < 1_100_000
        assert any("retention.ms=604800000" in w for w in log.warnings())
    finally:
        log.close()
