"""The moderation wire format (SPEC §6) as msgspec Structs, and the OpenAPI description of
what the controller parses by hand (the decision body, the ``Idempotency-Key`` header).

Field names are the JSON names; they are the contract with clients and must never be
renamed or removed (fields may be added).
"""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIType,
    Parameter,
    RequestBody,
    Schema,
)

from hot.payload import QueueReason, Ring
from serving.core.openapi import documented_operation
from serving.domain.feed.schemas import MAX_VIDEO_ID, HotItem, Paging

Status = Literal["approved", "pending_review", "restricted", "removed"]
STATUSES: tuple[str, ...] = ("approved", "pending_review", "restricted", "removed")
MAX_REASON = 500
MAX_IDEMPOTENCY_KEY = 200
BLANK = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
"""Every character ``str.strip()`` removes (none is above U+3000)."""
NON_BLANK = "[^" + "".join(f"\\u{ord(c):04x}" for c in BLANK) + "]"
"""JSON Schema pattern of a reason: at least one character that ``strip()`` keeps."""


class DecisionIn(msgspec.Struct, frozen=True):
    """Body of ``POST /api/v1/moderation/decisions``."""

    videoId: str
    status: str
    reason: str


class Decision(msgspec.Struct, frozen=True):
    """One recorded decision, as the audit log, the audit trail and the POST return it."""

    id: str
    videoId: str
    status: Status
    previousStatus: str
    reason: str
    decidedBy: str
    decidedAt: str


class AuditTrail(msgspec.Struct, frozen=True):
    """Response of ``GET /api/v1/moderation/decisions``: one video's decisions, oldest first."""

    videoId: str
    currentStatus: str
    decisions: list[Decision]


class QueueItem(HotItem, frozen=True):
    """One video of the review queue, ranked by its would-be score; ``ring`` is set when the
    reason is ``coordinated_engagement``."""

    moderationStatus: str
    reason: QueueReason
    ring: Ring | None


class ReviewQueue(msgspec.Struct, frozen=True):
    """Response of ``GET /api/v1/moderation/queue``."""

    snapshotId: str
    generatedAt: str
    items: list[QueueItem]
    paging: Paging


IDEMPOTENCY_HEADER = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    description="Makes a retried POST safe: the same key and body return the first response "
    "(24 h); the same key with another body is 409 `idempotency_conflict`. Visible ASCII "
    "(400 `invalid_idempotency_key` otherwise).",
    schema=Schema(
        type=OpenAPIType.STRING,
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY,
        pattern="^[!-~]+$",
    ),
)

VIDEO_ID_SCHEMA = Schema(type=OpenAPIType.STRING, min_length=1, max_length=MAX_VIDEO_ID)
"""A video id (SPEC §2: 1-128 characters)."""

VIDEO_ID_QUERY = Parameter(
    name="videoId",
    param_in="query",
    required=True,
    description="The video whose decisions to list (400 `invalid_video_id` if missing).",
    schema=VIDEO_ID_SCHEMA,
)

DECISION_BODY = RequestBody(
    required=True,
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["videoId", "status", "reason"],
                properties={
                    "videoId": VIDEO_ID_SCHEMA,
                    "status": Schema(type=OpenAPIType.STRING, enum=list(STATUSES)),
                    "reason": Schema(
                        type=OpenAPIType.STRING,
                        min_length=1,
                        max_length=MAX_REASON,
                        pattern=NON_BLANK,
                        description="Why; surrounding whitespace is dropped, so it must not "
                        "be blank.",
                    ),
                },
            )
        )
    },
)

DecisionOperation = documented_operation(
    parameters=[IDEMPOTENCY_HEADER], request_body=DECISION_BODY
)
"""The POST operation: its body and key are parsed by hand (stable error codes)."""

AuditOperation = documented_operation(parameters=[VIDEO_ID_QUERY])
"""The audit-trail operation: ``videoId`` is parsed by hand (``invalid_video_id``)."""
