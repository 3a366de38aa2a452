"""The synchronous Redis client of the pipeline and the command line: a server or a cluster.

``HOT_REDIS_CLUSTER=1`` (:attr:`Settings.redis_cluster`) makes every component talk to a
Redis Cluster through ``HOT_REDIS_URL`` (any node); the API's asyncio client makes the same
choice from the same setting (``serving.core.redis_client``). :mod:`hot.keys` lays the keys
out so that either client runs every transaction of the project unchanged.
"""

from __future__ import annotations

from redis import Redis
from redis.client import Pipeline
from redis.cluster import ClusterPipeline, RedisCluster

from hot.settings import Settings

SyncRedis = Redis | RedisCluster
"""A client of either kind: both run the same commands on :mod:`hot.keys`."""

SyncPipeline = Pipeline | ClusterPipeline
"""A pipeline (or MULTI/EXEC transaction) of either kind of client."""


def connect(
    settings: Settings,
    url: str | None = None,
    *,
    socket_timeout: float = 10.0,
    socket_connect_timeout: float = 5.0,
) -> SyncRedis:
    """A client of ``url`` (default ``HOT_REDIS_URL``): a cluster client if so configured.

    The timeouts are short so that a dead server fails a run instead of hanging it. A
    cluster client reads the slot map from the node at construction, so it raises there
    (``RedisClusterException``) when no node answers.
    """
    url = url or settings.redis_url
    if not url:
        raise RuntimeError(
            "HOT_REDIS_URL is not set: run the pipeline through `hot demo` / `hot run` "
            "(they start an embedded Redis) or point HOT_REDIS_URL at a server"
        )
    timeouts = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_connect_timeout,
    }
    if settings.redis_cluster:
        return RedisCluster.from_url(url, **timeouts)
    return Redis.from_url(url, **timeouts)
