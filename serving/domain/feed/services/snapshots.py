"""Reading one published snapshot from Redis (layout: docs/architecture.md)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime

import msgspec

from hot import keys
from serving.core.redis_client import AsyncRedis, transaction
from serving.domain.feed.schemas import ItemPayload

log = logging.getLogger("serving")
_decode_item = msgspec.json.Decoder(ItemPayload).decode


@dataclass(frozen=True, slots=True)
class Entry:
    """One video of a snapshot: its score at ``generatedAt`` and its payload."""

    video_id: str
    score: float
    payload: ItemPayload

    @property
    def creator_id(self) -> str:
        """The creator the per-creator cap counts against."""
        return self.payload.creator.id


@dataclass(frozen=True, slots=True)
class LoadedSnapshot:
    """An immutable snapshot as loaded from Redis (entries in no particular order)."""

    snapshot_id: str
    generated_at: str
    generated_epoch: float
    entries: tuple[Entry, ...]


async def load_snapshot(redis: AsyncRedis, snapshot_id: str) -> LoadedSnapshot | None:
    """The snapshot's meta, ranking and payloads read in one transaction; None if expired.

    Items whose payload is missing or malformed, or whose score is not finite, are left
    out and logged (a pipeline bug must not take the feed down).
    """
    pipe = await transaction(redis)
    pipe.hgetall(keys.snapshot_meta(snapshot_id))
    pipe.zrange(keys.snapshot_rank(snapshot_id), 0, -1, withscores=True)
    pipe.hgetall(keys.snapshot_items(snapshot_id))
    meta, ranking, payloads = await pipe.execute()
    if not meta:
        return None
    generated_at = meta.get(b"generatedAt", b"").decode()
    entries: list[Entry] = []
    bad: list[str] = []
    for member, score in ranking:
        video_id = member.decode()
        raw = payloads.get(member)
        try:
            if raw is None or not math.isfinite(score):
                raise ValueError("missing payload or non-finite score")
            payload = _decode_item(raw)
        except (ValueError, msgspec.DecodeError):
            bad.append(video_id)
            continue
        entries.append(Entry(video_id=video_id, score=float(score), payload=payload))
    if bad:
        log.warning(
            "snapshot %s: left out %d malformed items (first: %s)", snapshot_id, len(bad), bad[0]
        )
    return LoadedSnapshot(
        snapshot_id=snapshot_id,
        generated_at=generated_at,
        generated_epoch=_epoch(generated_at),
        entries=tuple(entries),
    )


def _epoch(timestamp: str) -> float:
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except ValueError:
        return math.nan
