"""PostgreSQL restarted under a running `dagster-daemon` (SPEC §9b): the landing sensor and the
run queue work on PostgreSQL storage, the daemon carries on through the restart, the next pass
publishes, and nothing is ingested twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

import duckdb
import pytest
import redis
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from dagster_project.instance import ensure_dagster_home
from hot import keys
from hot.local.postgres import EmbeddedPostgres
from hot.local.processes import spawn, terminate
from hot.local.simulate import Simulator, build_world
from hot.warehouse import connect
from tests.oracle import assert_published, landing_oracle

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")
DONE = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def _wait(check: Callable[[], T], what: str, timeout: float = 600) -> T:
    """Poll ``check`` until it returns something truthy; that value."""
    try:
        return Retrying(
            retry=retry_if_result(lambda value: not value),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.2),
        )(check)
    except RetryError:
        raise AssertionError(f"timed out waiting for {what}") from None


@contextmanager
def _daemon(log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`dagster-daemon run` on the workspace (sensors, run queue, launcher), stopped at the
    end with the run processes it started."""
    argv = [sys.executable, "-m", "dagster._daemon", "run", "-w", "workspace.yaml"]
    with log.open("wb") as sink:
        child = spawn(argv, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        terminate(child, grace=60)  # the daemon stops its threads and its code server
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # warm run processes still waiting


def _quiet(instance: DagsterInstance, runs_before: int) -> bool:
    """More runs than ``runs_before``, and none queued or under way."""
    records = instance.get_run_records(RunsFilter(job_name="hot_pipeline"))
    return len(records) > runs_before and all(r.dagster_run.status in DONE for r in records)


def _heartbeat(instance: DagsterInstance) -> float:
    """When the daemon last said it was alive (its heartbeats are in the storage too)."""
    return max((h.timestamp for h in instance.get_daemon_heartbeats().values()), default=0.0)


def test_the_daemon_and_the_next_pass_carry_on_through_a_postgres_restart(
    hot_env: Path,
    dagster_pg_url: str,
    postgres: EmbeddedPostgres,
    redis_client: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOT_EMBED_EVERY_BATCHES", "1000000")  # no embeddings run beside
    ensure_dagster_home()
    landing = hot_env / "landing"
    sim = Simulator(landing, build_world(n_creators=12, videos_per_creator=5))
    sim.write_catalogue()
    sim.write_events(1000)
    instance = DagsterInstance.get()
    with _daemon(tmp_path / "daemon.log") as daemon:
        # The sensor, the run queue and the launcher, all on PostgreSQL: a first pass.
        first = _wait(lambda: redis_client.get(keys.CURRENT), "the landing sensor's first pass")
        _wait(lambda: _quiet(instance, 0), "the first pass to end")
        runs = len(instance.get_run_records(RunsFilter(job_name="hot_pipeline")))

        sim.write_events(1000)  # the sensor's next tick, or its run, meets the restart
        postgres.restart()
        restarted = time.time()
        sim.write_events(1000)
        _wait(lambda: _quiet(instance, runs), "a pass after the restart")
        _wait(lambda: _heartbeat(instance) > restarted, "a heartbeat after the restart")
        assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
        # A file that landed after a pass's ingest began is the next pass's: wait for it.
        landed = {p.relative_to(landing).as_posix() for p in landing.rglob("*.jsonl")}
        files = _wait(
            lambda: (
                _quiet(instance, runs)
                and _latest_succeeded(instance)
                and _ingested(hot_env / "warehouse.duckdb", landed)
            ),
            "a pass that ingested every file",
        )
    instance.dispose()

    assert redis_client.get(keys.CURRENT) != first
    # Every file counted once, and the feed is SPEC §3 of all of them: nothing doubled.
    assert files == dict.fromkeys(landed, 1)
    assert_published(redis_client, landing_oracle(landing), top_n=1000)


def _ingested(db: Path, landed: set[str]) -> dict[str, int] | None:
    """How many times each file was ingested, once all of ``landed`` were (``None`` before,
    or while a pass holds the warehouse)."""
    try:
        con = connect(db, read_only=True, wait_sec=5)
    except duckdb.IOException:
        return None
    try:
        rows = con.execute("select source_file, count(*) from raw.ingested_files group by 1")
        files = dict(rows.fetchall())
    finally:
        con.close()
    return files if files.keys() == landed else None


def _latest_succeeded(instance: DagsterInstance) -> bool:
    [latest] = instance.get_run_records(RunsFilter(job_name="hot_pipeline"), limit=1)
    return latest.dagster_run.status == DagsterRunStatus.SUCCESS
