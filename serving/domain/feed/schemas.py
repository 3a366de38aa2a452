"""The feed's wire format (SPEC §5) as msgspec Structs (the review queue reuses some).

Field names are the JSON names; they are the contract with clients and must never be
renamed or removed (fields may be added).
"""

from __future__ import annotations

from typing import Literal

import msgspec

FeedType = Literal["global", "personal"]


class Creator(msgspec.Struct, frozen=True):
    """The creator of a video."""

    id: str
    name: str
    avatarUrl: str


class Stats(msgspec.Struct, frozen=True):
    """Lifetime counted engagement of a video (SPEC §3)."""

    likes: int
    comments: int
    watchTimeSec: int
    shares: int


class ItemPayload(msgspec.Struct, frozen=True):
    """One item as the pipeline stores it in ``keys.snapshot_items(id)`` (no rank, no score)."""

    videoId: str
    title: str
    thumbnailUrl: str
    creator: Creator
    stats: Stats


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
