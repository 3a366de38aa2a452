"""Who may moderate: a valid token whose ``roles`` hold ``moderator``."""

from __future__ import annotations

from serving.core.auth import require_role

MODERATOR = "moderator"

requires_moderator = require_role(MODERATOR)
"""Guard: 401 without a valid token, 403 ``forbidden`` without the ``moderator`` role."""
