"""``/api/v1/moderation``: decisions, the review queue and audit trails (SPEC §6).

Every route needs a token whose ``roles`` hold ``moderator`` (401 without a valid token,
403 ``forbidden`` otherwise). Redis errors become 503 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from litestar import Controller, Request, Response, get, post

from serving.core.auth import authenticate
from serving.core.deps import redis_of, settings_of
from serving.core.errors import unavailable
from serving.core.openapi import BEARER, INTERNAL_ERROR, documented_operation, error_spec
from serving.core.redis_client import REDIS_ERRORS
from serving.domain.feed.params import HOT_PARAMETERS, parse_hot_query
from serving.domain.moderation.guards import requires_moderator
from serving.domain.moderation.schemas import (
    AuditOperation,
    AuditTrail,
    Decision,
    DecisionOperation,
    ReviewQueue,
)
from serving.domain.moderation.services.audit import audit_trail, check_video_id
from serving.domain.moderation.services.decisions import (
    Moderation,
    check_idempotency_key,
    parse_decision,
)
from serving.domain.moderation.services.queue import review_queue

T = TypeVar("T")
NO_STORE = {"Cache-Control": "no-store"}
QueueOperation = documented_operation(
    parameters=[p for p in HOT_PARAMETERS if p.name in {"limit", "offset", "snapshot"}]
)
"""The queue pages snapshots with the feed's ``limit``, ``offset`` and ``snapshot``."""
UNAVAILABLE = f"`unavailable`: Redis cannot be reached; {INTERNAL_ERROR} (with Retry-After)"
COMMON_ERRORS = {
    401: error_spec("Missing or refused bearer token (reason in `code`)"),
    403: error_spec("`forbidden`: the token has no `moderator` role"),
}


async def _redis_call(call: Awaitable[T]) -> T:
    try:
        return await call
    except (*REDIS_ERRORS, TimeoutError) as exc:
        raise unavailable("unavailable", "the moderation store is unreachable") from exc


class ModerationController(Controller):
    """The moderation service for moderators."""

    path = "/api/v1/moderation"
    tags = ["moderation"]
    guards = [requires_moderator]
    security = [{BEARER: []}]

    @post(
        "/decisions",
        status_code=201,
        summary="Record a moderation decision",
        operation_class=DecisionOperation,
        responses={
            400: error_spec(
                "`invalid_body`, `invalid_status`, `invalid_reason`, `invalid_idempotency_key`"
            ),
            **COMMON_ERRORS,
            404: error_spec("`unknown_video`: the video is not in the catalogue"),
            409: error_spec(
                "`idempotency_conflict`: the key was used for another request; "
                "`idempotency_in_progress`: the first request is still being recorded"
            ),
            413: error_spec("`payload_too_large`"),
            503: error_spec(f"{UNAVAILABLE}; `audit_unavailable`: the audit log cannot be written"),
        },
    )
    async def create_decision(self, request: Request) -> Response[Decision]:
        """Record a decision (audit log, landing zone, serve-time takedown) and return it."""
        body = parse_decision(await request.body())
        key = check_idempotency_key(request.headers.get("idempotency-key"))
        sub = authenticate(request).sub
        state = request.app.state
        moderation = Moderation(redis_of(state), settings_of(state))
        outcome = await _redis_call(moderation.decide(sub, body, key))
        headers = dict(NO_STORE)
        if outcome.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(outcome.decision, status_code=201, headers=headers)

    @get(
        "/queue",
        summary="The review queue",
        operation_class=QueueOperation,
        responses={
            400: error_spec(
                "`invalid_limit`, `invalid_offset`, `invalid_snapshot`: a bad parameter "
                "(named in `param`)"
            ),
            **COMMON_ERRORS,
            410: error_spec("`snapshot_expired`: the pinned snapshot is no longer retained"),
            503: error_spec(f"`no_snapshot`: none published; {UNAVAILABLE}"),
        },
    )
    async def get_queue(self, request: Request) -> Response[ReviewQueue]:
        """Undecided / pending videos that would make the top N if approved, best first."""
        query = parse_hot_query(request.scope["query_string"])
        queue = await _redis_call(review_queue(redis_of(request.app.state), query))
        return Response(queue, headers=NO_STORE)

    @get(
        "/decisions",
        summary="The audit trail of one video",
        operation_class=AuditOperation,
        responses={
            400: error_spec("`invalid_video_id`: videoId is missing or longer than 128"),
            **COMMON_ERRORS,
            404: error_spec("`unknown_video`: no decision and not in the catalogue"),
            503: error_spec(UNAVAILABLE),
        },
    )
    async def get_decisions(self, request: Request) -> Response[AuditTrail]:
        """Every decision recorded on ``videoId``, oldest first."""
        video_id = check_video_id(request.query_params.get("videoId"))
        trail = await _redis_call(audit_trail(redis_of(request.app.state), video_id))
        return Response(trail, headers=NO_STORE)
