"""`hot run` over the Thrift Server of a standalone Spark cluster publishes what DuckDB
publishes (SPEC §9b), on plain parquet and on Delta tables, and losing a worker mid-pass
costs no row.

The landing files of tests/pipeline/test_spark_pipeline.py (two passes: replays, a bad line,
a late catalogue row, a takedown) go through DuckDB in a data dir of its own and, each in turn,
through the session's cluster (``spark_cluster``: a master, two workers, the Thrift Server):
the ingest is SQL sent through the Thrift Server (Spark reads the landing files from the
shared disk), every dbt model runs through dbt-spark's ``thrift`` method and publish reads the
marts through the same endpoint. The client runs no JVM of its own: no local warehouse, no
DuckDB file. After each pass ``hot:global`` and the items' stats equal DuckDB's (scores to
1e-9 relative). On parquet the second pass loses a worker (its JVM and its executor,
SIGKILL) while dbt builds the scores: the pass finishes on the other worker, or fails and is
run again, and its ledger and events are DuckDB's, each file counted once.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
import redis
from pyhive import hive

from hot.local.redis_server import EmbeddedRedis
from hot.local.spark_cluster import EmbeddedSparkCluster
from tests.pipeline.test_spark_pipeline import (
    HOT_RUN,
    assert_same_published,
    hot_run,
    hot_run_env,
    land_pass,
    published,
)

# Five hot run passes on the cluster and two on DuckDB beside them: ~10 min on an idle 2-core
# machine, much more on a loaded one.
pytestmark = pytest.mark.timeout(3600)

KILLED = "spark-worker-1"
KILL_AT = "START sql incremental model hot_intermediate.int_video_scores"
"""The dbt log's line of a model with shuffles: the worker is lost while dbt runs it."""
LEDGER = (
    "select source_file, lines_read, valid, duplicates, quarantined "
    "from raw.ingested_files order by source_file"
)
EVENTS = "select count(*), count(distinct event_id) from raw.events"


@dataclass
class Run:
    """One engine's passes: what each published, and what the warehouse holds after them."""

    published: list[tuple] = field(default_factory=list)
    ledger: list[tuple] = field(default_factory=list)
    events: tuple = ()


@dataclass
class Passes:
    """DuckDB, the cluster on parquet (its second pass losing a worker) and on Delta."""

    duck: Run
    parquet: Run
    delta: Run
    worker_lost: bool = False
    """The master saw the killed worker dead while the pass went on."""
    client_dirs: list[Path] = field(default_factory=list)
    providers: dict[str, str] = field(default_factory=dict)
    """The table format of the scores' state table, per scenario."""


def _thrift(cluster: EmbeddedSparkCluster) -> hive.Cursor:
    return hive.connect("127.0.0.1", cluster.thrift_port, "hot").cursor()


def _rows(cursor: hive.Cursor, sql: str) -> list[tuple]:
    cursor.execute(sql)
    return [tuple(r) for r in cursor.fetchall()]


def _reset(cluster: EmbeddedSparkCluster) -> None:
    """A fresh warehouse for the next scenario: one cluster, one ``raw`` database."""
    cursor = _thrift(cluster)
    for (name,) in _rows(cursor, "show databases"):
        if name != "default":
            cursor.execute(f"drop database {name} cascade")


def _provider(cluster: EmbeddedSparkCluster) -> str:
    detail = _rows(_thrift(cluster), "describe table extended hot_intermediate.int_video_scores")
    return next(r[1] for r in detail if r[0] == "Provider")


def _kill_worker_during_dbt(
    cluster: EmbeddedSparkCluster, data_dir: Path, redis_url: str, passes: Passes
) -> None:
    """The second parquet pass: worker 1 SIGKILLed once dbt starts the scores; run again if
    it failed. The worker is started again afterwards, for the next scenario."""
    log = data_dir / "dbt_logs" / "dbt.log"
    seen = log.stat().st_size
    proc = subprocess.Popen(
        HOT_RUN,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=hot_run_env(data_dir, redis_url, "spark", **cluster.env()),
    )
    while KILL_AT.encode() not in log.read_bytes()[seen:]:
        assert proc.poll() is None, "the pass ended before dbt built the scores"
        time.sleep(0.2)
    cluster.kill(KILLED)
    output, _ = proc.communicate(timeout=1800)
    workers = {w["port"]: w["state"] for w in cluster.status()["workers"]}
    passes.worker_lost = workers.get(cluster.worker_port(KILLED)) == "DEAD"
    if proc.returncode != 0:  # failed cleanly: run again
        hot_run(data_dir, redis_url, "spark", **cluster.env())
    else:
        assert b"published snapshot" in output, output[-3000:]
    cluster.restart(KILLED)


def _spark_scenario(
    cluster: EmbeddedSparkCluster, data_dir: Path, server: EmbeddedRedis, passes: Passes, fmt: str
) -> Run:
    run = Run()
    env = {**cluster.env(), "HOT_SPARK_TABLE_FORMAT": fmt}
    client = redis.Redis.from_url(server.url)
    for pass_no in (1, 2):
        land_pass(data_dir / "landing", pass_no)
        if fmt == "parquet" and pass_no == 2:
            _kill_worker_during_dbt(cluster, data_dir, server.url, passes)
        else:
            assert "published snapshot" in hot_run(data_dir, server.url, "spark", **env)
        run.published.append(published(client))
    client.close()
    cursor = _thrift(cluster)
    run.ledger = _rows(cursor, LEDGER)
    (run.events,) = _rows(cursor, EVENTS)
    passes.providers[fmt] = _provider(cluster)
    passes.client_dirs.append(data_dir)
    return run


def _duck_scenario(data_dir: Path, server: EmbeddedRedis, run: Run) -> None:
    client = redis.Redis.from_url(server.url)
    for pass_no in (1, 2):
        land_pass(data_dir / "landing", pass_no)
        assert "published snapshot" in hot_run(data_dir, server.url, "duckdb")
        run.published.append(published(client))
    client.close()
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    run.ledger = [tuple(r) for r in con.execute(LEDGER).fetchall()]
    run.events = tuple(con.execute(EVENTS).fetchone() or ())
    con.close()


@pytest.fixture(scope="module")
def passes(
    spark_cluster: EmbeddedSparkCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Passes]:
    """The passes, run once for the module's tests: DuckDB in a thread beside the cluster's
    scenarios (parquet, then Delta on a fresh warehouse). The pass that lost the worker
    published DuckDB's scores (the first test compares them), whether it finished on one
    worker or failed and was run again."""
    tmp = tmp_path_factory.mktemp("thrift_passes")
    servers = [EmbeddedRedis(tmp / f"redis{i}", persist=False).start() for i in range(3)]
    result = Passes(Run(), Run(), Run())
    failed: list[BaseException] = []

    def duck() -> None:
        try:
            _duck_scenario(tmp / "duck", servers[0], result.duck)
        except BaseException as exc:  # reported by the main thread
            failed.append(exc)

    beside = threading.Thread(target=duck)
    beside.start()
    try:
        result.parquet = _spark_scenario(
            spark_cluster, tmp / "parquet", servers[1], result, "parquet"
        )
        _reset(spark_cluster)
        result.delta = _spark_scenario(spark_cluster, tmp / "delta", servers[2], result, "delta")
        beside.join()
        if failed:
            raise failed[0]
        yield result
    finally:
        beside.join()
        _reset(spark_cluster)
        for server in servers:
            server.stop()


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_thrift_passes_publish_what_duckdb_publishes(passes: Passes, fmt: str) -> None:
    spark: Run = getattr(passes, fmt)
    for pass_no, (mine, duck) in enumerate(
        zip(spark.published, passes.duck.published, strict=True), start=1
    ):
        assert_same_published(mine, duck, pass_no)
    # what the passes went through: the late video counts, the takedown leaves the feed
    first, second = ([v for v, _ in feed] for feed, _ in passes.duck.published)
    assert "v9" in second and "v9" not in first and "v3" in first and "v3" not in second
    assert passes.providers[fmt] == fmt
    # The client ran no engine of its own: no local Spark warehouse, no DuckDB file.
    for data_dir in passes.client_dirs:
        assert not (data_dir / "spark").exists() and not list(data_dir.rglob("*.duckdb"))


def test_a_worker_lost_mid_pass_costs_no_row(passes: Passes) -> None:
    assert passes.worker_lost, "the master never saw the killed worker dead"
    # Each file counted once, with DuckDB's counts; the events DuckDB holds, none twice.
    assert passes.parquet.ledger == passes.duck.ledger
    assert passes.parquet.events == passes.duck.events
    count, distinct = passes.parquet.events
    assert count == distinct > 0


def test_the_lost_worker_came_back(spark_cluster: EmbeddedSparkCluster, passes: Passes) -> None:
    alive = [w for w in spark_cluster.status()["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == spark_cluster.workers
    assert set(spark_cluster.pids()) == set(spark_cluster.roles)
    assert os.path.isdir(spark_cluster.warehouse_dir)
