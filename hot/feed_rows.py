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


def to_items(rows: Sequence[Sequence[Any]], extra: str | None = None) -> list[SnapshotItem]:
    """Snapshot items from rows of ``FEED_COLUMNS`` (+ one optional extra payload field)."""
    items = []
    for row in rows:
        payload = item_payload(row)
        if extra is not None:
            payload[extra] = row[len(FEED_COLUMNS)]
        items.append(SnapshotItem(video_id=row[0], score=float(row[1]), payload=payload))
    return items
