"""The wire format of ``/healthz`` and ``/readyz``."""

from __future__ import annotations

from typing import Literal

import msgspec


class Health(msgspec.Struct, frozen=True):
    """Response of ``/healthz``."""

    status: Literal["ok"]


class Readiness(msgspec.Struct, frozen=True):
    """Response of ``/readyz`` when ready."""

    status: Literal["ready"]
    snapshotId: str
    generatedAt: str
    ageSec: float | None
    """Seconds since ``generatedAt`` (None if the snapshot's timestamp is unreadable)."""
