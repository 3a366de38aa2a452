"""Kafka fixtures: `hot kafka`'s broker on a free port, a fresh 3-partition topic per test, and
an independent producer (confluent-kafka's own, not the project's)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from confluent_kafka import Producer

from hot.local.kafka_server import EmbeddedKafka
from hot.local.kafka_topics import delete_topic, ensure_topic
from hot.settings import get_settings

PARTITIONS = 3


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    """A real single-node Kafka (KRaft) for the session, as `hot kafka` runs it."""
    with EmbeddedKafka(tmp_path_factory.mktemp("kafka"), partitions=PARTITIONS) as broker:
        yield broker


@pytest.fixture
def kafka_topic(
    hot_env: Path, kafka_broker: EmbeddedKafka, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A new 3-partition topic, and the settings pointing at it (``HOT_EVENTS_SOURCE=kafka``)."""
    topic = f"hot.events.{uuid.uuid4().hex[:10]}"
    ensure_topic(kafka_broker.bootstrap, topic, PARTITIONS)
    monkeypatch.setenv("HOT_EVENTS_SOURCE", "kafka")
    monkeypatch.setenv("HOT_KAFKA_TOPIC", topic)
    monkeypatch.setenv("HOT_KAFKA_BOOTSTRAP", kafka_broker.bootstrap)
    get_settings.cache_clear()
    yield topic
    get_settings.cache_clear()
    if kafka_broker.running():
        delete_topic(kafka_broker.bootstrap, topic)


def produce(
    bootstrap: str, topic: str, values: Sequence[bytes], keys: Sequence[bytes | None] = ()
) -> list[tuple[int, int]]:
    """Send ``values`` (keyed by ``keys``, else by their position) with a plain producer;
    the (partition, offset) each landed at, in order."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    landed: dict[int, tuple[int, int]] = {}

    def delivered(index: int):  # type: ignore[no-untyped-def]
        def callback(error, message) -> None:  # type: ignore[no-untyped-def]
            assert error is None, error
            landed[index] = (message.partition(), message.offset())

        return callback

    for i, value in enumerate(values):
        key = keys[i] if keys else str(i).encode()
        producer.produce(topic, value=value, key=key, on_delivery=delivered(i))
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return [landed[i] for i in range(len(values))]
