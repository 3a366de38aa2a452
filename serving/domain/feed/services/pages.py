"""A page of the feed as one request asks for it: the snapshot's view, re-ranked if personal."""

from __future__ import annotations

from dataclasses import dataclass

from serving.core.auth import Principal
from serving.domain.feed.params import HotQuery
from serving.domain.feed.services.cache import FeedCache
from serving.domain.feed.services.reranking import Reranker
from serving.domain.feed.services.view import Page


@dataclass(frozen=True, slots=True)
class FeedServices:
    """The feed's services in one app: the snapshot cache and the ``type=personal`` reranker."""

    feed: FeedCache
    reranker: Reranker

    async def page(self, principal: Principal, query: HotQuery) -> tuple[Page, float | None]:
        """The page ``query`` asks for as ``principal`` sees it, and its stale age in seconds
        (None when Redis confirmed the snapshot); raises ``FeedError``."""
        feed = self.feed
        served = await (feed.pinned(query.snapshot) if query.snapshot else feed.current())
        if query.type == "personal":
            ranking = await self.reranker.rerank(principal, served.view)
            page = served.view.page("personal", query.limit, query.offset, ranking)
        else:
            page = served.view.page("global", query.limit, query.offset)
        return page, (served.stale_sec if served.stale else None)

    async def explain(
        self, video_id: str, snapshot: str | None
    ) -> tuple[Page | None, float | None]:
        """Why ``video_id`` is where it is in the current (or the pinned ``snapshot``) served
        feed — None when it is not served — and the stale age as for :meth:`page`; raises
        ``FeedError``."""
        feed = self.feed
        served = await (feed.pinned(snapshot) if snapshot else feed.current())
        return served.view.explain(video_id), (served.stale_sec if served.stale else None)
