"""The Redis key layout shared by the pipeline (writer) and the API (reader).

See docs/architecture.md, "Redis key layout", for the full description.
Per-snapshot keys are immutable once written; the swap to a new snapshot is one
MULTI/EXEC that points :data:`CURRENT` (and the ``hot:global`` copy) at it.

One layout for a single server and a Redis Cluster (``HOT_REDIS_CLUSTER=1``): every key
but the idempotency keys lives in the hash slot of ``hot:global``, so the swap, the readers'
MULTIs and a decision's MULTI are each single-slot. Redis hashes only the part of a name
inside its first ``{...}``: ``{hot:global}:current`` hashes like the plain name
``hot:global`` (tag and name are the same string), which thus keeps its SPEC name.
"""

from __future__ import annotations

TAG = "{hot:global}"
"""Hash tag of the keys that must share the slot of :data:`GLOBAL`."""

GLOBAL = "hot:global"
"""Sorted set of the current snapshot: member video id, score hotScore at generatedAt."""

CURRENT = f"{TAG}:current"
"""String: id of the snapshot ``hot:global`` currently holds."""

SNAPSHOTS = f"{TAG}:snapshots"
"""List of retained snapshot ids, newest first (pinned paging works for these)."""

SNAPSHOT_CHANNEL = "hot:snapshot-published"
"""Pub/sub channel; the new snapshot id is published after each swap (not a key: no slot)."""

TAKEDOWNS = f"{TAG}:takedowns"
"""Set of video ids taken down by the moderation service since they were published."""

TAKEDOWNS_VERSION = f"{TAG}:takedowns:version"
"""Counter bumped on every change of ``TAKEDOWNS`` (cheap cache validation)."""

VIDEO_STATUS = f"{TAG}:videos:status"
"""Hash video id -> moderation status as of the last batch (known catalogue)."""

EMBEDDINGS_VERSION = f"{TAG}:embeddings:version"
"""String: the LanceDB table version the API should read for personal ranking."""


def snapshot_meta(snapshot_id: str) -> str:
    """Hash with ``snapshotId``, ``generatedAt``, ``count``, ``queueCount`` and, from a pass,
    ``builtFrom`` (the input state it scored: :mod:`hot.snapshot`)."""
    return f"{TAG}:snap:{snapshot_id}:meta"


def snapshot_rank(snapshot_id: str) -> str:
    """Sorted set video id -> hotScore for one snapshot (``hot:global`` is a copy)."""
    return f"{TAG}:snap:{snapshot_id}:rank"


def snapshot_items(snapshot_id: str) -> str:
    """Hash video id -> JSON payload (title, thumbnailUrl, creator, stats)."""
    return f"{TAG}:snap:{snapshot_id}:items"


def snapshot_queue(snapshot_id: str) -> str:
    """Sorted set video id -> would-be hotScore of the moderation review queue."""
    return f"{TAG}:snap:{snapshot_id}:queue"


def snapshot_queue_items(snapshot_id: str) -> str:
    """Hash video id -> JSON payload of the review-queue items (with ``moderationStatus``)."""
    return f"{TAG}:snap:{snapshot_id}:queue_items"


def snapshot_keys(snapshot_id: str) -> list[str]:
    """Every key that belongs to one snapshot (used for expiry)."""
    return [
        snapshot_meta(snapshot_id),
        snapshot_rank(snapshot_id),
        snapshot_items(snapshot_id),
        snapshot_queue(snapshot_id),
        snapshot_queue_items(snapshot_id),
    ]


def audit_log(video_id: str) -> str:
    """List of JSON audit entries (oldest first) of moderation decisions on one video.

    In the tagged slot: a decision appends here and changes ``TAKEDOWNS`` in one MULTI.
    """
    return f"{TAG}:audit:{video_id}"


def idempotency(key: str) -> str:
    """String holding the response of a POST already recorded under this idempotency key.

    Untagged: only single-key commands touch it, so the keys spread over the cluster.
    """
    return f"hot:idem:{key}"
