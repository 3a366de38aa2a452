"""Kafka ranges into the warehouse (SPEC §2b): the ledger, the micro-batch plan, the ingest.

A micro-batch is, per partition, the offsets from the end of the last range the ledger
(``raw.ingested_ranges``) holds up to the partition's end when the pass starts (at least the
end the sensor saw when it requested the pass), at most ``HOT_KAFKA_MAX_BATCH`` messages.
Each range goes through the file ingest's SQL (the dbt project's ``hot_ingest_statements``:
validation, quarantine, dedup on ``event_id``). On DuckDB its messages are read in bulk by a
client (:func:`hot.kafka.read_range`) and handed over as one Arrow table; on Spark, Spark's
own Kafka source reads the range (``hot_ingest_kafka_source``). Its events, quarantined
messages, ledger entry and counts (``raw.ingested_files``, under the range's name) are
written in one transaction: on DuckDB behind a primary key on (topic, partition, start
offset); on Spark as partitions of the batch, the counts last, a batch without them dropped
(:meth:`hot.warehouse.SparkWarehouse.recover`). So a range replayed or a pass killed midway
counts nothing twice and loses nothing.

The ledger also remembers the topic's id: a topic deleted and created again (its offsets start
over) is refused with :class:`OffsetsRefusedError` rather than read as if it were new messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from hot import kafka
from hot.ingest import FileReport, Ingestor
from hot.kafka import OffsetRange, TopicState
from hot.warehouse import Warehouse, as_warehouse

MESSAGES_RELATION = "hot_ingest_messages"
"""The name the Arrow table of a range is registered under (``hot_ingest_messages_relation``)."""


class OffsetsRefusedError(RuntimeError):
    """The topic's offsets contradict the ledger: recreated, truncated, or messages expired
    before they were ingested. Nothing is read until an operator resolves it."""


class Ledger:
    """What ``raw.ingested_ranges`` says of one topic: its id and per partition the end of the
    last range ingested."""

    def __init__(self, topic_id: str | None, ends: Mapping[int, int]) -> None:
        self.topic_id = topic_id
        self.ends = dict(ends)

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection | Warehouse, topic: str) -> Ledger:
        """The ledger of ``topic`` in the warehouse ``con`` (either engine)."""
        warehouse = as_warehouse(con)
        rows = warehouse.execute(
            "select topic_id, partition, max(end_offset) from raw.ingested_ranges "
            f"where topic = {warehouse.param('topic')} group by topic_id, partition",
            {"topic": topic},
        ).fetchall()
        ids = {str(r[0]) for r in rows}
        if len(ids) > 1:
            raise OffsetsRefusedError(f"the ledger holds several ids of topic {topic}: {ids}")
        return cls(ids.pop() if ids else None, {int(r[1]): int(r[2]) for r in rows})

    @classmethod
    def read_file(cls, path: Path, topic: str) -> Ledger:
        """The ledger in the warehouse file ``path`` (read-only; empty before the first pass).

        Raises ``duckdb.IOException`` while another process writes the file.
        """
        if not path.exists():
            return cls(None, {})
        con = duckdb.connect(str(path), read_only=True)
        try:
            exists = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'raw' and table_name = 'ingested_ranges'"
            ).fetchone()
            return cls.read(con, topic) if exists and exists[0] else cls(None, {})
        finally:
            con.close()


def plan(
    state: TopicState,
    ledger: Ledger,
    max_batch: int,
    after: Mapping[int, int] | None = None,
    until: Mapping[int, int] | None = None,
) -> list[OffsetRange]:
    """The next range of each partition with messages past the ledger.

    A range starts where the ledger ends (or ``after[p]`` when that is further: a range
    already requested from a run still going), or at the earliest offset of a partition never
    ingested; it ends at the partition's end, at most ``max_batch`` offsets on, and with
    ``until`` (the ends a sensor tick saw, SPEC §2b) at ``until[p]`` at the latest (a partition
    ``until`` leaves out had nothing new then: no range). Raises
    :class:`OffsetsRefusedError` when the topic is not the one the ledger knows (recreated),
    ends before the ledger does (truncated), or no longer holds the messages after the
    ledger's end (expired unread).
    """
    topic = state.topic
    if ledger.topic_id is not None and ledger.topic_id != state.topic_id:
        raise OffsetsRefusedError(
            f"topic {topic} is not the one ingested so far (its id is {state.topic_id}, the "
            f"ledger's {ledger.topic_id}): it was deleted and created again, and its offsets "
            f"start over. Refusing to read it: its messages would be taken for new ones or "
            f"skipped. Ingest it under another HOT_KAFKA_TOPIC, or remove its rows from "
            f"raw.ingested_ranges once the old events are accounted for."
        )
    ranges = []
    for partition, (low, high) in sorted(state.offsets.items()):
        done = ledger.ends.get(partition)
        if done is not None and high < done:
            raise OffsetsRefusedError(
                f"partition {partition} of topic {topic} ends at offset {high}, before the "
                f"{done} already ingested: the topic was recreated or truncated. Refusing to "
                f"read it."
            )
        if done is not None and low > done:
            raise OffsetsRefusedError(
                f"partition {partition} of topic {topic} starts at offset {low}: offsets "
                f"{done} to {low - 1} expired before they were ingested. Refusing to skip them."
            )
        start = max(low if done is None else done, (after or {}).get(partition, 0))
        end = min(high, start + max_batch)
        if until is not None:
            end = min(end, until.get(partition, start))
        if end > start:
            ranges.append(OffsetRange(topic, partition, start, end))
    return ranges


class RangeIngestor(Ingestor):
    """Ingests ranges of a topic into one open DuckDB connection, with the file ingest's SQL."""

    def ingest_topic(
        self,
        bootstrap: str,
        topic: str,
        max_batch: int,
        now: datetime | None = None,
        until: Mapping[int, int] | None = None,
    ) -> list[FileReport]:
        """Ingest the next range of each partition (see :func:`plan`: up to ``until``, the
        ends a sensor tick saw, or without it up to each partition's end now); a topic that
        does not exist yet has none."""
        try:
            state = kafka.topic_state(bootstrap, topic)
        except kafka.UnknownTopicError:
            return []
        ranges = plan(state, Ledger.read(self.con, topic), max_batch, until=until)
        return [self.ingest_range(rng, state.topic_id, bootstrap, now) for rng in ranges]

    def ingest_range(
        self, rng: OffsetRange, topic_id: str, bootstrap: str, now: datetime | None = None
    ) -> FileReport:
        """Read one range from the broker at ``bootstrap`` and ingest it.

        A range must start where the partition's ledger ends (anywhere on a partition never
        ingested): one that overlaps or skips is an :class:`OffsetsRefusedError`, and on
        DuckDB the ledger's primary key refuses a second range from the same offset, so a
        replay rolls back whole.
        """
        done = Ledger.read(self.con, rng.topic).ends.get(rng.partition)
        if done is not None and rng.start != done:
            raise OffsetsRefusedError(
                f"range {rng.name} does not follow the ledger, which has partition "
                f"{rng.partition} ingested up to offset {done}: it would "
                + ("count messages twice" if rng.start < done else "skip messages")
            )
        params = {
            **self.batch_params("events", rng.name, now),
            "topic": rng.topic,
            "topic_id": topic_id,
            "partition": rng.partition,
            "start_offset": rng.start,
            "end_offset": rng.end,
            **_spark_options(bootstrap, rng),
        }

        def stage() -> None:
            # The one engine switch of the Kafka ingest: an engine with a Kafka source of its
            # own (Spark) has the statement that reads the range; DuckDB is handed its rows.
            reads_kafka = bool(self.statements["messages.source"])
            if reads_kafka:
                self.run("messages.source", params)
            else:
                self.con.register(MESSAGES_RELATION, kafka.read_range(bootstrap, rng))
            try:
                for statement in ("messages.lines", "events.stage", "events.duplicates"):
                    self.run(statement, params)
            finally:
                if not reads_kafka:
                    self.con.unregister(MESSAGES_RELATION)

        return self.ingest_staged(params, stage, also=("ranges",))


def _spark_options(bootstrap: str, rng: OffsetRange) -> dict[str, Any]:
    """The options of Spark's Kafka source that read exactly ``rng`` (a batch read)."""
    partition = str(rng.partition)
    return {
        "kafka_bootstrap": bootstrap,
        "kafka_assign": json.dumps({rng.topic: [rng.partition]}),
        "kafka_starting": json.dumps({rng.topic: {partition: rng.start}}),
        "kafka_ending": json.dumps({rng.topic: {partition: rng.end}}),
    }
