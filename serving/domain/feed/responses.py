"""The feed's HTTP face: caching headers, conditional requests and errors, shared by the feed
controller and the system endpoints that serve its pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from litestar import Request, Response
from litestar.types import ExceptionHandlersMap

from serving.core.errors import ApiError, api_error_response, unavailable
from serving.core.metrics import STALE_RESPONSES
from serving.domain.feed.services.cache import FeedError, NoSnapshot, SnapshotExpired
from serving.domain.feed.services.view import Page

CACHE_CONTROL = "private, max-age=5"
"""Per-user (Authorization) content that a new snapshot replaces every few seconds."""
STALE_CACHE_CONTROL = "private, no-cache"
VARY = "Authorization, X-Feature-Flag"
STALE_HEADERS = {"X-Hot-Stale": "1", "Warning": '110 - "Response is Stale"'}


def feed_request_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[list[str], str | None]:
    """The ``X-Feature-Flag`` values and the ``If-None-Match`` value of raw ASGI headers."""
    flags: list[str] = []
    if_none_match = None
    for name, value in headers:
        if name == b"x-feature-flag":
            flags.append(value.decode("latin-1"))
        elif name == b"if-none-match":
            if_none_match = value.decode("latin-1")
    return flags, if_none_match


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value matches ``etag`` (weak comparison, ``*``)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def page_headers(page: Page) -> dict[str, str]:
    """The headers of a fresh page."""
    return {"ETag": page.etag, "Vary": VARY, "Cache-Control": CACHE_CONTROL}


def page_response(
    page: Page, stale_sec: float | None, if_none_match: str | None
) -> Response[bytes]:
    """The page, marked stale with its age when served from memory; 304 on a matching ETag."""
    headers = page_headers(page)
    if stale_sec is not None:
        STALE_RESPONSES.inc()
        headers.update(
            STALE_HEADERS,
            **{"Cache-Control": STALE_CACHE_CONTROL, "X-Hot-Stale-Age": str(int(stale_sec))},
        )
    if etag_matches(if_none_match, page.etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(page.body, media_type="application/json", headers=headers)


def feed_error(exc: FeedError) -> ApiError:
    """The API error of a feed that cannot be served: 410 for an expired pin, else 503."""
    if isinstance(exc, SnapshotExpired):
        return ApiError(410, "snapshot_expired", str(exc), param="snapshot")
    if isinstance(exc, NoSnapshot):
        return unavailable("no_snapshot", str(exc))
    return unavailable("unavailable", str(exc))


def _feed_error_response(request: Request, exc: FeedError) -> Response[bytes]:
    return api_error_response(request, feed_error(exc))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {FeedError: _feed_error_response}
"""A :class:`FeedError` raised by any handler answers as :func:`feed_error` says."""
