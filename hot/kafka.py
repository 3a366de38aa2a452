"""The Kafka side of SPEC §2b, on confluent-kafka (the ``kafka`` extra): a topic's state, the
offset ranges of a micro-batch and reading one range in bulk (creating topics and producing
event lines, which only a local broker, a test or a benchmark does: :mod:`hot.local.kafka_topics`).

Nothing here knows the warehouse: :mod:`hot.kafka_ingest` plans the ranges from its ledger and
ingests what :func:`read_range` returns. A broker that does not answer is a
:class:`KafkaUnavailableError` (a tick or run says so and retries later); librdkafka's own
connection errors go to the ``hot.kafka`` logger instead of standard error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicCollection
from confluent_kafka import TopicPartition as _TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

LOG = logging.getLogger("hot.kafka")
# librdkafka retries on its own; what it could not do reaches the caller as an exception.
LOG.addHandler(logging.NullHandler())
MESSAGES_SCHEMA = pa.schema([("offset", pa.int64()), ("value", pa.binary())])
"""A range as read: one row per message, its offset and its value's bytes (NULL: no value)."""
_CONSUME_BATCH = 50_000
"""Messages asked of librdkafka per call (it hands over what it has fetched)."""


class KafkaUnavailableError(RuntimeError):
    """The broker did not answer in time (down, or unreachable at the bootstrap address)."""


class UnknownTopicError(RuntimeError):
    """The topic does not exist (yet)."""


@dataclass(frozen=True)
class TopicState:
    """A topic as the broker sees it now: its id and, per partition, (earliest, end) offsets."""

    topic: str
    topic_id: str
    """Kafka's id of the topic: a topic deleted and created again under its name has a new one."""
    offsets: Mapping[int, tuple[int, int]]


@dataclass(frozen=True)
class OffsetRange:
    """Offsets ``start`` (included) to ``end`` (excluded) of one partition: one micro-batch."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def name(self) -> str:
        """The range's id in the warehouse (``source_file`` of its rows and ledger entry)."""
        return f"kafka:{self.topic}/{self.partition}@{self.start}-{self.end}"

    @property
    def size(self) -> int:
        """Offsets in the range (messages, unless compaction left gaps)."""
        return self.end - self.start


def client_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """librdkafka settings of every client here: quick to give up on a dead broker."""
    return {
        "bootstrap.servers": bootstrap,
        "socket.connection.setup.timeout.ms": 5000,
        "reconnect.backoff.max.ms": 1000,
        "logger": LOG,
        **extra,
    }


def admin_client(bootstrap: str) -> AdminClient:
    """An admin client with :func:`client_config`'s settings."""
    return AdminClient(client_config(bootstrap))


def unavailable(bootstrap: str, exc: BaseException) -> KafkaUnavailableError:
    """What a broker that did not answer raises (the client's error in the message)."""
    return KafkaUnavailableError(f"the Kafka broker at {bootstrap} did not answer: {exc}")


def topic_state(
    bootstrap: str, topic: str, timeout: float = 10.0, admin: AdminClient | None = None
) -> TopicState:
    """The topic's id and per partition its earliest and end (high watermark) offsets (asked
    through ``admin`` when given: a caller that asks often keeps one client)."""
    admin = admin or admin_client(bootstrap)
    try:
        description = admin.describe_topics(TopicCollection([topic]), request_timeout=timeout)[
            topic
        ].result(timeout=timeout + 1)
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise UnknownTopicError(f"topic {topic} does not exist at {bootstrap}") from exc
        raise unavailable(bootstrap, exc) from exc
    except TimeoutError as exc:
        raise unavailable(bootstrap, exc) from exc
    partitions = [p.id for p in description.partitions]
    ends: dict[int, list[int]] = {p: [] for p in partitions}
    for spec in (OffsetSpec.earliest(), OffsetSpec.latest()):
        futures = admin.list_offsets(
            {_TopicPartition(topic, p): spec for p in partitions}, request_timeout=timeout
        )
        try:
            for tp, future in futures.items():
                ends[tp.partition].append(future.result(timeout=timeout + 1).offset)
        except (KafkaException, TimeoutError) as exc:
            raise unavailable(bootstrap, exc) from exc
    return TopicState(
        topic,
        str(description.topic_id),
        {p: (low, high) for p, (low, high) in sorted(ends.items())},
    )


def read_range(bootstrap: str, rng: OffsetRange, stall_timeout: float = 30.0) -> pa.Table:
    """The messages of ``rng`` as an Arrow table (:data:`MESSAGES_SCHEMA`), read in bulk.

    Offsets a compacted or transactional topic skips are simply absent. No progress for
    ``stall_timeout`` seconds is a :class:`KafkaUnavailableError`. Nothing is committed:
    the warehouse's ledger, not a consumer group, says what was ingested.
    """
    consumer = Consumer(
        client_config(
            bootstrap,
            **{
                "group.id": "hot-ingest",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "fetch.max.bytes": 64 * 1024 * 1024,
                "max.partition.fetch.bytes": 16 * 1024 * 1024,
            },
        )
    )
    offsets: list[int] = []
    values: list[bytes | None] = []
    try:
        consumer.assign([_TopicPartition(rng.topic, rng.partition, rng.start)])
        position = rng.start
        last_progress = time.monotonic()
        while position < rng.end:
            batch = consumer.consume(min(rng.end - position, _CONSUME_BATCH), timeout=0.5)
            errors = [m.error() for m in batch if m.error() is not None]
            if errors:
                raise unavailable(bootstrap, KafkaException(errors[0]))
            batch = [m for m in batch if m.offset() < rng.end]
            if batch:
                offsets.extend([m.offset() for m in batch])
                values.extend([m.value() for m in batch])
                position = offsets[-1] + 1
                last_progress = time.monotonic()
                continue
            # Nothing came: past a gap at the end of the range, or a broker gone quiet.
            (tp,) = consumer.position([_TopicPartition(rng.topic, rng.partition)])
            if tp.offset >= rng.end:
                break
            if time.monotonic() - last_progress > stall_timeout:
                raise KafkaUnavailableError(
                    f"no message of {rng.name} from {bootstrap} for {stall_timeout:.0f}s "
                    f"(read up to offset {position})"
                )
    finally:
        consumer.close()
    return pa.table(
        [pa.array(offsets, pa.int64()), pa.array(values, pa.binary())], schema=MESSAGES_SCHEMA
    )
