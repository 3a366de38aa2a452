"""Which Redis the API (and the CLI) talks to, and the asyncio client the API uses.

A single server or a Redis Cluster: the same ``HOT_REDIS_CLUSTER`` choice as the pipeline's
client (``hot.redis_client``), on the same key layout (``hot.keys``).
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline, RedisCluster
from redis.backoff import NoBackoff
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

from hot.settings import Settings
from serving.core._redis_internals import drop_routing_keys_in_callbacks

REDIS_SOCKET_TIMEOUT_SEC = 0.5
REDIS_POOL_SIZE = 32

AsyncRedis = Redis | RedisCluster
"""The API's client of either kind: both run the same commands on ``hot.keys``."""

AsyncPipeline = Pipeline | ClusterPipeline
"""A MULTI/EXEC transaction of either kind of client (see :func:`transaction`)."""

REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, RedisClusterException)
"""What a call raises when the store cannot answer: the cluster client raises
``RedisClusterException``, which is no ``RedisError``, when it cannot reach a node to read
the slot map from (e.g. the node holding ``hot:global`` is down)."""


def resolve_redis_url(settings: Settings) -> str:
    """``HOT_REDIS_URL``: the API never starts a Redis of its own (it is no launcher).

    ``hot serve`` and ``hot demo`` set it, to the data dir's embedded Redis when it was unset
    (``hot.cli.common.redis_for_command``); started any other way, the API needs it set.
    """
    if not settings.redis_url:
        raise RuntimeError(
            "HOT_REDIS_URL is not set: start the API with `hot serve` (which starts the data "
            "dir's embedded Redis) or point HOT_REDIS_URL at a Redis"
        )
    return settings.redis_url


def create_redis(url: str, cluster: bool = False) -> AsyncRedis:
    """An asyncio client with bounded pools and short timeouts: a call never hangs.

    ``cluster`` (``Settings.redis_cluster``) gives a Redis Cluster client that finds the
    other nodes from ``url``; its one retry re-reads the slot map after a failover.
    """
    timeouts = {
        "socket_timeout": REDIS_SOCKET_TIMEOUT_SEC,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SEC,
        "retry": Retry(NoBackoff(), 1),
    }
    if cluster:
        # One pool per node; a full one fails at once (MaxConnectionsError) rather than queue.
        client = RedisCluster.from_url(url, max_connections=REDIS_POOL_SIZE, **timeouts)
        drop_routing_keys_in_callbacks(client)  # its MULTI/EXEC would fail otherwise
        return client
    pool = BlockingConnectionPool.from_url(
        url, max_connections=REDIS_POOL_SIZE, timeout=REDIS_SOCKET_TIMEOUT_SEC, **timeouts
    )
    return Redis(connection_pool=pool)


async def transaction(redis: AsyncRedis) -> AsyncPipeline:
    """A MULTI/EXEC pipeline of ``redis`` (all its keys in one slot: ``hot.keys``).

    On a cluster the slot map is read here first, in the app's event loop: redis-py 8.1
    queues each command of an asyncio cluster transaction through ``asyncio.run`` in a
    thread, and a slot map re-read there (the first use after a failover) would bind the
    client's connections to that short-lived loop and fail with a ``RuntimeError``.
    """
    if isinstance(redis, RedisCluster):
        await redis.initialize()
    return redis.pipeline(transaction=True)


async def close_redis(client: AsyncRedis) -> None:
    """Close ``client`` and its connections (the two kinds close differently)."""
    if isinstance(client, RedisCluster):
        await client.aclose()
    else:
        await client.aclose(close_connection_pool=True)
