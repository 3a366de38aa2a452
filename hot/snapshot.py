"""Writing a hot-feed snapshot to Redis atomically, and expiring old ones."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hot import keys
from hot.payload import ItemPayload, encode
from hot.redis_client import SyncPipeline, SyncRedis

_CHUNK = 500
SNAPSHOT_ID = re.compile(r"[0-9]{8}T[0-9]{6}-[0-9a-f]{6}")
"""The form of every id :func:`new_snapshot_id` makes (the API rejects any other as 400)."""


@dataclass(frozen=True)
class SnapshotItem:
    """One ranked video: its id, score at ``generatedAt`` and the API payload (a feed item's
    payload also holds ``contributions``, the score's per-signal parts: docs/architecture.md).

    ``payload`` is an :class:`~hot.payload.ItemPayload` (a queue item's a ``QueuePayload``);
    a mapping of the same JSON shape is written as is (a test republishing what it read)."""

    video_id: str
    score: float
    payload: ItemPayload | Mapping[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """A complete snapshot as the pipeline publishes it."""

    snapshot_id: str
    generated_at: datetime
    items: list[SnapshotItem]
    queue: list[SnapshotItem] = field(default_factory=list)
    video_status: Mapping[str, str] = field(default_factory=dict)
    built_from: str = ""
    """What the scores were computed from (the pipeline's input state: ledger watermark and
    scoring settings), kept in the meta as ``builtFrom``; empty when unknown (a republish).
    A pass that finds its input state equal to the current snapshot's has nothing to do."""


def format_timestamp(ts: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` suffix and whole seconds unless sub-second precision matters."""
    ts = ts.astimezone(UTC)
    if ts.microsecond:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_snapshot_id(generated_at: datetime) -> str:
    """A sortable, unique snapshot id: UTC time of generation plus a short random tail."""
    stamp = generated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def _chunks(pairs: Iterable[tuple[str, Any]]) -> Iterable[dict[str, Any]]:
    chunk: dict[str, Any] = {}
    for key, value in pairs:
        chunk[key] = value
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = {}
    if chunk:
        yield chunk


def _write_ranked(pipe: SyncPipeline, zkey: str, hkey: str, items: list[SnapshotItem]) -> None:
    for chunk in _chunks((i.video_id, i.score) for i in items):
        pipe.zadd(zkey, chunk)
    for chunk in _chunks((i.video_id, encode(i.payload)) for i in items):
        pipe.hset(hkey, mapping=chunk)


def publish_snapshot(client: SyncRedis, snapshot: Snapshot, retain: int = 5) -> list[str]:
    """Write ``snapshot`` under new keys, swap it in atomically, expire old snapshots.

    Returns the ids of the snapshots that were expired. Readers never see a mix of two
    snapshots: per-snapshot keys are complete before the one MULTI/EXEC that makes
    ``keys.CURRENT`` and ``hot:global`` point at the new one. All those keys share the slot
    of ``hot:global`` (:mod:`hot.keys`), so the swap is one transaction on a cluster too.
    """
    sid = snapshot.snapshot_id
    meta = {
        "snapshotId": sid,
        "generatedAt": format_timestamp(snapshot.generated_at),
        "count": len(snapshot.items),
        "queueCount": len(snapshot.queue),
    }
    if snapshot.built_from:
        meta["builtFrom"] = snapshot.built_from
    build = client.pipeline(transaction=False)
    for key in keys.snapshot_keys(sid):  # one DEL each: a cluster pipeline has no multi-key DEL
        build.delete(key)
    _write_ranked(build, keys.snapshot_rank(sid), keys.snapshot_items(sid), snapshot.items)
    _write_ranked(build, keys.snapshot_queue(sid), keys.snapshot_queue_items(sid), snapshot.queue)
    for chunk in _chunks(snapshot.video_status.items()):
        build.hset(keys.VIDEO_STATUS, mapping=chunk)
    build.hset(keys.snapshot_meta(sid), mapping=meta)
    build.execute()

    swap = client.pipeline(transaction=True)
    if snapshot.items:
        swap.copy(keys.snapshot_rank(sid), keys.GLOBAL, replace=True)
    else:
        swap.delete(keys.GLOBAL)
    swap.set(keys.CURRENT, sid)
    swap.lrem(keys.SNAPSHOTS, 0, sid)
    swap.lpush(keys.SNAPSHOTS, sid)
    swap.lrange(keys.SNAPSHOTS, retain, -1)
    swap.ltrim(keys.SNAPSHOTS, 0, retain - 1)
    results = swap.execute()
    expired = [s.decode() if isinstance(s, bytes) else s for s in results[-2]]
    if expired:
        client.delete(*[k for old in expired for k in keys.snapshot_keys(old)])
    _forget_applied_takedowns(client, snapshot.video_status)
    client.publish(keys.SNAPSHOT_CHANNEL, sid)
    return expired


def current_meta(client: SyncRedis) -> dict[str, str] | None:
    """The current snapshot's meta (``snapshotId``, ``generatedAt``, ``count``, ``builtFrom``
    ...), or ``None`` when Redis holds no servable current snapshot (its id, its meta or a
    non-empty ``hot:global`` lost)."""
    sid = client.get(keys.CURRENT)
    if sid is None:
        return None
    meta = {
        k.decode(): v.decode() for k, v in client.hgetall(keys.snapshot_meta(sid.decode())).items()
    }
    if not meta or (int(meta.get("count", 0)) > 0 and not client.exists(keys.GLOBAL)):
        return None
    return meta


def _forget_applied_takedowns(client: SyncRedis, video_status: Mapping[str, str]) -> None:
    """Drop serve-time takedowns the batch now reflects (the video is no longer approved).

    A takedown made after the batch's moderation input stays in the set, so it keeps
    filtering until a later batch catches up with it.
    """
    members = [m.decode() for m in client.smembers(keys.TAKEDOWNS)]
    applied = [v for v in members if video_status.get(v) in {"removed", "restricted"}]
    if applied:
        pipe = client.pipeline(transaction=True)
        pipe.srem(keys.TAKEDOWNS, *applied)
        pipe.incr(keys.TAKEDOWNS_VERSION)
        pipe.execute()
