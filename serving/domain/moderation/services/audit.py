"""The audit trail of moderation decisions: the append-only file ``audit_dir/decisions.jsonl``
and, per video, the list ``keys.audit_log(videoId)`` in Redis (oldest first).
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from hot import keys
from serving.core.errors import ApiError
from serving.core.redis_client import AsyncRedis, transaction
from serving.domain.moderation.schemas import MAX_VIDEO_ID, AuditTrail, Decision

AUDIT_FILE = "decisions.jsonl"

decode_decision = msgspec.json.Decoder(Decision).decode
"""An audit entry (JSON bytes) as a :class:`Decision`."""


def append_line(path: Path, line: bytes) -> None:
    """Append one line with a single ``O_APPEND`` write (atomic w.r.t. other appenders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        data = line + b"\n"
        if os.write(fd, data) != len(data):
            raise OSError(f"short write to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)


def check_video_id(value: str | None) -> str:
    """The ``videoId`` query parameter if given and at most ``MAX_VIDEO_ID`` long, else 400."""
    if not value or len(value) > MAX_VIDEO_ID:
        raise ApiError(
            400,
            "invalid_video_id",
            f"videoId is required: 1 to {MAX_VIDEO_ID} characters",
            param="videoId",
        )
    return value


async def audit_trail(redis: AsyncRedis, video_id: str) -> AuditTrail:
    """Every decision on ``video_id``, oldest first; 404 ``unknown_video`` if none/unknown."""
    pipe = await transaction(redis)
    pipe.lrange(keys.audit_log(video_id), 0, -1)
    pipe.hget(keys.VIDEO_STATUS, video_id)
    entries, batch_status = await pipe.execute()
    if not entries and batch_status is None:
        raise ApiError(404, "unknown_video", f"video {video_id!r} is not in the catalogue")
    decisions = [decode_decision(e) for e in entries]
    current = decisions[-1].status if decisions else (batch_status or b"undecided").decode()
    return AuditTrail(videoId=video_id, currentStatus=current, decisions=decisions)


async def latest_decisions(redis: AsyncRedis, video_ids: list[str]) -> list[Decision | None]:
    """The last decision recorded on each of ``video_ids`` (None where there is none)."""
    if not video_ids:
        return []
    pipe = redis.pipeline(transaction=False)
    for vid in video_ids:
        pipe.lindex(keys.audit_log(vid), -1)
    return [None if raw is None else decode_decision(raw) for raw in await pipe.execute()]
