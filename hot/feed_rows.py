"""Turning mart rows into snapshot items (the API's per-item payload, :mod:`hot.payload`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hot.payload import Contributions, Creator, ItemPayload, QueuePayload, Ring, Stats
from hot.snapshot import SnapshotItem, format_timestamp

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


QUEUE_COLUMNS = (
    "moderation_status",
    "queue_reason",
    "ring_accounts",
    "ring_accounts_sample",
    "ring_window_start",
    "ring_window_end",
)
"""What a review-queue row brings after ``FEED_COLUMNS`` (fct_review_queue)."""


def item_payload(row: Sequence[Any], parts: Sequence[Any] | None = None) -> ItemPayload:
    """What the API serves for one video (rank and hotScore are added at serve time), from a
    row of ``FEED_COLUMNS``; ``parts`` (``PART_COLUMNS``) become its ``contributions``."""
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
    return ItemPayload(
        videoId=video_id,
        title=title or video_id,
        thumbnailUrl=thumb or thumbnail_fallback(video_id),
        creator=Creator(
            id=creator_id,
            name=creator_name or creator_id,
            avatarUrl=avatar or avatar_fallback(creator_id),
        ),
        stats=Stats(
            likes=int(likes or 0),
            comments=int(comments or 0),
            watchTimeSec=round(watch or 0),
            shares=int(shares or 0),
        ),
        **({} if parts is None else {"contributions": contributions(parts)}),
    )


def contributions(parts: Sequence[Any]) -> Contributions:
    """The ``contributions`` of an item's payload: each signal's part of its score at
    ``generatedAt``, unrounded (the API rounds them so they add up to the served hotScore)."""
    # By name, with the lengths checked: the signals' order is not the struct's to assume.
    return Contributions(
        **{signal: float(part or 0.0) for signal, part in zip(SIGNALS, parts, strict=True)}
    )


def to_items(rows: Sequence[Sequence[Any]], *, parts: bool = False) -> list[SnapshotItem]:
    """Snapshot items from rows of ``FEED_COLUMNS`` (+ ``PART_COLUMNS`` with ``parts``, as the
    payload's ``contributions``)."""
    width = len(FEED_COLUMNS)
    return [
        SnapshotItem(
            video_id=row[0],
            score=float(row[1]),
            payload=item_payload(row, row[width : width + len(PART_COLUMNS)] if parts else None),
        )
        for row in rows
    ]


def _ring(accounts: Any, sample: str, start: datetime, end: datetime) -> Ring | None:
    """The ring that holds a video (SPEC §3b), or None; window bounds are naive UTC."""
    if accounts is None:
        return None
    return Ring(
        accounts=int(accounts),
        sampleAccounts=json.loads(sample),
        windowStart=format_timestamp(start.replace(tzinfo=UTC)),
        windowEnd=format_timestamp(end.replace(tzinfo=UTC)),
    )


def queue_items(rows: Sequence[Sequence[Any]]) -> list[SnapshotItem]:
    """Review-queue rows (``FEED_COLUMNS``, ``QUEUE_COLUMNS``) as snapshot items whose payload
    carries the status, the reason and, for a video a ring holds (SPEC §3b), the ring."""
    width = len(FEED_COLUMNS)
    items = []
    for row in rows:
        status, reason, accounts, sample, start, end = row[width : width + len(QUEUE_COLUMNS)]
        base = item_payload(row)
        payload = QueuePayload(
            videoId=base.videoId,
            title=base.title,
            thumbnailUrl=base.thumbnailUrl,
            creator=base.creator,
            stats=base.stats,
            moderationStatus=status,
            reason=reason,
            ring=_ring(accounts, sample, start, end),
        )
        items.append(SnapshotItem(video_id=row[0], score=float(row[1]), payload=payload))
    return items
