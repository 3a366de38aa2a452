"""The snapshot watch: a Redis that lost the snapshot gets the latest scores back, unrecomputed."""

from __future__ import annotations

import time
from pathlib import Path

import redis
from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context

from dagster_project.definitions import defs
from dagster_project.instance import ensure_dagster_home
from dagster_project.resources import RedisResource
from dagster_project.runner import run_pipeline
from dagster_project.sensors.snapshot_watch import snapshot_watch_sensor
from hot import keys
from hot.local.redis_server import free_port
from hot.local.simulate import Simulator, build_world


def _tick(instance: DagsterInstance, url: str | None = None) -> RunRequest | SkipReason:
    context = build_sensor_context(instance=instance, resources={"redis": RedisResource(url=url)})
    return snapshot_watch_sensor(context)


def test_lost_snapshot_is_published_again(hot_env: Path, redis_client: redis.Redis) -> None:
    ensure_dagster_home()
    instance = DagsterInstance.get()
    assert isinstance(_tick(instance), SkipReason)  # nothing was ever published

    sim = Simulator(
        hot_env / "landing", build_world(n_creators=12, videos_per_creator=5, n_users=300)
    )
    sim.write_catalogue()
    sim.write_events(800)
    first = run_pipeline(now_epoch=time.time())
    assert first.success, first.error
    before = redis_client.zrange(keys.GLOBAL, 0, -1, withscores=True)
    assert before
    assert isinstance(_tick(instance), SkipReason)  # Redis holds it: nothing to do

    redis_client.flushall()  # a restart without persistence
    request = _tick(instance)
    assert isinstance(request, RunRequest)
    assert request.tags["hot/reason"] == f"republish: {keys.CURRENT} is missing"

    runs_before = len(instance.get_runs())
    job = defs.resolve_job_def("hot_republish")
    result = job.execute_in_process(instance=instance, tags=request.tags)
    assert result.success
    # Only the publish step ran: the scores are the last pass's, to the bit.
    assert [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"] == [
        "hot_snapshot"
    ]
    assert redis_client.zrange(keys.GLOBAL, 0, -1, withscores=True) == before
    assert redis_client.get(keys.CURRENT).decode() != first.snapshot_id
    assert len(instance.get_runs()) == runs_before + 1
    assert isinstance(_tick(instance), SkipReason)

    # Only the snapshot's keys lost ({hot:global}:current left behind): also noticed.
    sid = redis_client.get(keys.CURRENT).decode()
    redis_client.delete(*keys.snapshot_keys(sid))
    request = _tick(instance)
    assert isinstance(request, RunRequest)
    assert "keys of snapshot" in request.tags["hot/reason"]


def test_unreachable_redis_is_a_skip_not_a_failure(hot_env: Path) -> None:
    ensure_dagster_home()
    instance = DagsterInstance.get()
    sim = Simulator(
        hot_env / "landing", build_world(n_creators=12, videos_per_creator=5, n_users=300)
    )
    sim.write_catalogue()
    sim.write_events(100)
    assert run_pipeline(now_epoch=time.time()).success
    result = _tick(instance, url=f"redis://127.0.0.1:{free_port()}/0")
    assert isinstance(result, SkipReason)
    assert "unreachable" in (result.skip_message or "")
