"""The feed's services in the app state (created on startup, closed on shutdown) and their
provider: handlers get ``feed`` (the snapshot cache) by parameter name (``/readyz``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from hot.settings import Settings
from serving.core.deps import Lifespan, redis_of
from serving.domain.feed.services.cache import FeedCache
from serving.domain.feed.services.pages import FeedServices
from serving.domain.feed.services.reranking import Reranker

FEED_STATE_KEY = "feed"


def feed_services(state: State) -> FeedServices:
    """The running app's feed services (only between startup and shutdown)."""
    return state[FEED_STATE_KEY]


def feed_lifespan(settings: Settings, reranker: Reranker) -> Lifespan:
    """The feed cache over the app's Redis client (enter after the core's Redis lifespan)."""

    @asynccontextmanager
    async def run(app: Litestar) -> AsyncIterator[None]:
        feed = FeedCache(
            redis_of(app.state),
            creator_cap=settings.creator_cap,
            stale_serve_sec=settings.stale_serve_sec,
            retain=settings.snapshots_retained,
        )
        app.state[FEED_STATE_KEY] = FeedServices(feed=feed, reranker=reranker)
        try:
            yield
        finally:
            await feed.close()

    return run


def _feed(state: State) -> FeedCache:
    return feed_services(state).feed


DEPENDENCIES = {
    "feed": Provide(_feed, sync_to_thread=False),
}
"""The feed's app-level dependencies."""
