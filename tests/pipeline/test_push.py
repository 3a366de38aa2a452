"""The push path and the run lanes, as `hot demo` runs them: `dagster dev` (its daemon's run
queue, launcher and sensors) and `hot watch`, on a real Redis and DuckDB file.

One scenario: an embeddings run is under way when a file lands; the watcher pushes a pass,
which starts beside the embeddings run (its own lane) while another process holds the DuckDB
file, and succeeds. The sensor's request for the same file runs too, and ingests
nothing: the file counts once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil
import pytest
import redis
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunRecord,
    RunRequest,
    RunsFilter,
    build_sensor_context,
)
from dagster_graphql import DagsterGraphQLClient

from dagster_project.lanes import PIPELINE_JOB, TRIGGER_TAG
from dagster_project.launcher import logged_pid
from dagster_project.sensors.landing import landing_sensor
from hot import keys
from hot.local.processes import spawn, stop_all
from hot.local.redis_server import EmbeddedRedis, free_port
from hot.local.simulate import Simulator, build_world
from hot.settings import get_settings
from hot.warehouse import connect

pytestmark = pytest.mark.timeout(1800)  # dagster dev and two runs on a loaded machine

ROOT = Path(__file__).resolve().parents[2]
DONE = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


@dataclass
class Stack:
    """`dagster dev` and `hot watch` on one data dir."""

    data_dir: Path
    sim: Simulator
    instance: DagsterInstance
    graphql: DagsterGraphQLClient


def _wait(check: Callable[[], Any], what: str, timeout: float = 600) -> Any:
    """Poll ``check`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    """A child in a session of its own, stopped with what it started (SIGINT, then SIGKILL)
    on exit."""
    with log.open("wb") as sink:
        child = spawn(argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield
        finally:
            stop_all([child], signal.SIGINT, 30)


@pytest.fixture(scope="module")
def stack(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack up, its first pass (the landing sensor's) published."""
    work = tmp_path_factory.mktemp("push")
    data = work / "hot"
    env = {
        **os.environ,
        "HOT_DATA_DIR": str(data),
        "HOT_REDIS_URL": redis_server.url,
        "HOT_JWT_SECRET": "push-test-" + "p" * 32,
        "DAGSTER_HOME": str(data / "dagster_home"),
        "HOT_EMBED_EVERY_BATCHES": "1000000",  # embeddings only when the test asks
    }
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    port = free_port()
    with pytest.MonkeyPatch.context() as patch, ExitStack() as running:
        for name in ("HOT_DATA_DIR", "HOT_REDIS_URL", "HOT_JWT_SECRET", "DAGSTER_HOME"):
            patch.setenv(name, env[name])
        get_settings.cache_clear()
        from dagster_project.instance import ensure_dagster_home

        ensure_dagster_home()
        with DagsterInstance.get() as instance:
            # Its storage created here, before Dagster's three processes race to create it.
            instance.get_runs(limit=1)
            instance.all_instigator_state()
        sim = Simulator(data / "landing", build_world(n_creators=12, videos_per_creator=4))
        sim.write_catalogue()
        sim.write_events(1000)
        dagster = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", str(port)]
        running.enter_context(_process(dagster, env, work / "dagster.log"))
        watch = [sys.executable, "-m", "hot.cli", "watch", "--dagster-port", str(port)]
        running.enter_context(_process(watch, env, work / "watch.log"))
        _wait(lambda: client.get(keys.CURRENT), "the landing sensor's first pass")
        instance = running.enter_context(DagsterInstance.get())
        _wait(lambda: _runs(instance, PIPELINE_JOB) and _idle(instance), "the first pass to end")
        _wait(lambda: _answers(port), "the webserver")
        yield Stack(data, sim, instance, DagsterGraphQLClient("127.0.0.1", port_number=port))
    get_settings.cache_clear()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _runs(instance: DagsterInstance, job: str) -> list[RunRecord]:
    return list(instance.get_run_records(RunsFilter(job_name=job)))


def _idle(instance: DagsterInstance) -> bool:
    """No pass pending (an embeddings run of the hourly schedule may be under way)."""
    return all(r.dagster_run.status in DONE for r in _runs(instance, PIPELINE_JOB))


def _record(instance: DagsterInstance, run_id: str) -> RunRecord:
    record = instance.get_run_record_by_id(run_id)
    assert record is not None
    return record


def _ended(instance: DagsterInstance, run_id: str) -> RunRecord:
    return _wait(
        lambda: (r := _record(instance, run_id)).dagster_run.status in DONE and r,
        f"run {run_id} to end",
    )


def _raw_events(instance: DagsterInstance, run_id: str) -> dict[str, Any]:
    """The metadata of the run's ``raw/events`` materialization (empty when it has none: a
    pass with nothing new materializes no raw asset)."""
    records = instance.get_records_for_run(
        run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in records:
        materialization = record.asset_materialization
        if materialization is not None and materialization.asset_key == AssetKey(["raw", "events"]):
            return {k: v.value for k, v in materialization.metadata.items()}
    return {}


def test_a_pushed_pass_runs_beside_embeddings_and_a_file_counts_once(stack: Stack) -> None:
    instance, settings = stack.instance, get_settings()
    # Another process holds the DuckDB file: neither run below can write until it is let go.
    holder = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        embed_id = stack.graphql.submit_job_execution("hot_embeddings")
        _wait(
            lambda: _record(instance, embed_id).dagster_run.status == DagsterRunStatus.STARTED,
            "the embeddings run to start",
        )
        landed = stack.sim.write_events(300)
        name = f"events/{landed.name}"

        def pushed() -> RunRecord | None:
            for record in _runs(instance, PIPELINE_JOB):
                if record.dagster_run.tags.get(TRIGGER_TAG) == "push":
                    return record
            return None

        push_id = _wait(pushed, "the watcher's pass").dagster_run.run_id
        _wait(
            lambda: _record(instance, push_id).dagster_run.status == DagsterRunStatus.STARTED,
            "the pushed pass to start",
        )
        # Started while the embeddings run is under way: not queued behind it.
        assert _record(instance, embed_id).dagster_run.status == DagsterRunStatus.STARTED
    finally:
        holder.close()
    push = _ended(instance, push_id)
    assert push.dagster_run.status == DagsterRunStatus.SUCCESS
    meta = _raw_events(instance, push_id)
    assert name in meta["file_names"]
    assert "queue_wait_s" in meta

    # The landing sensor fires for the same file too (one that has not seen the push).
    with DagsterInstance.ephemeral() as blank:
        request = landing_sensor(build_sensor_context(instance=blank))
    assert isinstance(request, RunRequest)
    assert name in request.run_config["ops"]["landing_files"]["config"]["files"]
    sensor_id = stack.graphql.submit_job_execution(
        PIPELINE_JOB, run_config=request.run_config, tags=dict(request.tags)
    )
    sensed = _ended(instance, sensor_id)
    assert sensed.dagster_run.status == DagsterRunStatus.SUCCESS
    assert sensed.dagster_run.tags[TRIGGER_TAG] == "sensor"
    assert _raw_events(instance, sensor_id).get("files", 0) == 0  # nothing new for it

    embed = _ended(instance, embed_id)
    assert push.start_time is not None and embed.end_time is not None
    assert push.start_time < embed.end_time
    _wait(lambda: _idle(instance), "the passes to end")
    _assert_ingested_once(name)


def _assert_ingested_once(name: str) -> None:
    """The landing file ``name`` is one batch in the ledger, and its events are in once."""
    with connect(get_settings().duckdb_path, read_only=True, wait_sec=300) as con:
        ledger = con.execute(
            "select valid from raw.ingested_files where source_file = ?", [name]
        ).fetchall()
        (rows,) = con.execute(
            "select count(*) from raw.events where source_file = ?", [name]
        ).fetchone()  # type: ignore[misc]
    assert len(ledger) == 1  # one batch of the file
    assert rows == ledger[0][0] > 0  # its events once


def _parent(pid: int) -> int:
    return psutil.Process(pid).ppid()


def _blocked_pass(stack: Stack, known: set[str]) -> tuple[str, str]:
    """Land a file and wait for a pass of it to start (the caller holds the DuckDB file, so
    the pass waits to write): its run id and the file's name."""
    landed = stack.sim.write_events(200)

    def started() -> str | None:
        for record in _runs(stack.instance, PIPELINE_JOB):
            run = record.dagster_run
            if run.run_id not in known and run.status == DagsterRunStatus.STARTED:
                return run.run_id
        return None

    return _wait(started, "a pass of the new file to start"), f"events/{landed.name}"


def _ingested_by_a_later_pass(stack: Stack, name: str, known: set[str]) -> None:
    """Wait until a pass not in ``known`` ingested ``name`` (the sensor's safety net)."""

    def done() -> bool:
        for record in _runs(stack.instance, PIPELINE_JOB):
            run = record.dagster_run
            if run.run_id in known or run.status != DagsterRunStatus.SUCCESS:
                continue
            if name in _raw_events(stack.instance, run.run_id).get("file_names", []):
                return True
        return False

    _wait(done, f"a later pass to ingest {name}")
    _wait(lambda: _idle(stack.instance), "the passes to end")
    _assert_ingested_once(name)


def test_a_killed_run_process_and_run_server_fail_the_run_and_the_file_is_ingested_later(
    stack: Stack,
) -> None:
    """Run processes are forked from one warm run server. Killing a pass's process and the
    server with it: run monitoring marks the pass failed (its lane is free again), the next
    pass gets a new server, and the file the killed pass held is ingested once."""
    instance = stack.instance
    known = {r.dagster_run.run_id for r in _runs(instance, PIPELINE_JOB)}
    holder = duckdb.connect(str(get_settings().duckdb_path), read_only=True)
    try:
        run_id, name = _blocked_pass(stack, known)
        pid = _wait(lambda: logged_pid(instance, run_id), "the pass's process id")
        server = _parent(pid)
        assert "dagster_project.warm_run" in Path(f"/proc/{server}/cmdline").read_text()
        os.kill(server, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
        killed = _ended(instance, run_id)
    finally:
        holder.close()
    assert killed.dagster_run.status == DagsterRunStatus.FAILURE
    _ingested_by_a_later_pass(stack, name, known | {run_id})


def test_a_hung_pass_is_cancelled_from_the_webserver(stack: Stack) -> None:
    """The webserver's launcher did not launch the run: it finds the run's process by the
    id the run logged and interrupts it; the run ends cancelled, and the file is ingested
    once by a later pass."""
    instance = stack.instance
    known = {r.dagster_run.run_id for r in _runs(instance, PIPELINE_JOB)}
    holder = duckdb.connect(str(get_settings().duckdb_path), read_only=True)
    try:
        run_id, name = _blocked_pass(stack, known)
        _wait(lambda: logged_pid(instance, run_id), "the pass's process id")
        stack.graphql.terminate_run(run_id)
        cancelled = _ended(instance, run_id)
    finally:
        holder.close()
    assert cancelled.dagster_run.status == DagsterRunStatus.CANCELED
    _ingested_by_a_later_pass(stack, name, known | {run_id})
