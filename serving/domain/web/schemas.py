"""The development sign-in's wire format (``POST /auth/dev-login``)."""

from __future__ import annotations

import msgspec


class DevLoginIn(msgspec.Struct, frozen=True):
    """Body of ``POST /auth/dev-login``."""

    sub: str
    moderator: bool = False


class DevLoginOut(msgspec.Struct, frozen=True):
    """A freshly minted token for the development sign-in."""

    token: str
    sub: str
    roles: list[str]
    expiresIn: int
