"""A local broker's topics and traffic: wait for the broker, create and delete a topic, send
event lines. What `hot kafka`, `hot demo --source kafka`, the tests and the benchmarks do; the
pipeline only reads (:mod:`hot.kafka`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import NewTopic
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from hot.kafka import (
    KafkaUnavailableError,
    UnknownTopicError,
    admin_client,
    client_config,
    topic_state,
    unavailable,
)


def broker_ready(bootstrap: str, timeout: float = 5.0) -> None:
    """Return once the broker answers a metadata request; :class:`KafkaUnavailableError` if
    it does not within ``timeout`` seconds."""
    try:
        metadata = admin_client(bootstrap).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise unavailable(bootstrap, exc) from exc
    if not metadata.brokers:
        raise KafkaUnavailableError(f"the Kafka broker at {bootstrap} lists no broker yet")


_NOT_READY = frozenset(
    {
        KafkaError.INVALID_REPLICATION_FACTOR,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.NOT_CONTROLLER,
        KafkaError._TIMED_OUT,
        KafkaError.REQUEST_TIMED_OUT,
    }
)
"""Errors a topic creation meets on a broker still starting, worth another try."""


def _not_ready_yet(error: KafkaError) -> bool:
    return error.retriable() or error.code() in _NOT_READY


def _retry_later(exc: BaseException) -> bool:
    # A broker that has just come up answers metadata before it is registered with its
    # controller (no broker to place a replica on yet): worth another try shortly.
    return isinstance(exc, KafkaException) and _not_ready_yet(exc.args[0])


def ensure_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    timeout: float = 30.0,
    *,
    replication: int = 1,
    min_insync: int = 1,
) -> None:
    """Create ``topic`` with ``partitions`` partitions of ``replication`` replicas, of which
    ``min_insync`` must have a record before an acks=all producer hears it is written, unless
    it exists; wait until the brokers serve every partition (within ``timeout`` seconds)."""
    admin = admin_client(bootstrap)  # kept: a client collected early fails its futures
    deadline = time.monotonic() + timeout
    new_topic = NewTopic(
        topic,
        num_partitions=partitions,
        replication_factor=replication,
        config={"min.insync.replicas": str(min_insync)},
    )

    def create() -> None:
        future = admin.create_topics([new_topic], request_timeout=timeout)[topic]
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise

    try:
        Retrying(
            retry=retry_if_exception(_retry_later),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.2),
            reraise=True,
        )(create)
    except KafkaException as exc:
        raise KafkaUnavailableError(f"cannot create topic {topic}: {exc.args[0].str()}") from exc

    # Created on the controller; the broker may not serve every partition yet.
    def served() -> bool:
        try:
            return len(topic_state(bootstrap, topic, timeout=5.0).offsets) == partitions
        except (UnknownTopicError, KafkaUnavailableError):
            return False

    try:
        Retrying(
            retry=retry_if_result(lambda ok: not ok),
            stop=stop_after_delay(max(deadline - time.monotonic(), 0.0)),
            wait=wait_fixed(0.1),
        )(served)
    except RetryError:
        raise KafkaUnavailableError(f"topic {topic} is not served by {bootstrap} yet") from None


def delete_topic(bootstrap: str, topic: str, timeout: float = 30.0) -> None:
    """Delete ``topic`` and wait until the broker no longer lists it."""
    admin = admin_client(bootstrap)
    admin.delete_topics([topic], request_timeout=timeout)[topic].result(timeout)
    try:
        Retrying(
            retry=retry_if_result(bool),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.1),
        )(lambda: topic in admin.list_topics(timeout=timeout).topics)
    except RetryError:
        raise KafkaUnavailableError(f"topic {topic} is still listed by {bootstrap}") from None


def event_key(line: bytes) -> bytes | None:
    """An event line's ``video_id`` as its message key (SPEC §2b), ``None`` if it has none."""
    try:
        video_id = json.loads(line).get("video_id")
    except (ValueError, AttributeError):
        return None
    return video_id.encode() if isinstance(video_id, str) else None


class EventProducer:
    """Sends event lines to a topic, each keyed by its ``video_id``, and waits for the acks.

    Idempotent, with acks from every in-sync replica: a broker lost mid-stream makes the
    producer retry, and a retry is never written twice nor a message acknowledged before
    ``min.insync.replicas`` brokers have it.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._producer = Producer(
            client_config(bootstrap, **{"linger.ms": 20, "enable.idempotence": True, "acks": "all"})
        )

    def send(self, lines: Iterable[bytes], timeout: float = 60.0) -> int:
        """Produce ``lines`` (one message each) and flush; the number sent."""
        n = 0
        for line in lines:
            while True:
                try:
                    self._producer.produce(self.topic, value=line, key=event_key(line))
                    break
                except BufferError:  # the local queue is full: let it drain
                    self._producer.poll(0.1)
            n += 1
        if self._producer.flush(timeout) > 0:
            raise KafkaUnavailableError(f"messages to {self.topic} not acknowledged in time")
        return n
