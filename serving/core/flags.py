"""The ``X-Feature-Flag`` header: comma-separated ``name=value`` pairs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

HOT_FLAG = "hot_enabled"


def flag_enabled(headers: Sequence[str], default: bool, name: str = HOT_FLAG) -> bool:
    """Whether flag ``name`` is on: absent header → ``default``; else only ``name=1`` enables.

    ``headers`` are all values of the header (repeated headers are joined); the last
    ``name=...`` pair wins; any other value, or no pair for ``name``, means off.
    """
    if not headers:
        return default
    return _pairs_enable(tuple(headers), name)


@lru_cache(maxsize=128)
def _pairs_enable(headers: tuple[str, ...], name: str) -> bool:
    # Memoised: clients send the same few header values, and splitting them was a visible
    # part of the feed's per-request cost.
    enabled = False
    for header in headers:
        for pair in header.split(","):
            key, sep, value = pair.partition("=")
            if sep and key.strip() == name:
                enabled = value.strip() == "1"
    return enabled
