"""``/bench/bare``: the bytes of the first feed page, straight from memory (HOT_BENCH_ENDPOINTS).

The baseline bench/api.py compares ``GET /api/v1/hot`` with: same app, same middleware,
same body and headers, but no auth, flag, Redis round trip or paging.
"""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from serving.controllers.hot import CACHE_CONTROL, VARY
from serving.deps import services
from serving.errors import feed_error
from serving.feed import FeedError

_BODY_STATE_KEY = "bench_bare"


@get("/bench/bare", include_in_schema=False)
async def bench_bare(state: State) -> Response[bytes]:
    """The first global page (limit 20) as captured on first call."""
    cached = state.get(_BODY_STATE_KEY)
    if cached is None:
        try:
            served = await services(state).feed.current()
        except FeedError as exc:
            raise feed_error(exc) from exc
        page = served.view.page("global", 20, 0)
        headers = {"ETag": page.etag, "Vary": VARY, "Cache-Control": CACHE_CONTROL}
        cached = state[_BODY_STATE_KEY] = (page.body, headers)
    return Response(cached[0], media_type="application/json", headers=cached[1])
