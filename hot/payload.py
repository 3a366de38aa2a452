"""The snapshot payloads: what the pipeline stores per video in Redis and the API reads back.

One msgspec definition shared by the writer (:mod:`hot.feed_rows`, the publish asset) and the
reader (the API's snapshot and review-queue loaders), so the two cannot drift apart. Field
names are the JSON names (SPEC §5, §6): the contract with clients, never renamed or removed
(fields may be added). Layout of the keys that hold them: docs/architecture.md.
"""

from __future__ import annotations

from typing import Literal

import msgspec


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


class Contributions(msgspec.Struct, frozen=True):
    """Each signal's decayed, weighted part of a hot score (SPEC §5 explain)."""

    likes: float
    comments: float
    watch: float
    shares: float


class ItemPayload(msgspec.Struct, frozen=True):
    """One item as the pipeline stores it in ``keys.snapshot_items(id)`` (no rank, no score).

    ``contributions``: the score's per-signal parts at ``generatedAt``, unrounded. Feed items
    carry them; a review-queue item leaves them unset, and unset fields are not written, so
    its JSON has no ``contributions`` key (None: a snapshot that wrote them as null).
    """

    videoId: str
    title: str
    thumbnailUrl: str
    creator: Creator
    stats: Stats
    contributions: Contributions | msgspec.UnsetType | None = msgspec.UNSET


QueueReason = Literal["coordinated_engagement", "would_trend"]
"""Why a video is in the review queue: a ring holds it (SPEC §3b), or it is undecided /
``pending_review`` and would rank in the top N if approved."""


class Ring(msgspec.Struct, frozen=True):
    """The ring that holds a video (SPEC §3b): how many single-purpose accounts, up to 50 of
    them (by id), and the span of event time in which they liked or shared it."""

    accounts: int
    sampleAccounts: list[str]
    windowStart: str
    windowEnd: str


class QueuePayload(ItemPayload, frozen=True):
    """One review-queue item as the pipeline stores it in ``keys.snapshot_queue_items(id)``
    (``ring`` is written as null for a video no ring holds)."""

    moderationStatus: str = "undecided"
    reason: QueueReason = "would_trend"
    ring: Ring | None = None


encode = msgspec.json.Encoder().encode
"""A payload (or a plain mapping of the same shape) as the JSON bytes stored in Redis."""
