"""Which Redis the API (and the CLI) talks to, and the asyncio client the API uses.

A single server or a Redis Cluster: the same ``HOT_REDIS_CLUSTER`` choice as the pipeline's
client (``hot.redis_client``), on the same key layout (``hot.keys``).
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.backoff import NoBackoff
from redis.retry import Retry

from hot.local.redis_server import EmbeddedRedis, ensure_local_redis
from hot.settings import Settings

REDIS_SOCKET_TIMEOUT_SEC = 0.5
REDIS_POOL_SIZE = 32

_owned: list[EmbeddedRedis] = []

AsyncRedis = Redis | RedisCluster
"""The API's client of either kind: both run the same commands on ``hot.keys``."""


def resolve_redis_url(settings: Settings) -> str:
    """``HOT_REDIS_URL`` if set, else the URL of the embedded Redis under ``data_dir/redis``.

    The embedded server is started unless another process already runs it for this data
    dir; one started here lives until this process exits.
    """
    if settings.redis_url:
        return settings.redis_url
    url, server = ensure_local_redis(settings.data_dir / "redis")
    if server is not None:
        _owned.append(server)
    return url


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
        return RedisCluster.from_url(url, max_connections=REDIS_POOL_SIZE, **timeouts)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=REDIS_POOL_SIZE, timeout=REDIS_SOCKET_TIMEOUT_SEC, **timeouts
    )
    return Redis(connection_pool=pool)


async def close_redis(client: AsyncRedis) -> None:
    """Close ``client`` and its connections (the two kinds close differently)."""
    if isinstance(client, RedisCluster):
        await client.aclose()
    else:
        await client.aclose(close_connection_pool=True)
