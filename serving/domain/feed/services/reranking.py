"""The seam for ``type=personal``: a :class:`Reranker` reorders the served candidates.

The default, :class:`GlobalOrder`, keeps the global order with ``personalized: false``.
A LanceDB-backed reranker implements the same protocol and is passed to
``create_app(reranker=...)``; the controller receives it as the ``reranker`` dependency.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from serving.core.auth import Principal
from serving.domain.feed.services.ranking import GLOBAL_RANKING, Ranking
from serving.domain.feed.services.view import FeedView


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
