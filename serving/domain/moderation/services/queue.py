"""The moderation review queue: what the pipeline published beside the feed, minus news.

The pipeline writes, per snapshot, ``keys.snapshot_queue(id)`` (video id → the hotScore it
would have if approved) and ``queue_items`` (payloads with ``moderationStatus``, the
``reason`` and, for a video a ring holds, the ``ring``). Videos decided after the snapshot was
generated (latest audit entry newer than ``generatedAt``, and not a mere ``pending_review``)
are left out, so a moderator does not review a video twice.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from hot import keys
from hot.payload import QueuePayload
from serving.core.errors import ApiError, unavailable
from serving.core.redis_client import AsyncRedis, transaction
from serving.domain.feed.params import HotQuery
from serving.domain.feed.schemas import Paging
from serving.domain.moderation.schemas import QueueItem, ReviewQueue
from serving.domain.moderation.services.audit import latest_decisions

_decode_payload = msgspec.json.Decoder(QueuePayload).decode


def _instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


async def _snapshot_id(redis: AsyncRedis, pinned: str | None) -> str:
    if pinned is not None:
        return pinned
    current = await redis.get(keys.CURRENT)
    if current is None:
        raise unavailable("no_snapshot", "no snapshot has been published yet")
    return current.decode() if isinstance(current, bytes) else current


async def review_queue(redis: AsyncRedis, query: HotQuery) -> ReviewQueue:
    """One page of the queue of the current (or the pinned ``query.snapshot``) snapshot."""
    snapshot_id = await _snapshot_id(redis, query.snapshot)
    pipe = await transaction(redis)
    pipe.hget(keys.snapshot_meta(snapshot_id), "generatedAt")
    pipe.zrange(keys.snapshot_queue(snapshot_id), 0, -1, withscores=True)
    generated_at, ranked = await pipe.execute()
    if generated_at is None:
        if query.snapshot is not None:
            raise ApiError(
                410,
                "snapshot_expired",
                f"snapshot {snapshot_id} is no longer retained",
                param="snapshot",
            )
        raise unavailable("no_snapshot", "the current snapshot cannot be read")
    generated = generated_at.decode()
    candidates = sorted(((m.decode(), s) for m, s in ranked), key=lambda p: (-p[1], p[0]))
    open_ids = await _still_open(redis, [vid for vid, _ in candidates], _instant(generated))
    queue = [(vid, score) for vid, score in candidates if vid in open_ids]
    window = queue[query.offset : query.offset + query.limit]
    items: list[QueueItem] = []
    if window:
        raw = await redis.hmget(keys.snapshot_queue_items(snapshot_id), [v for v, _ in window])
        for position, ((vid, score), payload) in enumerate(zip(window, raw, strict=True)):
            if payload is None:
                continue
            item = _decode_payload(payload)
            items.append(
                QueueItem(
                    rank=query.offset + position + 1,
                    videoId=vid,
                    title=item.title,
                    thumbnailUrl=item.thumbnailUrl,
                    creator=item.creator,
                    hotScore=round(score, 3),
                    stats=item.stats,
                    moderationStatus=item.moderationStatus,
                    reason=item.reason,
                    ring=item.ring,
                )
            )
    return ReviewQueue(
        snapshotId=snapshot_id,
        generatedAt=generated,
        items=items,
        paging=Paging(limit=query.limit, offset=query.offset, total=len(queue)),
    )


async def _still_open(redis: AsyncRedis, video_ids: list[str], since: datetime) -> set[str]:
    """The videos not decided (other than ``pending_review``) after ``since``."""
    latest = await latest_decisions(redis, video_ids)
    return {
        vid
        for vid, decision in zip(video_ids, latest, strict=True)
        if decision is None
        or decision.status == "pending_review"
        or _instant(decision.decidedAt) <= since
    }
