"""``/healthz`` (the process answers) and ``/readyz`` (Redis reachable, snapshot present)."""

from __future__ import annotations

import math
import time

from litestar import get
from litestar.openapi.datastructures import ResponseSpec

from serving.errors import feed_error, unavailable
from serving.feed import FeedCache, FeedError
from serving.schemas import ErrorBody, Health, Readiness


@get("/healthz", tags=["operations"])
async def healthz() -> Health:
    """Liveness: the process is up (no dependency is checked)."""
    return Health(status="ok")


@get(
    "/readyz",
    tags=["operations"],
    responses={503: ResponseSpec(ErrorBody, description="Not ready", generate_examples=False)},
)
async def readyz(feed: FeedCache) -> Readiness:
    """Readiness: Redis answers and a snapshot can be served."""
    try:
        served = await feed.current()
    except FeedError as exc:
        raise feed_error(exc) from exc
    if served.stale:
        raise unavailable("unavailable", "redis is unreachable")
    view = served.view
    age = time.time() - view.generated_epoch
    return Readiness(
        status="ready",
        snapshotId=view.snapshot_id,
        generatedAt=view.generated_at,
        ageSec=round(max(age, 0.0), 3) if math.isfinite(age) else None,
    )
