"""Counted engagement from the warehouse: what embeddings are learned from and checked against.

Each user also gets the videos they already watched heavily (``WATCHED_HEAVY_SEC`` counted
seconds), which ``type=personal`` demotes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import duckdb
import numpy as np

from hot.warehouse import Warehouse, as_warehouse

WATCHED_HEAVY_SEC = 600.0
"""Counted watch seconds from which a video counts as already watched by the user."""


class EmbeddingsError(ValueError):
    """Embeddings cannot be built or imported (the message says why)."""


@dataclass(frozen=True)
class Interactions:
    """Counted (user, video) interactions with a positive weight, as arrays."""

    user_ids: np.ndarray
    video_ids: np.ndarray
    weight: np.ndarray
    watch_sec: np.ndarray
    last_epoch: np.ndarray
    """The pair's latest counted event (seconds): its recency."""
    first_epoch: np.ndarray
    """The pair's earliest counted event: when the user came to the video (the time split's
    order: what is held out is what the user came to last, as a feed would have to guess)."""
    known_videos: frozenset[str] = field(default_factory=frozenset)
    """Every video of the catalogue (what imported video ids are checked against)."""

    @property
    def known_users(self) -> frozenset[str]:
        """Users with at least one counted interaction."""
        return frozenset(self.user_ids.tolist())

    @cached_property
    def codes(self) -> Codes:
        """The ids as integer codes into sorted vocabularies (computed once: sorting millions
        of strings is the slowest step of building a matrix)."""
        users, user_idx = np.unique(self.user_ids, return_inverse=True)
        videos, video_idx = np.unique(self.video_ids, return_inverse=True)
        return Codes(users, user_idx, videos, video_idx)

    @cached_property
    def watched(self) -> dict[str, list[str]]:
        """Per user, the videos with at least ``WATCHED_HEAVY_SEC`` counted watch seconds
        (computed once: every embedding set of one tuning run carries the same lists)."""
        heavy = self.watch_sec >= WATCHED_HEAVY_SEC
        watched: dict[str, list[str]] = {}
        for user, video in zip(self.user_ids[heavy], self.video_ids[heavy], strict=True):
            watched.setdefault(str(user), []).append(str(video))
        return {u: sorted(v) for u, v in watched.items()}

    def subset(self, mask: np.ndarray) -> Interactions:
        """The rows of ``mask``, sharing this set's vocabularies (an id without rows in the
        subset keeps its code: an empty row or column of its matrices)."""
        sub = Interactions(
            user_ids=self.user_ids[mask],
            video_ids=self.video_ids[mask],
            weight=self.weight[mask],
            watch_sec=self.watch_sec[mask],
            last_epoch=self.last_epoch[mask],
            first_epoch=self.first_epoch[mask],
            known_videos=self.known_videos,
        )
        codes = self.codes
        # cached_property stores in the instance dict; a frozen dataclass allows that.
        sub.__dict__["codes"] = Codes(
            codes.users, codes.user_idx[mask], codes.videos, codes.video_idx[mask]
        )
        return sub


@dataclass(frozen=True)
class Codes:
    """Integer codes of an :class:`Interactions`' ids: ``users[user_idx]`` are its user ids."""

    users: np.ndarray
    user_idx: np.ndarray
    videos: np.ndarray
    video_idx: np.ndarray


def read_interactions(
    con: duckdb.DuckDBPyConnection | Warehouse, interactions: str, videos: str
) -> Interactions:
    """The positive-weight, non-creator pairs of ``interactions`` and the catalogue ``videos``
    (from DuckDB or Spark)."""
    warehouse = as_warehouse(con)
    table = warehouse.arrow(
        f"select user_id, video_id, interaction_weight, watch_sec, first_event_epoch, "
        f"last_event_epoch "
        f"from {interactions} where not is_creator and interaction_weight > 0"
    )
    known = warehouse.execute(f"select video_id from {videos}").fetchall()
    return Interactions(
        user_ids=table["user_id"].to_numpy(zero_copy_only=False).astype(str),
        video_ids=table["video_id"].to_numpy(zero_copy_only=False).astype(str),
        weight=table["interaction_weight"].to_numpy().astype(np.float64),
        watch_sec=table["watch_sec"].to_numpy().astype(np.float64),
        last_epoch=table["last_event_epoch"].to_numpy().astype(np.float64),
        first_epoch=table["first_event_epoch"].to_numpy().astype(np.float64),
        known_videos=frozenset(v for (v,) in known),
    )


def read_interactions_retrying(
    connect: Any, interactions: str, videos: str, wait_sec: float = 60.0
) -> Interactions:
    """:func:`read_interactions` on ``connect(read_only=True)``, retried while a writer holds
    the DuckDB file (a pipeline run in another process); the lock is held only for the read."""
    deadline = time.monotonic() + wait_sec
    while True:
        try:
            with connect(read_only=True) as con:
                return read_interactions(con, interactions, videos)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
