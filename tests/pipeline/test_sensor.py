"""The landing sensor: each renamed-in file launches exactly once; temp files never do."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context

from dagster_project.sensors.landing import landing_sensor
from hot.simulate import write_atomic


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
