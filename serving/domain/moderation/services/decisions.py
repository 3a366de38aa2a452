"""Moderation decisions (SPEC §6): validate, record and apply them.

A decision is written, in this order, to

1. the append-only audit log ``audit_dir/decisions.jsonl`` (one ``O_APPEND`` write per line,
   so several workers can share it),
2. a moderation landing file (``{video_id, status, decided_at, reason}``, atomic rename into
   ``landing/moderation/``, named by time) that the next batch ingests, and
3. Redis in one MULTI/EXEC: the entry on ``keys.audit_log(videoId)`` and, for a takedown,
   the video in ``keys.TAKEDOWNS`` (+ ``keys.TAKEDOWNS_VERSION``), so the served feed drops it
   at the very next request; ``approved`` lifts a serve-time takedown. The three keys share
   the slot of ``hot:global``, so this is one transaction on a Redis Cluster too.

Retries are made safe by ``Idempotency-Key`` (see :meth:`Moderation.decide`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from hot import keys
from hot.landing import format_ts, write_atomic
from hot.settings import Settings
from serving.core.errors import ApiError, unavailable
from serving.core.redis_client import REDIS_ERRORS, AsyncRedis, transaction
from serving.domain.moderation.schemas import (
    MAX_IDEMPOTENCY_KEY,
    MAX_REASON,
    MAX_VIDEO_ID,
    STATUSES,
    Decision,
    DecisionIn,
)
from serving.domain.moderation.services.audit import AUDIT_FILE, append_line, decode_decision

TAKEDOWN_STATUSES = frozenset({"removed", "restricted"})
IDEMPOTENCY_TTL_SEC = 24 * 3600
CLAIM_TTL_SEC = 60
"""A claim not completed within this time (the worker died mid-request) frees the key."""


class _Stored(msgspec.Struct, frozen=True):
    fingerprint: str
    decision: Decision | None = None


_decode_in = msgspec.json.Decoder(DecisionIn).decode
_decode_stored = msgspec.json.Decoder(_Stored).decode
_encode = msgspec.json.encode


def _bad_body(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_body", message, param=param)


def parse_decision(body: bytes) -> DecisionIn:
    """The validated body: 400 ``invalid_body``, ``invalid_status`` or ``invalid_reason``."""
    try:
        decision = _decode_in(body)
    except msgspec.ValidationError as exc:
        raise _bad_body(f"the body does not match {{videoId, status, reason}}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise _bad_body("the body must be a JSON object {videoId, status, reason}") from exc
    if not 0 < len(decision.videoId) <= MAX_VIDEO_ID:
        raise _bad_body(f"videoId must be 1 to {MAX_VIDEO_ID} characters", "videoId")
    if decision.status not in STATUSES:
        raise ApiError(
            400, "invalid_status", f"status must be one of {', '.join(STATUSES)}", param="status"
        )
    reason = decision.reason.strip()
    if not 0 < len(reason) <= MAX_REASON:
        raise ApiError(
            400, "invalid_reason", f"reason must be 1 to {MAX_REASON} characters", param="reason"
        )
    return DecisionIn(videoId=decision.videoId, status=decision.status, reason=reason)


def check_idempotency_key(value: str | None) -> str | None:
    """The ``Idempotency-Key`` header if well formed (visible ASCII, ≤ 200), else 400."""
    if value is None:
        return None
    if not 0 < len(value) <= MAX_IDEMPOTENCY_KEY or not all(33 <= ord(c) < 127 for c in value):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters",
            param="Idempotency-Key",
        )
    return value


@dataclass(frozen=True, slots=True)
class Outcome:
    """The decision recorded (or recorded earlier under the same idempotency key)."""

    decision: Decision
    replayed: bool


class Moderation:
    """Records decisions over the app's Redis client and data directory."""

    def __init__(self, redis: AsyncRedis, settings: Settings) -> None:
        self._redis = redis
        self._audit_path = settings.audit_dir / AUDIT_FILE
        self._landing = settings.landing_dir / "moderation"

    async def decide(self, sub: str, body: DecisionIn, idempotency_key: str | None) -> Outcome:
        """Record ``body`` by ``sub``; with a key, a retry returns the first outcome.

        The key is claimed with SET NX before anything is written and keeps the response
        for 24 h once recorded; the same key with another body (or user) is 409
        ``idempotency_conflict``, and while the first request is still being recorded 409
        ``idempotency_in_progress``. A failed attempt releases its claim, and a claim left
        by a dead worker expires after ``CLAIM_TTL_SEC``, so the client can retry.
        """
        if idempotency_key is None:
            return Outcome(await self._record(sub, body), replayed=False)
        key = keys.idempotency(idempotency_key)
        fingerprint = _fingerprint(sub, body)
        claim = _encode(_Stored(fingerprint=fingerprint))
        if not await self._redis.set(key, claim, nx=True, ex=CLAIM_TTL_SEC):
            return _replay(await self._redis.get(key), fingerprint)
        try:
            decision = await self._record(sub, body)
        except BaseException:
            await self._release(key, claim)
            raise
        done = _encode(_Stored(fingerprint=fingerprint, decision=decision))
        await self._redis.set(key, done, ex=IDEMPOTENCY_TTL_SEC)
        return Outcome(decision, replayed=False)

    async def _record(self, sub: str, body: DecisionIn) -> Decision:
        pipe = await transaction(self._redis)
        pipe.hget(keys.VIDEO_STATUS, body.videoId)
        pipe.lindex(keys.audit_log(body.videoId), -1)
        batch_status, last = await pipe.execute()
        if batch_status is None:
            # 404 like the audit trail's: the body is well formed, the video does not exist.
            raise ApiError(
                404,
                "unknown_video",
                f"video {body.videoId!r} is not in the catalogue",
                param="videoId",
            )
        previous = decode_decision(last).status if last else batch_status.decode()
        decision = Decision(
            id=secrets.token_hex(8),
            videoId=body.videoId,
            status=body.status,  # type: ignore[arg-type]
            previousStatus=previous or "undecided",
            reason=body.reason,
            decidedBy=sub,
            decidedAt=format_ts(datetime.now(UTC)),
        )
        try:
            await asyncio.to_thread(self._write_files, decision)
        except OSError as exc:
            raise unavailable("audit_unavailable", "the audit log cannot be written") from exc
        apply = await transaction(self._redis)
        apply.rpush(keys.audit_log(decision.videoId), _encode(decision))
        if decision.status in TAKEDOWN_STATUSES:
            apply.sadd(keys.TAKEDOWNS, decision.videoId)
            apply.incr(keys.TAKEDOWNS_VERSION)
        elif decision.status == "approved":
            apply.srem(keys.TAKEDOWNS, decision.videoId)
            apply.incr(keys.TAKEDOWNS_VERSION)
        await apply.execute()
        return decision

    def _write_files(self, decision: Decision) -> None:
        append_line(self._audit_path, _encode(decision))
        landing = {
            "video_id": decision.videoId,
            "status": decision.status,
            "decided_at": decision.decidedAt,
            "reason": decision.reason,
        }
        name = f"{time.time_ns():020d}-moderation-{decision.id}.jsonl"
        write_atomic(self._landing, name, [_encode(landing)])

    async def _release(self, key: str, claim: bytes) -> None:
        with contextlib.suppress(*REDIS_ERRORS):
            if await self._redis.get(key) == claim:
                await self._redis.delete(key)


def _fingerprint(sub: str, body: DecisionIn) -> str:
    return hashlib.sha256(_encode([sub, body.videoId, body.status, body.reason])).hexdigest()


def _replay(stored: bytes | str | None, fingerprint: str) -> Outcome:
    if stored is None:  # expired between SET NX and GET: the key is free again
        raise ApiError(
            409, "idempotency_in_progress", "retry the request", headers={"Retry-After": "1"}
        )
    record = _decode_stored(stored)
    if record.fingerprint != fingerprint:
        raise ApiError(
            409,
            "idempotency_conflict",
            "this Idempotency-Key was used for a different request",
            param="Idempotency-Key",
        )
    if record.decision is None:
        raise ApiError(
            409,
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still being recorded",
            headers={"Retry-After": "1"},
        )
    return Outcome(record.decision, replayed=True)
