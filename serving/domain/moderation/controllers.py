"""``/api/v1/moderation``: decisions, the review queue and audit trails (SPEC §6).

Every route needs a token whose ``roles`` hold ``moderator`` (401 without a valid token,
403 ``forbidden`` otherwise). Redis errors become 503 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter as QueryParam
from redis.exceptions import RedisError

from serving.core.auth import authenticate
from serving.core.deps import redis_of, settings_of
from serving.core.errors import unavailable
from serving.core.openapi import BEARER, error_spec
from serving.domain.feed.params import HOT_PARAMETERS, parse_hot_query
from serving.domain.moderation.guards import requires_moderator
from serving.domain.moderation.schemas import (
    IDEMPOTENCY_HEADER,
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
PAGING_PARAMETERS = [p for p in HOT_PARAMETERS if p.name in {"limit", "offset", "snapshot"}]
COMMON_ERRORS = {
    401: error_spec("Missing or refused bearer token"),
    403: error_spec("`forbidden`: the token has no `moderator` role"),
    503: error_spec("`unavailable`: Redis cannot be reached (with Retry-After)"),
}


async def _redis_call(call: Awaitable[T]) -> T:
    try:
        return await call
    except (RedisError, TimeoutError) as exc:
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
                "`invalid_body`, `invalid_status`, `invalid_reason`, `unknown_video`, "
                "`invalid_idempotency_key`"
            ),
            409: error_spec("`idempotency_conflict` / `idempotency_in_progress`"),
            **COMMON_ERRORS,
        },
        parameters=[IDEMPOTENCY_HEADER],
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
        responses={
            400: error_spec("`invalid_limit|offset|snapshot`"),
            410: error_spec("`snapshot_expired`"),
            **COMMON_ERRORS,
        },
        parameters=PAGING_PARAMETERS,
    )
    async def get_queue(self, request: Request) -> Response[ReviewQueue]:
        """Undecided / pending videos that would make the top N if approved, best first."""
        query = parse_hot_query(request.scope["query_string"])
        queue = await _redis_call(review_queue(redis_of(request.app.state), query))
        return Response(queue, headers=NO_STORE)

    @get(
        "/decisions",
        summary="The audit trail of one video",
        responses={
            400: error_spec("`invalid_video_id`: videoId is required"),
            404: error_spec("`unknown_video`"),
            **COMMON_ERRORS,
        },
    )
    async def get_decisions(
        self,
        request: Request,
        video_id: Annotated[str | None, QueryParam(query="videoId")] = None,
    ) -> Response[AuditTrail]:
        """Every decision recorded on ``videoId``, oldest first."""
        video_id = check_video_id(video_id)
        trail = await _redis_call(audit_trail(redis_of(request.app.state), video_id))
        return Response(trail, headers=NO_STORE)
