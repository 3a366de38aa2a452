"""The landing sensor: each renamed-in file launches exactly once; temp files never do; files a
pushed pass covers are left to it (unless it failed)."""

from __future__ import annotations

import time
from pathlib import Path

from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SkipReason,
    build_sensor_context,
)
from dagster._core.utils import make_new_run_id

from dagster_project.lanes import COVERS_TAG, TRIGGER_TAG
from dagster_project.sensors.landing import landing_sensor
from hot.landing import write_atomic


def _tick(
    instance: DagsterInstance, cursor: str | None
) -> tuple[RunRequest | SkipReason, str | None]:
    context = build_sensor_context(instance=instance, cursor=cursor)
    result = landing_sensor(context)
    return result, context.cursor


def test_sensor_launches_each_new_file_once(hot_env: Path) -> None:
    landing = hot_env / "landing"
    with DagsterInstance.ephemeral() as instance:
        result, cursor = _tick(instance, None)
        assert isinstance(result, SkipReason)

        write_atomic(landing / "events", "0002.jsonl", [b"{}"])
        write_atomic(landing / "videos", "0001.jsonl", [b"{}"])
        half = landing / "events" / ".0003.jsonl.tmp"
        half.write_bytes(b'{"event_id": "half')  # a producer still writing
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, RunRequest)
        files = result.run_config["ops"]["landing_files"]["config"]["files"]
        assert files == ["videos/0001.jsonl", "events/0002.jsonl"]  # catalogue first
        first_key = result.run_key

        result, cursor = _tick(instance, cursor)
        assert isinstance(result, SkipReason)  # nothing new: no second launch

        half.rename(landing / "events" / "0003.jsonl")  # the producer's atomic rename
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, RunRequest)
        assert result.run_config["ops"]["landing_files"]["config"]["files"] == ["events/0003.jsonl"]
        assert result.run_key != first_key
        result, _ = _tick(instance, cursor)
        assert isinstance(result, SkipReason)


def test_sensor_waits_while_a_run_is_queued(hot_env: Path) -> None:
    landing = hot_env / "landing"
    with DagsterInstance.ephemeral() as instance:
        instance.add_run(
            DagsterRun(
                job_name="hot_pipeline",
                run_id=make_new_run_id(),
                status=DagsterRunStatus.NOT_STARTED,
            )
        )
        write_atomic(landing / "events", "0001.jsonl", [b"{}"])
        result, cursor = _tick(instance, None)
        assert isinstance(result, SkipReason)  # the queued run will ingest it
        assert cursor is None  # nothing consumed: the file is seen again next tick
        instance.delete_run(instance.get_runs()[0].run_id)  # the queue drained
        result, _ = _tick(instance, cursor)
        assert isinstance(result, RunRequest)


def _pass(instance: DagsterInstance, status: DagsterRunStatus, covers: int) -> str:
    """A pass as the push watcher requests it, covering the files landed before it; its id."""
    run_id = make_new_run_id()
    instance.add_run(
        DagsterRun(
            job_name="hot_pipeline",
            run_id=run_id,
            status=status,
            tags={TRIGGER_TAG: "push", COVERS_TAG: str(covers)},
        )
    )
    return run_id


def test_sensor_leaves_pushed_files_to_their_pass_and_retries_a_failed_one(hot_env: Path) -> None:
    landing = hot_env / "landing"
    with DagsterInstance.ephemeral() as instance:
        write_atomic(landing / "events", "0001.jsonl", [b"{}"])
        pushed = _pass(instance, DagsterRunStatus.STARTED, time.time_ns())  # after it landed
        result, cursor = _tick(instance, None)
        assert isinstance(result, SkipReason)
        assert "under way" in (result.skip_message or "")
        assert cursor is None  # seen again next tick, in case that pass fails

        # The pushed pass failed: the sensor is the safety net.
        instance.delete_run(pushed)
        _pass(instance, DagsterRunStatus.FAILURE, time.time_ns())
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, RunRequest)
        assert result.run_config["ops"]["landing_files"]["config"]["files"] == ["events/0001.jsonl"]
        assert result.tags[TRIGGER_TAG] == "sensor"
        assert (
            int(result.tags[COVERS_TAG]) == (landing / "events" / "0001.jsonl").stat().st_ctime_ns
        )

        # A file a pushed pass already ingested: no second pass.
        write_atomic(landing / "events", "0002.jsonl", [b"{}"])
        _pass(instance, DagsterRunStatus.SUCCESS, time.time_ns())
        result, cursor = _tick(instance, cursor)
        assert isinstance(result, SkipReason)
        assert "ingested" in (result.skip_message or "")
        result, _ = _tick(instance, cursor)
        assert isinstance(result, SkipReason)
        assert "no new landing files" in (result.skip_message or "")
