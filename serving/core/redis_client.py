"""Which Redis the API (and the CLI) talks to, and the asyncio client the API uses."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hot.local.redis_server import EmbeddedRedis, ensure_local_redis
from hot.settings import Settings

REDIS_SOCKET_TIMEOUT_SEC = 0.5
REDIS_POOL_SIZE = 32

_owned: list[EmbeddedRedis] = []


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


def create_redis(url: str) -> Redis:
    """An asyncio client with a bounded pool and short timeouts: a call never hangs."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_POOL_SIZE,
        timeout=REDIS_SOCKET_TIMEOUT_SEC,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SEC,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT_SEC,
        retry=Retry(NoBackoff(), 1),
    )
    return Redis(connection_pool=pool)
