"""A served view of one snapshot: ranked, capped, and pre-encoded to JSON bytes.

Built once per (snapshot, takedown version); a page is then a slice of pre-encoded items
between a pre-encoded head and a small tail — no per-request JSON encoding.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from serving.domain.feed.schemas import FeedType, HotItem
from serving.domain.feed.services.explain import explanations
from serving.domain.feed.services.ranking import GLOBAL_RANKING, Ranking, rank
from serving.domain.feed.services.snapshots import Entry, LoadedSnapshot

_encode = msgspec.json.encode
_MAX_PAGES = 1024
_MAX_RANKING_PAGES = 8


@dataclass(frozen=True, slots=True)
class Page:
    """One response body and its entity tag."""

    body: bytes
    etag: str


class FeedView:
    """The capped, takedown-filtered list of one snapshot, ready to page."""

    __slots__ = (
        "_explained",
        "_fragments",
        "_heads",
        "_items",
        "_pages",
        "entries",
        "generated_at",
        "generated_epoch",
        "snapshot_id",
        "takedown_version",
    )

    def __init__(
        self, snapshot: LoadedSnapshot, takedown_version: int, takedowns: frozenset[str], cap: int
    ) -> None:
        self.snapshot_id = snapshot.snapshot_id
        self.generated_at = snapshot.generated_at
        self.generated_epoch = snapshot.generated_epoch
        self.takedown_version = takedown_version
        self.entries: tuple[Entry, ...] = tuple(rank(snapshot.entries, cap, takedowns))
        self._items = [_encode(_item(i + 1, e)) for i, e in enumerate(self.entries)]
        self._fragments = [
            item[len(b'{"rank":%d,' % (i + 1)) :] for i, item in enumerate(self._items)
        ]
        common = (
            b',"generatedAt":'
            + _encode(self.generated_at)
            + b',"snapshotId":'
            + _encode(self.snapshot_id)
        )
        self._pages: dict[tuple[str, bool, int, int], Page] = {}
        self._explained: dict[str, bytes] | None = None
        self._heads = {
            None: b'{"type":"global"' + common + b',"items":[',
            False: b'{"type":"personal"' + common + b',"personalized":false,"items":[',
            True: b'{"type":"personal"' + common + b',"personalized":true,"items":[',
        }

    @property
    def total(self) -> int:
        """Number of items served (after takedowns and the creator cap)."""
        return len(self.entries)

    def page(
        self, feed_type: FeedType, limit: int, offset: int, ranking: Ranking = GLOBAL_RANKING
    ) -> Page:
        """The body of one page; for ``personal``, ``ranking`` orders the entries.

        Pages in the global order are memoised (clients ask for a few hundred distinct ones).
        """
        if feed_type == "global":
            ranking = GLOBAL_RANKING
        if ranking.order is not None or ranking.cache_key:
            pages = ranking.pages
            if pages is None:
                return self._render(feed_type, limit, offset, ranking)
            # A reused personal order: its pages are rendered once (a user's refresh).
            key = (feed_type, limit, offset, self.snapshot_id, self.takedown_version)
            page = pages.get(key)
            if page is None:
                if len(pages) >= _MAX_RANKING_PAGES:
                    pages.clear()
                page = pages[key] = self._render(feed_type, limit, offset, ranking)
            return page
        key = (feed_type, ranking.personalized, limit, offset)
        page = self._pages.get(key)
        if page is None:
            if len(self._pages) >= _MAX_PAGES:
                self._pages.clear()
            page = self._pages[key] = self._render(feed_type, limit, offset, ranking)
        return page

    def explain(self, video_id: str) -> Page | None:
        """Why ``video_id`` is where it is in this view (SPEC §5 explain); None when it is not
        served (not in the snapshot, taken down, or past its creator's cap).

        The answers of the whole view are encoded on the first call (entries are in the
        global order, so ``rank`` is the global feed's).
        """
        if self._explained is None:
            self._explained = explanations(self.snapshot_id, self.generated_at, self.entries)
        body = self._explained.get(video_id)
        if body is None:
            return None
        return Page(body=body, etag=f'"x1.{self.snapshot_id}.{self.takedown_version}"')

    def _render(self, feed_type: FeedType, limit: int, offset: int, ranking: Ranking) -> Page:
        tag = f"v1.{self.snapshot_id}.{self.takedown_version}.{limit}.{offset}"
        if feed_type == "global":
            head = self._heads[None]
            tag += ".g"
        else:
            head = self._heads[ranking.personalized]
            tag += f".p{int(ranking.personalized)}"
        if ranking.order is None:
            items = self._items[offset : offset + limit]
            total = len(self._items)
        else:
            fragments = self._fragments
            items = [
                b'{"rank":%d,' % (offset + n + 1) + fragments[i]
                for n, i in enumerate(ranking.order[offset : offset + limit])
            ]
            total = len(ranking.order)
        if ranking.cache_key:
            tag += "." + hashlib.blake2b(ranking.cache_key.encode(), digest_size=8).hexdigest()
        tail = b'],"paging":{"limit":%d,"offset":%d,"total":%d}}' % (limit, offset, total)
        return Page(body=head + b",".join(items) + tail, etag=f'"{tag}"')


def _item(position: int, entry: Entry) -> HotItem:
    payload = entry.payload
    return HotItem(
        rank=position,
        videoId=entry.video_id,
        title=payload.title,
        thumbnailUrl=payload.thumbnailUrl,
        creator=payload.creator,
        hotScore=round(entry.score, 3),
        stats=payload.stats,
    )
