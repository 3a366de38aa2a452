"""Kafka ranges on HOT_ENGINE=spark, read by Spark's own Kafka source (SPEC §2b, §9), give what
the DuckDB Kafka path gives.

One 3-partition topic of a real broker holds valid events, malformed messages (not JSON, not
UTF-8, empty, without a value, an unknown type, not an object) and a producer's retries. Each
engine ingests it in a data dir of its own, each pass a process of its own
(tests/pipeline/spark_kafka_dump.py): on Spark a first pass is killed (SIGKILL) once the second
range has written its events, quarantine and range but not its counts, and the pass run again
must count it once. Then both engines hold the same counts per range, the same ranges, the
same quarantine rows (topic, partition, offset, reason) and the same fct_hot_feed scores (to
1e-9), and on both every range replayed afterwards is refused without a row written.
Without Spark's Kafka jars, one line says to run `make setup`.
"""

from __future__ import annotations

import random
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hot.local.kafka_server import EmbeddedKafka
from hot.local.kafka_topics import event_key
from hot.local.redis_server import EmbeddedRedis
from hot.local.simulate import Simulator, build_world
from tests.oracle import rel_close
from tests.pipeline.conftest import PARTITIONS, produce
from tests.pipeline.test_kafka_e2e import _catalogue
from tests.pipeline.test_spark_ingest import comparable, dumped, engine_process

# Three processes (one on DuckDB, two on Spark, each with its JVM and the second with a dbt
# build): a few minutes on an idle 2-core machine, much more on a loaded one.
pytestmark = pytest.mark.timeout(1800)

NOW = float(int(time.time()))
RETRIES = 300
BAD = {
    b"not json": "invalid_json",
    b"\xff\xfe not utf-8": "invalid_utf8",
    b"": "empty_line",
    None: "empty_line",  # a message without a value
    b'{"event_id": "x", "type": "dislike"}': "unknown_event_type",
    b"[1, 2]": "not_an_object",
}


def _dump(data_dir: Path, engine: str, mode: str, redis_url: str) -> subprocess.CompletedProcess:
    return engine_process(
        "tests.pipeline.spark_kafka_dump",
        data_dir,
        engine,
        mode,
        str(NOW),
        timeout=1200,
        DAGSTER_HOME=str(data_dir / "dagster_home"),
        HOT_REDIS_URL=redis_url,
    )


def test_spark_reads_the_topic_as_duckdb_does(
    tmp_path: Path,
    redis_server: EmbeddedRedis,
    kafka_broker: EmbeddedKafka,
    kafka_topic: str,
) -> None:
    world = build_world(n_creators=8, videos_per_creator=5, n_users=200)
    sim = Simulator(tmp_path / "unused", world, seed=3)
    events = sim.events(1500, now=datetime.fromtimestamp(NOW, UTC), bad_rate=0, replay_rate=0)
    retried = random.Random(3).choices(events, k=RETRIES)
    values = [*events[:700], *BAD, *events[700:], *retried]
    keys = [event_key(v) if v else None for v in values]
    landed = produce(kafka_broker.bootstrap, kafka_topic, values, keys)  # type: ignore[arg-type]
    redis_base = redis_server.url.rsplit("/", 1)[0]
    dirs = {engine: tmp_path / engine for engine in ("duckdb", "spark")}
    for data_dir in dirs.values():
        for late in (False, True):
            _catalogue(data_dir / "landing", world, late=late)

    # The DuckDB pass and the killed Spark pass (a data dir and a Redis database each) side by
    # side: a Spark process spends much of its time starting its JVM and session.
    with ThreadPoolExecutor(2) as pool:
        duck_run = pool.submit(_dump, dirs["duckdb"], "duckdb", "pass", f"{redis_base}/5")
        kill_run = pool.submit(_dump, dirs["spark"], "spark", "kill", f"{redis_base}/6")
        duck, killed = dumped(duck_run.result()), kill_run.result()
    assert killed.returncode == -9, killed.stderr[-4000:]
    # Two ranges wrote their row of raw.ingested_ranges; the second one's counts never came.
    ranges = dirs["spark"] / "spark" / "warehouse" / "raw.db" / "ingested_ranges"
    assert len(list(ranges.glob("batch_id=*"))) == 2
    spark = dumped(_dump(dirs["spark"], "spark", "pass", f"{redis_base}/6"))

    # The DuckDB path's accounting: every message counted once, per range.
    ledger = duck["ledger"]
    assert len(ledger) == PARTITIONS
    assert all(valid + dups + bad == read for _, read, valid, dups, bad in ledger)
    assert sum(row[1] for row in ledger) == len(values)
    assert sum(row[3] for row in ledger) == RETRIES
    assert sum(row[4] for row in ledger) == len(BAD)
    # Each bad message quarantined under its topic, partition and offset.
    where = {(row[0].split("/")[1].split("@")[0], row[1]): row[2] for row in duck["quarantine"]}
    bad_landed = landed[700 : 700 + len(BAD)]
    assert where == {
        (str(p), offset): reason
        for (p, offset), reason in zip(bad_landed, BAD.values(), strict=True)
    }
    assert all(row[0].startswith(f"kafka:{kafka_topic}/") for row in duck["quarantine"])

    # Spark, its first pass killed midway, equals it.
    assert spark["ledger"] == ledger
    assert spark["ranges"] == duck["ranges"]
    assert comparable(spark["quarantine"]) == comparable(duck["quarantine"])
    for dump in (duck, spark):
        assert dump["replays"] == ["it would count messages twice"] * PARTITIONS
        assert dump["counts"] == dump["before_replays"]
    assert spark["counts"] == duck["counts"]
    duck_feed = {video: score for video, score in duck["feed"]}
    spark_feed = {video: score for video, score in spark["feed"]}
    assert len(duck_feed) > 10
    assert set(spark_feed) == set(duck_feed)
    for video, score in duck_feed.items():
        assert rel_close(spark_feed[video], score), (video, spark_feed[video], score)
