"""``GET /api/v1/hot``: the hot feed (SPEC §5)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from hot.settings import Settings
from serving.auth import authenticate
from serving.deps import SETTINGS_STATE_KEY, services
from serving.errors import ApiError, feed_error
from serving.feed import FeedError
from serving.flags import flag_enabled
from serving.metrics import STALE_RESPONSES
from serving.openapi import BEARER, HotOperation
from serving.params import parse_hot_query
from serving.schemas import ErrorBody, HotFeed

CACHE_CONTROL = "private, max-age=5"
"""Per-user (Authorization) content that a new snapshot replaces every few seconds."""
STALE_CACHE_CONTROL = "private, no-cache"
VARY = "Authorization, X-Feature-Flag"
STALE_HEADERS = {"X-Hot-Stale": "1", "Warning": '110 - "Response is Stale"'}


def _error(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value matches ``etag`` (weak comparison, ``*``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


class HotController(Controller):
    """The global (and, through the reranker, personal) hot feed."""

    path = "/api/v1/hot"
    tags = ["feed"]

    @get(
        "/",
        operation_class=HotOperation,
        security=[{BEARER: []}],
        summary="The hot feed",
        responses={
            304: ResponseSpec(data_container=None, description="Not modified (If-None-Match)"),
            400: _error("A bad parameter (`invalid_type|limit|offset|snapshot`, with `param`)"),
            401: _error("Missing or refused bearer token (reason in `code`)"),
            404: _error("`feature_disabled`: the hot_enabled flag is off"),
            410: _error("`snapshot_expired`: the pinned snapshot is no longer retained"),
            503: _error("`no_snapshot` / `unavailable` (with Retry-After)"),
        },
    )
    async def get_hot(self, request: Request) -> Response[HotFeed]:
        """One page of the feed; pass `snapshot` back to page the same snapshot."""
        # Services are taken from the app state rather than as Litestar dependencies:
        # Litestar resolves two or more dependencies in an anyio task group per request,
        # which cost ~40% of this endpoint's throughput.
        principal = authenticate(request)
        state = request.app.state
        settings: Settings = state[SETTINGS_STATE_KEY]
        app_services = services(state)
        flags: list[str] = []
        if_none_match = None
        for name, value in request.scope["headers"]:
            if name == b"x-feature-flag":
                flags.append(value.decode("latin-1"))
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        if not flag_enabled(flags, settings.feature_flag_default):
            raise ApiError(404, "feature_disabled", "the hot feed is not enabled")
        query = parse_hot_query(request.scope["query_string"])
        try:
            feed = app_services.feed
            served = await (feed.pinned(query.snapshot) if query.snapshot else feed.current())
        except FeedError as exc:
            raise feed_error(exc) from exc
        if query.type == "personal":
            ranking = await app_services.reranker.rerank(principal, served.view)
            page = served.view.page("personal", query.limit, query.offset, ranking)
        else:
            page = served.view.page("global", query.limit, query.offset)
        headers = {"ETag": page.etag, "Vary": VARY, "Cache-Control": CACHE_CONTROL}
        if served.stale:
            STALE_RESPONSES.inc()
            headers.update(STALE_HEADERS, **{"Cache-Control": STALE_CACHE_CONTROL})
        if etag_matches(if_none_match, page.etag):
            return Response(b"", status_code=304, headers=headers)
        return Response(page.body, media_type="application/json", headers=headers)
