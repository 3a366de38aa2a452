"""``GET /api/v1/hot``: the hot feed, and ``GET /api/v1/hot/{videoId}/explain`` (SPEC §5)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec

from serving.core.auth import Principal, authenticate
from serving.core.deps import settings_of
from serving.core.errors import ApiError
from serving.core.flags import flag_enabled
from serving.core.openapi import BEARER, INTERNAL_ERROR, error_spec
from serving.domain.feed.deps import feed_services
from serving.domain.feed.params import (
    ExplainOperation,
    HotOperation,
    parse_explain,
    parse_hot_query,
)
from serving.domain.feed.responses import feed_request_headers, page_response
from serving.domain.feed.schemas import Explanation, HotFeed


def _responses(bad_request: str, not_found: str) -> dict[int, ResponseSpec]:
    """The statuses both feed operations answer, with their own 400 and 404 reasons."""
    return {
        304: ResponseSpec(data_container=None, description="Not modified (If-None-Match)"),
        400: error_spec(bad_request),
        401: error_spec("Missing or refused bearer token (reason in `code`)"),
        404: error_spec(not_found),
        410: error_spec("`snapshot_expired`: the pinned snapshot is no longer retained"),
        503: error_spec(
            "`no_snapshot`: none published; `unavailable`: Redis cannot be reached and no "
            f"recent snapshot is held; {INTERNAL_ERROR} (with Retry-After)"
        ),
    }


def _admit(request: Request) -> tuple[Principal, str | None]:
    """The request's principal (else 401) once the flag is on (else 404 `feature_disabled`),
    and its ``If-None-Match``."""
    principal = authenticate(request)
    flags, if_none_match = feed_request_headers(request.scope["headers"])
    if not flag_enabled(flags, settings_of(request.app.state).feature_flag_default):
        raise ApiError(404, "feature_disabled", "the hot feed is not enabled")
    return principal, if_none_match


class HotController(Controller):
    """The global (and, through the reranker, personal) hot feed, and why a video is in it."""

    path = "/api/v1/hot"
    tags = ["feed"]

    @get(
        "/",
        operation_class=HotOperation,
        security=[{BEARER: []}],
        summary="The hot feed",
        responses=_responses(
            "`invalid_type`, `invalid_limit`, `invalid_offset`, `invalid_snapshot`: a bad "
            "parameter (named in `param`)",
            "`feature_disabled`: the hot_enabled flag is off",
        ),
    )
    async def get_hot(self, request: Request) -> Response[HotFeed]:
        """One page of the feed; pass `snapshot` back to page the same snapshot."""
        # Services are taken from the app state rather than as Litestar dependencies:
        # Litestar resolves two or more dependencies in an anyio task group per request,
        # which cost ~40% of this endpoint's throughput. A FeedError becomes 410/503 through
        # the feed's exception handler.
        principal, if_none_match = _admit(request)
        query = parse_hot_query(request.scope["query_string"])
        page, stale_sec = await feed_services(request.app.state).page(principal, query)
        return page_response(page, stale_sec, if_none_match)  # type: ignore[return-value]

    @get(
        "/{videoId:str}/explain",
        operation_class=ExplainOperation,
        security=[{BEARER: []}],
        summary="Why a video is hot",
        responses=_responses(
            "`invalid_video_id`: a videoId over 128 characters; `invalid_snapshot`: a "
            "`snapshot` that is not a snapshot id (named in `param`)",
            "`feature_disabled`: the hot_enabled flag is off; `not_in_feed`: the video is not "
            "in the served feed (not in the snapshot, taken down, past its creator's cap)",
        ),
    )
    async def explain(self, request: Request) -> Response[Explanation]:
        """Each signal's part of the video's `hotScore` in the served snapshot (rounded to 3
        decimals, adding up to `hotScore`), its global rank and stats; `snapshot` pins one."""
        _, if_none_match = _admit(request)  # any valid token: the answer is the same for all
        video_id = request.path_params["videoId"]
        snapshot = parse_explain(video_id, request.scope["query_string"])
        page, stale_sec = await feed_services(request.app.state).explain(video_id, snapshot)
        if page is None:
            raise ApiError(404, "not_in_feed", f"{video_id!r} is not in the served hot feed")
        return page_response(page, stale_sec, if_none_match)  # type: ignore[return-value]
