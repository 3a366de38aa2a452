"""``/api/v1/moderation``: decisions, the review queue and audit trails (SPEC §6).

Every route needs a token whose ``roles`` hold ``moderator`` (401 without a valid token,
403 ``forbidden`` otherwise). Redis errors become 503 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
)
from litestar.params import Parameter as QueryParam
from redis.exceptions import RedisError

from serving.auth import authenticate, require_role
from serving.deps import SETTINGS_STATE_KEY, services
from serving.errors import ApiError, unavailable
from serving.moderation import (
    MAX_REASON,
    MAX_VIDEO_ID,
    STATUSES,
    AuditTrail,
    Decision,
    Moderation,
    check_idempotency_key,
    parse_decision,
)
from serving.moderation_queue import ReviewQueue, review_queue
from serving.openapi import BEARER, HOT_PARAMETERS
from serving.params import parse_hot_query
from serving.schemas import ErrorBody

T = TypeVar("T")
NO_STORE = {"Cache-Control": "no-store"}
IDEMPOTENCY_HEADER = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    description="Makes a retried POST safe: the same key and body return the first response "
    "(24 h); the same key with another body is 409 `idempotency_conflict`.",
    schema=Schema(type=OpenAPIType.STRING, max_length=200),
)
PAGING_PARAMETERS = [p for p in HOT_PARAMETERS if p.name in {"limit", "offset", "snapshot"}]


DECISION_BODY = RequestBody(
    required=True,
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["videoId", "status", "reason"],
                properties={
                    "videoId": Schema(
                        type=OpenAPIType.STRING, min_length=1, max_length=MAX_VIDEO_ID
                    ),
                    "status": Schema(type=OpenAPIType.STRING, enum=list(STATUSES)),
                    "reason": Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_REASON),
                },
            )
        )
    },
)


@dataclass
class DecisionOperation(Operation):
    """The POST operation: its body is parsed by hand (stable error codes), so documented here."""

    def __post_init__(self) -> None:
        self.request_body = DECISION_BODY


def _error(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


COMMON_ERRORS = {
    401: _error("Missing or refused bearer token"),
    403: _error("`forbidden`: the token has no `moderator` role"),
    503: _error("`unavailable`: Redis cannot be reached (with Retry-After)"),
}


async def _redis_call(call: Awaitable[T]) -> T:
    try:
        return await call
    except (RedisError, TimeoutError) as exc:
        raise unavailable("unavailable", "the moderation store is unreachable") from exc


def _moderation(request: Request) -> Moderation:
    state = request.app.state
    return Moderation(services(state).redis, state[SETTINGS_STATE_KEY])


class ModerationController(Controller):
    """The moderation service for moderators."""

    path = "/api/v1/moderation"
    tags = ["moderation"]
    guards = [require_role("moderator")]
    security = [{BEARER: []}]

    @post(
        "/decisions",
        status_code=201,
        summary="Record a moderation decision",
        operation_class=DecisionOperation,
        responses={
            400: _error(
                "`invalid_body`, `invalid_status`, `invalid_reason`, `unknown_video`, "
                "`invalid_idempotency_key`"
            ),
            409: _error("`idempotency_conflict` / `idempotency_in_progress`"),
            **COMMON_ERRORS,
        },
        parameters=[IDEMPOTENCY_HEADER],
    )
    async def create_decision(self, request: Request) -> Response[Decision]:
        """Record a decision (audit log, landing zone, serve-time takedown) and return it."""
        body = parse_decision(await request.body())
        key = check_idempotency_key(request.headers.get("idempotency-key"))
        sub = authenticate(request).sub
        outcome = await _redis_call(_moderation(request).decide(sub, body, key))
        headers = dict(NO_STORE)
        if outcome.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(outcome.decision, status_code=201, headers=headers)

    @get(
        "/queue",
        summary="The review queue",
        responses={
            400: _error("`invalid_limit|offset|snapshot`"),
            410: _error("`snapshot_expired`"),
            **COMMON_ERRORS,
        },
        parameters=PAGING_PARAMETERS,
    )
    async def get_queue(self, request: Request) -> Response[ReviewQueue]:
        """Undecided / pending videos that would make the top N if approved, best first."""
        query = parse_hot_query(request.scope["query_string"])
        queue = await _redis_call(review_queue(services(request.app.state).redis, query))
        return Response(queue, headers=NO_STORE)

    @get(
        "/decisions",
        summary="The audit trail of one video",
        responses={
            400: _error("`invalid_video_id`: videoId is required"),
            404: _error("`unknown_video`"),
            **COMMON_ERRORS,
        },
    )
    async def get_decisions(
        self,
        request: Request,
        video_id: Annotated[str | None, QueryParam(query="videoId")] = None,
    ) -> Response[AuditTrail]:
        """Every decision recorded on ``videoId``, oldest first."""
        if not video_id or len(video_id) > 128:
            raise ApiError(400, "invalid_video_id", "videoId is required", param="videoId")
        trail = await _redis_call(_moderation(request).trail(video_id))
        return Response(trail, headers=NO_STORE)
