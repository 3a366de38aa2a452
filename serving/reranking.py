"""The seam for ``type=personal``: a :class:`Reranker` reorders the served candidates.

The default, :class:`GlobalOrder`, keeps the global order with ``personalized: false``.
A LanceDB-backed reranker implements the same protocol and is passed to
``create_app(reranker=...)``; the controller receives it as the ``reranker`` dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from serving.auth import Principal
    from serving.view import FeedView


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


@runtime_checkable
class Reranker(Protocol):
    """Reorders a snapshot's served entries for one user."""

    async def rerank(self, principal: Principal, view: FeedView) -> Ranking:
        """The order in which ``principal`` sees ``view``'s entries."""
        ...


class GlobalOrder:
    """The reranker used until personal ranking is plugged in: the global order."""

    async def rerank(self, principal: Principal, view: FeedView) -> Ranking:
        """Always the global order, not personalized."""
        return GLOBAL_RANKING


GLOBAL_RANKING = Ranking(order=None, personalized=False)
