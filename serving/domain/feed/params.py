"""Query parameters of ``GET /api/v1/hot``, parsed strictly (400 naming the bad one), and
their OpenAPI description (parsed by hand, so documented by hand).

The moderation queue pages snapshots with the same parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs

from litestar.openapi.spec import OpenAPIType, Operation, Parameter, Schema

from hot.snapshot import SNAPSHOT_ID
from serving.core.errors import ApiError
from serving.core.openapi import documented_operation
from serving.domain.feed.schemas import MAX_VIDEO_ID, FeedType

MAX_LIMIT = 100
MAX_OFFSET = 9_999
DEFAULT_LIMIT = 20
_DIGITS = re.compile(r"[0-9]{1,9}")
_TYPES: tuple[FeedType, ...] = ("global", "personal")


@dataclass(frozen=True, slots=True)
class HotQuery:
    """The validated parameters of one feed request."""

    type: FeedType = "global"
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    snapshot: str | None = None


def _bad(param: str, message: str) -> ApiError:
    return ApiError(400, f"invalid_{param}", message, param=param)


def _single(values: dict[str, list[str]], param: str) -> str | None:
    given = values.get(param)
    if given is None:
        return None
    if len(given) > 1:
        raise _bad(param, f"{param} must be given at most once")
    return given[0]


def _integer(values: dict[str, list[str]], param: str, low: int, high: int, default: int) -> int:
    raw = _single(values, param)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise _bad(param, f"{param} must be an integer from {low} to {high}")
    return int(raw)


@lru_cache(maxsize=4096)
def parse_hot_query(query_string: bytes) -> HotQuery:
    """Parse and validate ``type``, ``limit`` (1-100), ``offset`` (0-9999), ``snapshot``.

    Repeated, empty, non-numeric, signed or out-of-range values raise :class:`ApiError`
    400 with code ``invalid_<param>`` and ``param``; unknown parameters are ignored.
    Valid query strings are memoised (clients repeat the same few pages).
    """
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
    feed_type = _single(values, "type")
    if feed_type is None:
        feed_type = "global"
    elif feed_type not in _TYPES:
        raise _bad("type", "type must be 'global' or 'personal'")
    return HotQuery(
        type=feed_type,  # type: ignore[arg-type]
        limit=_integer(values, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT),
        offset=_integer(values, "offset", 0, MAX_OFFSET, 0),
        snapshot=_snapshot(values),
    )


def _snapshot(values: dict[str, list[str]]) -> str | None:
    snapshot = _single(values, "snapshot")
    if snapshot is not None and not SNAPSHOT_ID.fullmatch(snapshot):
        raise _bad("snapshot", "snapshot must be a snapshotId returned by this API")
    return snapshot


def parse_explain(video_id: str, query_string: bytes) -> str | None:
    """Validate the explain path's ``videoId`` (1-``MAX_VIDEO_ID`` characters: 400
    ``invalid_video_id`` otherwise) and return its optional ``snapshot`` pin (400
    ``invalid_snapshot`` as on the feed); other parameters are ignored."""
    if not 0 < len(video_id) <= MAX_VIDEO_ID:
        raise ApiError(
            400,
            "invalid_video_id",
            f"videoId must be 1 to {MAX_VIDEO_ID} characters",
            param="videoId",
        )
    return _snapshot(parse_qs(query_string.decode("latin-1"), keep_blank_values=True))


SNAPSHOT_PARAMETER = Parameter(
    name="snapshot",
    param_in="query",
    description="A `snapshotId` from an earlier response: keep to that snapshot "
    "(410 `snapshot_expired` once it is no longer retained; 400 `invalid_snapshot` for a "
    "string that is not a snapshot id).",
    schema=Schema(type=OpenAPIType.STRING, pattern=f"^{SNAPSHOT_ID.pattern}$"),
)
FLAG_PARAMETER = Parameter(
    name="X-Feature-Flag",
    param_in="header",
    description="Comma-separated `name=value` flags; `hot_enabled=1` enables the feed "
    "(absent: the server default).",
    schema=Schema(type=OpenAPIType.STRING),
)
IF_NONE_MATCH_PARAMETER = Parameter(
    name="If-None-Match",
    param_in="header",
    description="An `ETag` of an earlier answer: 304 while it is unchanged.",
    schema=Schema(type=OpenAPIType.STRING),
)

HOT_PARAMETERS: list[Parameter] = [
    Parameter(
        name="type",
        param_in="query",
        description="`global`, or `personal` (re-ranked for the token's `sub`).",
        schema=Schema(type=OpenAPIType.STRING, enum=["global", "personal"], default="global"),
    ),
    Parameter(
        name="limit",
        param_in="query",
        description="Page size.",
        schema=Schema(
            type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT
        ),
    ),
    Parameter(
        name="offset",
        param_in="query",
        description="Position of the first item in the capped list.",
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_OFFSET, default=0),
    ),
    SNAPSHOT_PARAMETER,
    FLAG_PARAMETER,
    IF_NONE_MATCH_PARAMETER,
]

HotOperation = documented_operation(parameters=HOT_PARAMETERS)
"""The feed operation: its parameters are parsed by hand (``parse_hot_query``)."""

VIDEO_ID_PATH = Parameter(
    name="videoId",
    param_in="path",
    required=True,
    description="The video to explain (400 `invalid_video_id` past 128 characters).",
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_VIDEO_ID),
)


@dataclass
class ExplainOperation(Operation):
    """The explain operation: ``videoId`` (a path parameter, which Litestar documents as a bare
    string) and ``snapshot`` are checked by hand (``parse_explain``), so documented here."""

    def __post_init__(self) -> None:
        others = [
            p for p in self.parameters or [] if not isinstance(p, Parameter) or p.name != "videoId"
        ]
        self.parameters = [
            VIDEO_ID_PATH,
            *others,
            SNAPSHOT_PARAMETER,
            FLAG_PARAMETER,
            IF_NONE_MATCH_PARAMETER,
        ]
