"""Dagster on PostgreSQL (SPEC §9b): `hot run` keeps its run and events there, the storage
keeps its connections open and survives a restart of the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import redis
from dagster import AssetKey, AssetMaterialization, DagsterEventType, DagsterInstance

from dagster_project.instance import DAGSTER_YAML, ensure_dagster_home
from hot.local.postgres import EmbeddedPostgres
from hot.local.simulate import Simulator, build_world
from tests.oracle import assert_published, landing_oracle

OLD_DAGSTER_YAML = """\
# Written by `hot`: one run at a time (DuckDB has a single writer).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
event_log_storage:
  module: dagster_project.event_log
  class: PassEventLogStorage
"""
"""A ``dagster.yaml`` an earlier `hot` wrote: SQLite, with its event log named."""


def _query(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    conn.close()
    return rows


def test_hot_run_keeps_its_run_and_events_in_postgres(
    hot_env: Path, dagster_pg_url: str, redis_client: redis.Redis
) -> None:
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(OLD_DAGSTER_YAML)  # a home from before the setting
    sim = Simulator(hot_env / "landing", build_world(n_creators=12, videos_per_creator=5))
    sim.write_catalogue()
    sim.write_events(1500)

    done = subprocess.run(
        [sys.executable, "-m", "hot.cli", "run"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert_published(redis_client, landing_oracle(hot_env / "landing"), top_n=1000)

    [(run_id, status, job)] = _query(
        dagster_pg_url, "select run_id, status, pipeline_name from runs"
    )
    assert (status, job) == ("SUCCESS", "hot_pipeline")
    events = dict(
        _query(
            dagster_pg_url,
            "select dagster_event_type, count(*) from event_logs where run_id = %s group by 1",
            run_id,
        )
    )
    assert events[DagsterEventType.RUN_SUCCESS.value] == 1
    assert events[DagsterEventType.ASSET_MATERIALIZATION.value] >= 3  # raw, dbt, the snapshot
    assert events[DagsterEventType.ASSET_CHECK_EVALUATION.value] >= 1  # the pass's dbt tests
    [(snapshots,)] = _query(
        dagster_pg_url,
        "select count(*) from event_logs where run_id = %s and asset_key = %s "
        "and dagster_event_type = 'ASSET_MATERIALIZATION'",
        run_id,
        '["hot_snapshot"]',
    )
    assert snapshots == 1
    # The old home now names the storage that follows the setting; nothing went to SQLite,
    # and the URL (a password) is in no file of the home.
    assert (home / "dagster.yaml").read_text() == DAGSTER_YAML
    assert not (home / "history").exists() and not (home / "schedules").exists()
    assert all(dagster_pg_url not in p.read_text() for p in home.rglob("*.yaml"))


def test_the_storage_keeps_one_connection_and_survives_a_restart(
    hot_env: Path, dagster_pg_url: str, postgres: EmbeddedPostgres
) -> None:
    ensure_dagster_home()
    instance = DagsterInstance.get()
    parts = (instance.run_storage, instance.event_log_storage, instance.schedule_storage)
    for n in range(20):
        instance.report_runless_asset_event(AssetMaterialization("scores", metadata={"n": n}))
        instance.get_runs_count()  # the run storage
        instance.all_instigator_state()  # the schedule storage (sensor cursors)
    # Every statement went through each storage's kept-open connection (dagster-postgres's own
    # engine keeps none), so the database sees this process's few sessions only.
    assert [part._engine.pool.checkedin() for part in parts] == [1, 1, 1]  # type: ignore[attr-defined]
    database = dagster_pg_url.rsplit("/", 1)[1]
    [(sessions,)] = _query(
        postgres.url, "select count(*) from pg_stat_activity where datname = %s", database
    )
    assert sessions <= len(parts)

    postgres.restart()  # every open connection is cut
    for n in range(20, 25):
        instance.report_runless_asset_event(AssetMaterialization("scores", metadata={"n": n}))
    latest = instance.get_latest_materialization_event(AssetKey("scores"))
    assert latest is not None and latest.asset_materialization is not None
    assert latest.asset_materialization.metadata["n"].value == 24
    instance.dispose()
