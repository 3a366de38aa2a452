"""Kafka ranges into DuckDB (SPEC §2b) on a real broker: per-range accounting, quarantine rows
that name topic, partition and offset, producer retries, replayed ranges, a recreated topic
and the sensor's ticks (a broker that is down included, a pushed pass under way)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)

from dagster_project.assets.ingest import IngestConfig
from dagster_project.jobs import hot_pipeline_job
from dagster_project.lanes import TRIGGER_TAG
from dagster_project.resources.dbt_inprocess import ingest_statements
from dagster_project.sensors.kafka import kafka_sensor
from hot import kafka
from hot.kafka_ingest import Ledger, OffsetsRefusedError, RangeIngestor
from hot.landing import format_ts
from hot.local import kafka_topics
from hot.local.kafka_server import EmbeddedKafka
from hot.settings import get_settings
from hot.warehouse import connect
from tests.pipeline.conftest import PARTITIONS, produce

pytestmark = pytest.mark.timeout(300)

NOW = datetime.now(UTC)


def _event(event_id: str, video: str = "v1") -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "type": "like",
            "video_id": video,
            "user_id": "u1",
            "occurred_at": format_ts(NOW - timedelta(minutes=1)),
        }
    ).encode()


@pytest.fixture
def ingestor(hot_env: Path, kafka_topic: str) -> RangeIngestor:
    """A range ingestor on a fresh warehouse (the file ingest's SQL, as dbt renders it)."""
    settings = get_settings()
    return RangeIngestor(connect(settings.duckdb_path), settings.landing_dir, ingest_statements())


def _ingest(ingestor: RangeIngestor) -> list[Any]:
    settings = get_settings()
    return ingestor.ingest_topic(settings.kafka_bootstrap, settings.kafka_topic, 1_000_000)


def _table_counts(ingestor: RangeIngestor) -> tuple[Any, ...]:
    return tuple(
        ingestor.con.execute(f"select count(*) from raw.{t}").fetchall()[0][0]
        for t in ("events", "quarantine", "ingested_files", "ingested_ranges")
    )


def test_ranges_are_accounted_and_bad_messages_name_their_offset(
    ingestor: RangeIngestor, kafka_broker: EmbeddedKafka, kafka_topic: str
) -> None:
    good = [_event(f"e{i}", video=f"v{i % 5}") for i in range(300)]
    retried = good[:40]  # a producer's retries: the same events again
    bad = [b"not json", b"\xff\xfe not utf-8", b"", b'{"event_id": "x", "type": "dislike"}']
    values = good + retried + bad
    landed = produce(kafka_broker.bootstrap, kafka_topic, values)

    reports = _ingest(ingestor)

    assert len(reports) == PARTITIONS
    assert sum(r.lines_read for r in reports) == len(values)
    for report in reports:
        assert report.valid + report.duplicates + report.quarantined == report.lines_read
    assert sum(r.valid for r in reports) == len(good)
    assert sum(r.duplicates for r in reports) == len(retried)
    # Each bad message is quarantined under its topic, partition and offset.
    rows = ingestor.con.execute(
        "select source_file, line_no, reason from raw.quarantine order by reason"
    ).fetchall()
    expected = {}
    for value, (partition, offset) in zip(values[-len(bad) :], landed[-len(bad) :], strict=True):
        expected[(partition, offset)] = value
    found = {}
    for source_file, offset, reason in rows:
        topic, rest = source_file.removeprefix("kafka:").split("/")
        assert topic == kafka_topic
        found[(int(rest.split("@")[0]), offset)] = reason
    assert set(found) == set(expected)
    reasons = {value: found[key] for key, value in expected.items()}
    assert reasons == {
        b"not json": "invalid_json",
        b"\xff\xfe not utf-8": "invalid_utf8",
        b"": "empty_line",
        b'{"event_id": "x", "type": "dislike"}': "unknown_event_type",
    }
    # The ledger ends at each partition's end.
    state = kafka.topic_state(kafka_broker.bootstrap, kafka_topic)
    ledger = Ledger.read(ingestor.con, kafka_topic)
    assert ledger.topic_id == state.topic_id
    assert ledger.ends == {p: high for p, (_, high) in state.offsets.items() if high}


def test_a_replayed_range_counts_nothing_twice(
    ingestor: RangeIngestor, kafka_broker: EmbeddedKafka, kafka_topic: str
) -> None:
    produce(kafka_broker.bootstrap, kafka_topic, [_event(f"e{i}") for i in range(200)])
    first = _ingest(ingestor)
    before = _table_counts(ingestor)
    assert _ingest(ingestor) == []  # nothing new
    state = kafka.topic_state(kafka_broker.bootstrap, kafka_topic)
    for report in first:
        partition, offsets = report.source_file.split("/")[1].split("@")
        start, end = map(int, offsets.split("-"))
        rng = kafka.OffsetRange(kafka_topic, int(partition), start, end)
        with pytest.raises(OffsetsRefusedError, match="count messages twice"):
            ingestor.ingest_range(rng, state.topic_id, kafka_broker.bootstrap)
    assert _table_counts(ingestor) == before
    # More messages: the next ranges start where the ledger ends.
    produce(kafka_broker.bootstrap, kafka_topic, [_event(f"n{i}") for i in range(30)])
    more = _ingest(ingestor)
    assert sum(r.valid for r in more) == 30
    assert all(r.source_file.split("@")[1].split("-")[0] != "0" for r in more)


def test_a_recreated_topic_is_refused(
    ingestor: RangeIngestor, kafka_broker: EmbeddedKafka, kafka_topic: str
) -> None:
    produce(kafka_broker.bootstrap, kafka_topic, [_event(f"e{i}") for i in range(200)])
    _ingest(ingestor)
    before = _table_counts(ingestor)
    kafka_topics.delete_topic(kafka_broker.bootstrap, kafka_topic)
    kafka_topics.ensure_topic(kafka_broker.bootstrap, kafka_topic, PARTITIONS)
    # Fewer messages than before, some of them the same events again.
    produce(kafka_broker.bootstrap, kafka_topic, [_event(f"e{i}") for i in range(20)])

    with pytest.raises(OffsetsRefusedError, match="deleted and created again"):
        _ingest(ingestor)
    assert _table_counts(ingestor) == before
    # The sensor refuses it too, with the same message, and requests no run.
    ingestor.con.close()
    with (
        DagsterInstance.ephemeral() as instance,
        pytest.raises(OffsetsRefusedError, match="deleted and created again"),
    ):
        kafka_sensor(build_sensor_context(instance=instance))


def _tick(instance: DagsterInstance, cursor: str | None) -> tuple[RunRequest | SkipReason, Any]:
    context = build_sensor_context(instance=instance, cursor=cursor)
    result = kafka_sensor(context)
    return result, context.cursor


def test_sensor_skips_while_the_broker_is_down_then_catches_up(
    hot_env: Path, tmp_path: Path, kafka_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A broker of its own, killed and started again on the same port and data.
    broker = EmbeddedKafka(tmp_path / "own-kafka").start()
    try:
        monkeypatch.setenv("HOT_KAFKA_BOOTSTRAP", broker.bootstrap)
        get_settings.cache_clear()
        kafka_topics.ensure_topic(broker.bootstrap, kafka_topic, PARTITIONS)
        produce(broker.bootstrap, kafka_topic, [_event(f"e{i}") for i in range(90)])
        with DagsterInstance.ephemeral() as instance:
            first, cursor = _tick(instance, None)
            assert isinstance(first, RunRequest)
            broker.kill()
            down, cursor_down = _tick(instance, cursor)
            assert isinstance(down, SkipReason)
            assert "did not answer" in (down.skip_message or "")
            assert "Nothing is skipped" in (down.skip_message or "")
            assert cursor_down == cursor
            broker.start()
            # The requested run never happened (no run in flight): the ledger is still
            # empty, so the next tick asks for everything again.
            again, _ = _tick(instance, cursor)
            assert isinstance(again, RunRequest)
            ends = again.run_config["ops"]["landing_files"]["config"]["kafka_ends"]
            state = kafka.topic_state(broker.bootstrap, kafka_topic)
            assert {int(p): end for p, end in ends.items()} == {
                p: high for p, (_, high) in state.offsets.items() if high
            }
            assert sum(ends.values()) == 90
    finally:
        broker.stop()


def test_a_requested_run_reads_up_to_the_ends_its_tick_saw(
    ingestor: RangeIngestor, kafka_broker: EmbeddedKafka, kafka_topic: str
) -> None:
    # SPEC §2b: a micro-batch is what the sensor saw when it ticked; what lands after the
    # tick waits for the next one.
    seen = produce(kafka_broker.bootstrap, kafka_topic, [_event(f"e{i}") for i in range(60)])
    until = {}
    for partition, offset in seen:
        until[partition] = max(until.get(partition, 0), offset + 1)
    quiet = min(until)
    del until[quiet]  # a partition the tick left out had nothing new then: no range
    produce(kafka_broker.bootstrap, kafka_topic, [_event(f"late{i}") for i in range(30)])
    settings = get_settings()

    reports = ingestor.ingest_topic(
        settings.kafka_bootstrap, settings.kafka_topic, 1_000_000, until=until
    )

    assert Ledger.read(ingestor.con, kafka_topic).ends == until
    assert sum(r.lines_read for r in reports) == sum(until.values())
    # The next run, without a tick's ends (`hot run`), takes the rest.
    rest = _ingest(ingestor)
    assert sum(r.lines_read for r in reports + rest) == 90
    assert sum(r.valid for r in reports + rest) == 90


def test_sensor_on_spark_keeps_its_ledger_in_the_cursor(
    hot_env: Path, kafka_broker: EmbeddedKafka, kafka_topic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On Spark a tick starts no JVM to read the ledger: the ends it requested stand for it,
    # until a run fails (a run reads from the ledger, wherever that ends).
    monkeypatch.setenv("HOT_ENGINE", "spark")
    get_settings.cache_clear()
    produce(kafka_broker.bootstrap, kafka_topic, [_event(f"e{i}") for i in range(60)])
    with DagsterInstance.ephemeral() as instance:
        first, cursor = _tick(instance, None)
        assert isinstance(first, RunRequest)
        ends = first.run_config["ops"]["landing_files"]["config"]["kafka_ends"]
        assert sum(ends.values()) == 60
        quiet, same = _tick(instance, cursor)
        assert isinstance(quiet, SkipReason)
        assert "no new messages" in (quiet.skip_message or "")
        assert same == cursor
        produce(kafka_broker.bootstrap, kafka_topic, [_event(f"n{i}") for i in range(6)])
        more, cursor = _tick(instance, cursor)
        assert isinstance(more, RunRequest)
        ranges = more.tags["hot/kafka_ranges"].split()
        assert sum(int(r.split("-")[1]) - int(r.split("@")[1].split("-")[0]) for r in ranges) == 6
        instance.add_run(
            DagsterRun(job_name=hot_pipeline_job.name, status=DagsterRunStatus.FAILURE)
        )
        again, _ = _tick(instance, cursor)
        assert isinstance(again, RunRequest)
        ends = again.run_config["ops"]["landing_files"]["config"]["kafka_ends"]
        assert sum(ends.values()) == 66


def test_a_pushed_pass_and_the_sensor_read_each_range_once(
    hot_env: Path, kafka_broker: EmbeddedKafka, kafka_topic: str
) -> None:
    # The push watcher requested a pass up to the ends it saw; the sensor ticks while that
    # pass runs: it requests only what comes after those ends.
    produce(kafka_broker.bootstrap, kafka_topic, [_event(f"e{i}") for i in range(60)])
    state = kafka.topic_state(kafka_broker.bootstrap, kafka_topic)
    seen = {str(p): high for p, (_, high) in state.offsets.items()}
    with DagsterInstance.ephemeral() as instance:
        instance.add_run(
            DagsterRun(
                job_name=hot_pipeline_job.name,
                status=DagsterRunStatus.STARTED,
                run_config={"ops": {"landing_files": {"config": {"kafka_ends": seen}}}},
                tags={TRIGGER_TAG: "push"},
            )
        )
        during, cursor = _tick(instance, None)
        assert isinstance(during, SkipReason)
        assert "no new messages" in (during.skip_message or "")
        produce(kafka_broker.bootstrap, kafka_topic, [_event(f"n{i}") for i in range(6)])
        more, _ = _tick(instance, cursor)
        assert isinstance(more, RunRequest)
        assert more.tags[TRIGGER_TAG] == "sensor"
        starts = {
            int(r.split("/")[1].split("@")[0]): int(r.split("@")[1].split("-")[0])
            for r in more.tags["hot/kafka_ranges"].split()
        }
        assert all(start == seen[str(p)] for p, start in starts.items())
    # Both fire anyway (a sensor that did not see the pushed run): the second pass finds the
    # ledger past its ends and reads nothing.
    settings = get_settings()
    ingestor = RangeIngestor(
        connect(settings.duckdb_path), settings.landing_dir, ingest_statements()
    )
    until = {int(p): end for p, end in seen.items()}
    pushed = ingestor.ingest_topic(settings.kafka_bootstrap, kafka_topic, 1_000_000, until=until)
    sensed = ingestor.ingest_topic(settings.kafka_bootstrap, kafka_topic, 1_000_000, until=until)
    assert sum(r.valid for r in pushed) == 60
    assert sensed == []
    assert _table_counts(ingestor)[0] == 60


def test_a_sensor_pass_stops_at_the_ticks_ends_and_a_pushed_one_reads_to_the_end() -> None:
    # SPEC §2b: a sensor's micro-batch is what its tick saw; a pushed pass reads what is
    # there when it starts (what came while it was queued is its own), and `hot run` too.
    ends = {"0": 40, "1": 35}
    assert IngestConfig(kafka_ends=ends).kafka_until() == {0: 40, 1: 35}
    assert IngestConfig(kafka_ends=ends, kafka_read_to_end=True).kafka_until() is None
    assert IngestConfig().kafka_until() is None
