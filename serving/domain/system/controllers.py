"""Operations: ``/healthz`` (the process answers), ``/readyz`` (Redis reachable, snapshot
present), ``/metrics`` (Prometheus) and ``/bench/bare`` (the benchmark's baseline).
"""

from __future__ import annotations

import math
import time

from litestar import Response, get
from litestar.datastructures import State
from litestar.types import ControllerRouterHandler
from prometheus_client import CONTENT_TYPE_LATEST

from serving.core.metrics import SNAPSHOT_AGE, STALE_SECONDS, exposition
from serving.core.openapi import error_spec
from serving.domain.feed.deps import feed_services
from serving.domain.feed.responses import page_headers
from serving.domain.feed.services.cache import FeedCache, FeedError
from serving.domain.system.schemas import Health, Readiness

_BARE_STATE_KEY = "bench_bare"


@get("/healthz", tags=["operations"])
async def healthz() -> Health:
    """Liveness: the process is up (no dependency is checked)."""
    return Health(status="ok")


@get(
    "/readyz",
    tags=["operations"],
    responses={503: error_spec("Not ready: `unavailable` (Redis), `no_snapshot` (none published)")},
)
async def readyz(feed: FeedCache) -> Readiness:
    """Readiness: a snapshot can be served (``stale`` while it comes from memory).

    A replica serving from memory stays ready: taking every replica out of the load balancer
    because Redis is down would turn Redis trouble into an outage (SPEC §5). The stale age
    and its reason tell operators; past the stale window the answer is 503.
    """
    served = await feed.current()
    view = served.view
    age = time.time() - view.generated_epoch
    return Readiness(
        status="stale" if served.stale else "ready",
        snapshotId=view.snapshot_id,
        generatedAt=view.generated_at,
        ageSec=round(max(age, 0.0), 3) if math.isfinite(age) else None,
        staleSec=round(served.stale_sec, 3),
        staleReason=served.reason or None,
    )


@get("/metrics", media_type=CONTENT_TYPE_LATEST, tags=["operations"])
async def metrics_endpoint(state: State) -> Response[bytes]:
    """Prometheus exposition (all workers' samples in multiprocess mode)."""
    feed = feed_services(state).feed
    try:
        STALE_SECONDS.set((await feed.current()).stale_sec)
    except FeedError:
        STALE_SECONDS.set(math.inf if feed.last_current is not None else 0.0)
    view = feed.last_current
    if view is not None and math.isfinite(view.generated_epoch):
        SNAPSHOT_AGE.set(max(time.time() - view.generated_epoch, 0.0))
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


@get("/bench/bare", include_in_schema=False)
async def bench_bare(state: State) -> Response[bytes]:
    """The bytes of the first global page (limit 20) as captured on first call.

    The baseline bench/api.py compares ``GET /api/v1/hot`` with: same app, same middleware,
    same body and headers, but no auth, flag, Redis round trip or paging.
    """
    cached = state.get(_BARE_STATE_KEY)
    if cached is None:
        page = (await feed_services(state).feed.current()).view.page("global", 20, 0)
        cached = state[_BARE_STATE_KEY] = (page.body, page_headers(page))
    return Response(cached[0], media_type="application/json", headers=cached[1])


SYSTEM_HANDLERS: list[ControllerRouterHandler] = [healthz, readyz, metrics_endpoint]
"""Always mounted."""
BENCH_HANDLERS: list[ControllerRouterHandler] = [bench_bare]
"""Mounted only with ``HOT_BENCH_ENDPOINTS=1``."""
