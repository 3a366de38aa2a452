"""Serve-time ranking: order by score, leave out takedowns, cap items per creator; and
:class:`Ranking`, a (personal) order of the served list.
"""

from __future__ import annotations

from collections.abc import Container, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar


class Rankable(Protocol):
    """Anything with a video id, a creator id and a score."""

    @property
    def video_id(self) -> str: ...

    @property
    def creator_id(self) -> str: ...

    @property
    def score(self) -> float: ...


R = TypeVar("R", bound=Rankable)


def rank(candidates: Iterable[R], cap: int, excluded: Container[str] = frozenset()) -> list[R]:
    """The served list: score descending, ties by ``video_id``, at most ``cap`` per creator.

    Videos in ``excluded`` (takedowns) are left out before the cap is applied, so a creator's
    next video moves up in their place. Paging slices this list, so pages never overlap or
    skip and its length is the ``total`` served.
    """
    if cap < 1:
        raise ValueError("cap must be >= 1")
    ordered = sorted(
        (c for c in candidates if c.video_id not in excluded),
        key=lambda c: (-c.score, c.video_id),
    )
    per_creator: dict[str, int] = {}
    served: list[R] = []
    for candidate in ordered:
        count = per_creator.get(candidate.creator_id, 0)
        if count < cap:
            per_creator[candidate.creator_id] = count + 1
            served.append(candidate)
    return served


@dataclass(frozen=True, slots=True)
class Ranking:
    """A personal order of a view's entries.

    ``order`` holds indices into ``view.entries`` (already filtered and capped), best first;
    ``None`` keeps the global order. ``cache_key`` identifies the inputs of the order (e.g.
    the user and the embeddings version) and becomes part of the ETag.
    """

    order: Sequence[int] | None
    personalized: bool
    cache_key: str = ""
    pages: dict[Hashable, Any] | None = None
    """Where the view may keep this order's rendered pages (a ranking the reranker reuses
    across requests); ``None``: render every time."""


GLOBAL_RANKING = Ranking(order=None, personalized=False)
"""The global order, not personalized."""
