"""The feed's wire format (SPEC §5) as msgspec Structs (the review queue reuses some).

Field names are the JSON names; they are the contract with clients and must never be
renamed or removed (fields may be added).
"""

from __future__ import annotations

from typing import Literal

import msgspec

# The stored payload's parts are the shared core's (hot.payload: one definition for the
# pipeline that writes them and the API that reads them); the responses reuse them.
from hot.payload import Contributions, Creator, ItemPayload, Stats

__all__ = [
    "MAX_VIDEO_ID",
    "Contributions",
    "Creator",
    "Explanation",
    "FeedType",
    "HotFeed",
    "HotItem",
    "ItemPayload",
    "Paging",
    "Stats",
]

FeedType = Literal["global", "personal"]
MAX_VIDEO_ID = 128
"""The longest video id (SPEC §2: ids are 1-128 characters)."""


class HotItem(msgspec.Struct, frozen=True):
    """One ranked item of the feed."""

    rank: int
    videoId: str
    title: str
    thumbnailUrl: str
    creator: Creator
    hotScore: float
    stats: Stats


class Paging(msgspec.Struct, frozen=True):
    """The page served and the size of the whole (capped) list."""

    limit: int
    offset: int
    total: int


class HotFeed(msgspec.Struct, frozen=True):
    """Response of ``GET /api/v1/hot``; ``personalized`` is present for ``type=personal`` only."""

    type: FeedType
    generatedAt: str
    snapshotId: str
    items: list[HotItem]
    paging: Paging
    personalized: bool | msgspec.UnsetType = msgspec.UNSET


class Explanation(msgspec.Struct, frozen=True):
    """Response of ``GET /api/v1/hot/{videoId}/explain``: why a video is where it is.

    ``rank`` and ``hotScore`` are the video's in the served global feed (takedowns out, the
    creator cap applied); ``contributions`` are rounded to 3 decimals so that they add up to
    ``hotScore`` exactly in thousandths (largest remainder).
    """

    videoId: str
    snapshotId: str
    generatedAt: str
    rank: int
    hotScore: float
    contributions: Contributions
    stats: Stats
