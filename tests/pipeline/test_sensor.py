"""The landing sensor: each renamed-in file launches exactly once; temp files never do."""

from __future__ import annotations

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
