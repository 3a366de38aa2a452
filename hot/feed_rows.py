"""Turning mart rows into snapshot items (the API's per-item payload)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hot.snapshot import SnapshotItem

FEED_COLUMNS = (
    "video_id",
    "hot_score",
    "title",
    "thumbnail_url",
    "creator_id",
    "creator_name",
    "avatar_url",
    "likes",
    "comments",
    "watch_time_sec",
    "shares",
)
SIGNALS = ("likes", "comments", "watch", "shares")
"""The signals a hot score is made of, in the order of the explain endpoint's parts."""
PART_COLUMNS = tuple(f"{signal}_part" for signal in SIGNALS)
"""fct_hot_feed's per-signal parts of ``hot_score`` (they add up to it), in ``SIGNALS`` order."""


def thumbnail_fallback(video_id: str) -> str:
    """Locally generated thumbnail for a video whose catalogue row has none."""
    return f"/media/thumbnails/{video_id}.svg"


def avatar_fallback(creator_id: str) -> str:
    """Locally generated avatar for a creator with none (or not yet in the catalogue)."""
    return f"/media/avatars/{creator_id}.svg"


def item_payload(row: Sequence[Any]) -> dict[str, Any]:
    """The JSON the API serves for one video (rank and hotScore are added at serve time)."""
    (
        video_id,
        _score,
        title,
        thumb,
        creator_id,
        creator_name,
        avatar,
        likes,
        comments,
        watch,
        shares,
    ) = row[: len(FEED_COLUMNS)]
    return {
        "videoId": video_id,
        "title": title or video_id,
        "thumbnailUrl": thumb or thumbnail_fallback(video_id),
        "creator": {
            "id": creator_id,
            "name": creator_name or creator_id,
            "avatarUrl": avatar or avatar_fallback(creator_id),
        },
        "stats": {
            "likes": int(likes or 0),
            "comments": int(comments or 0),
            "watchTimeSec": round(watch or 0),
            "shares": int(shares or 0),
        },
    }


def contributions(parts: Sequence[Any]) -> dict[str, float]:
    """The ``contributions`` of an item's payload: each signal's part of its score at
    ``generatedAt``, unrounded (the API rounds them so they add up to the served hotScore)."""
    return {signal: float(part or 0.0) for signal, part in zip(SIGNALS, parts, strict=True)}


def to_items(
    rows: Sequence[Sequence[Any]], extra: str | None = None, *, parts: bool = False
) -> list[SnapshotItem]:
    """Snapshot items from rows of ``FEED_COLUMNS`` (+ ``PART_COLUMNS`` with ``parts``, as the
    payload's ``contributions``) (+ one optional extra payload field)."""
    items = []
    for row in rows:
        payload = item_payload(row)
        rest = row[len(FEED_COLUMNS) :]
        if parts:
            payload["contributions"] = contributions(rest[: len(PART_COLUMNS)])
            rest = rest[len(PART_COLUMNS) :]
        if extra is not None:
            payload[extra] = rest[0]
        items.append(SnapshotItem(video_id=row[0], score=float(row[1]), payload=payload))
    return items
