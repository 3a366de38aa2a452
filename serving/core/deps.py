"""What the core keeps in the app state (settings, the Redis client) and how it is read.

Handlers read the state directly (``settings_of``, ``redis_of``): on the hot path a
dependency injected by name costs a provider call per request, and no handler needs one.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State

from hot.settings import Settings
from serving.core.redis_client import AsyncRedis, close_redis, create_redis, resolve_redis_url

SETTINGS_STATE_KEY = "settings"
REDIS_STATE_KEY = "redis"

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]
"""One entry of ``Litestar(lifespan=[...])``: entered in order, left in reverse."""


def settings_of(state: State) -> Settings:
    """The app's settings."""
    return state[SETTINGS_STATE_KEY]


def redis_of(state: State) -> AsyncRedis:
    """The app's Redis client (only between startup and shutdown)."""
    return state[REDIS_STATE_KEY]


def redis_lifespan(settings: Settings) -> Lifespan:
    """The Redis pool (``HOT_REDIS_URL``): opened on startup, closed last."""

    @asynccontextmanager
    async def run(app: Litestar) -> AsyncIterator[None]:
        url = resolve_redis_url(settings)  # reads the setting: nothing to block on
        redis = create_redis(url, cluster=settings.redis_cluster)
        app.state[REDIS_STATE_KEY] = redis
        try:
            yield
        finally:
            await close_redis(redis)

    return run


@asynccontextmanager
async def frozen_heap(_: Litestar) -> AsyncIterator[None]:
    """Freeze the heap once every service is up (the last lifespan entry)."""
    # Everything allocated so far (modules, the app, its services) lives as long as the
    # process: keep it out of the cyclic GC, whose full collections otherwise scan it all
    # (measured 150-180 ms pauses every second under load, the whole p99).
    gc.collect()
    gc.freeze()
    yield
