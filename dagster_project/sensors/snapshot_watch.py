"""The snapshot watch: a Redis that lost the published snapshot gets it back within a minute.

A Redis restarted without persistence, or a failover to an empty replica, leaves the API
serving from memory (stale) until someone publishes again. Waiting for the next landing file
could take forever on a quiet site, so this sensor checks Redis every few seconds and, when
the current snapshot is gone, runs the publish asset alone: the latest scores the warehouse
already holds, swapped in again, with nothing recomputed.
"""

from __future__ import annotations

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from redis import exceptions as redis_errors

from dagster_project.assets.publish import hot_snapshot
from dagster_project.jobs import hot_pipeline_job, hot_republish_job
from dagster_project.resources import RedisResource
from dagster_project.sensors.runs import PENDING, run_in
from hot import keys
from hot.redis_client import SyncRedis

WATCH_INTERVAL_SEC = 5
"""How often Redis is checked (the daemon ticks sensors at most every ~5 s anyway)."""


def snapshot_missing(client: SyncRedis) -> str | None:
    """Why Redis no longer holds a servable current snapshot, or None when it does."""
    current = client.get(keys.CURRENT)
    if current is None:
        return f"{keys.CURRENT} is missing"
    sid = current.decode()
    meta = client.hget(keys.snapshot_meta(sid), "count")
    if meta is None:
        return f"the keys of snapshot {sid} are missing"
    if int(meta) > 0 and not client.exists(keys.GLOBAL):
        return f"{keys.GLOBAL} is missing"
    return None


@sensor(
    job=hot_republish_job,
    minimum_interval_seconds=WATCH_INTERVAL_SEC,
    default_status=DefaultSensorStatus.RUNNING,
)
def snapshot_watch_sensor(
    context: SensorEvaluationContext, redis: RedisResource
) -> RunRequest | SkipReason:
    """Publish the latest scores again when Redis has lost the current snapshot."""
    if context.instance.get_latest_materialization_event(hot_snapshot.key) is None:
        return SkipReason("nothing published yet: the first pipeline pass publishes")
    if run_in(context.instance, (hot_pipeline_job.name, hot_republish_job.name), PENDING):
        return SkipReason("a pipeline or republish run is under way and will publish")
    try:
        # A cluster client reads the slot map here, so it fails here when no node answers.
        client = redis.client()
        try:
            reason = snapshot_missing(client)
        finally:
            client.close()
    except (
        redis_errors.ConnectionError,
        redis_errors.TimeoutError,
        redis_errors.BusyLoadingError,
        redis_errors.ClusterError,  # a cluster with slots uncovered (CLUSTERDOWN), mid-failover
        redis_errors.RedisClusterException,  # no node of the cluster reachable
    ) as exc:
        return SkipReason(f"Redis unreachable ({type(exc).__name__}); will check again")
    if reason is None:
        return SkipReason("Redis holds the current snapshot")
    context.log.info(f"republishing: {reason}")
    return RunRequest(tags={"hot/reason": f"republish: {reason}"})
