"""The error body every endpoint answers with (SPEC §5).

Field names are the JSON names; they are the contract with clients and must never be
renamed or removed (fields may be added).
"""

from __future__ import annotations

import msgspec


class ErrorDetail(msgspec.Struct, frozen=True, omit_defaults=True):
    """A stable machine-readable ``code``, a human message, and the bad parameter if any."""

    code: str
    message: str
    param: str | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    """Every error response: ``{"error": {"code": ..., "message": ...}}``."""

    error: ErrorDetail
