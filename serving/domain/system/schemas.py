"""The wire format of ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Literal

import msgspec


class Health(msgspec.Struct, frozen=True):
    """Response of ``/healthz``."""

    status: Literal["ok"]


class Readiness(msgspec.Struct, frozen=True):
    """Response of ``/readyz`` when a snapshot can be served."""

    status: Literal["ready", "stale"]
    snapshotId: str
    generatedAt: str
    ageSec: float | None
    """Seconds since ``generatedAt`` (None if the snapshot's timestamp is unreadable)."""
    staleSec: float = 0.0
    """Seconds Redis has not confirmed the served snapshot (0 when fresh)."""
    staleReason: str | None = None
    """Why the snapshot is served from memory (Redis unreachable, or the snapshot lost)."""
