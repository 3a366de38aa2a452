"""Property tests of the paging invariants: the pure ranking/view, and a few over HTTP."""

from __future__ import annotations

from collections import Counter

import msgspec
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.domain.feed.schemas import Creator, HotFeed, ItemPayload, Stats
from serving.domain.feed.services.ranking import rank
from serving.domain.feed.services.snapshots import Entry, LoadedSnapshot
from serving.domain.feed.services.view import FeedView
from tests.serving.api_support import (
    FLAG_ON,
    bearer,
    expected_feed,
    item,
    publish,
    token,
    walk_pages,
)
from tests.serving.conftest import ApiServer

_STATS = Stats(likes=1, comments=2, watchTimeSec=3, shares=4)


def _entry(video_id: str, creator_id: str, score: float) -> Entry:
    creator = Creator(id=creator_id, name=creator_id, avatarUrl="a")
    payload = ItemPayload(
        videoId=video_id, title=video_id, thumbnailUrl="t", creator=creator, stats=_STATS
    )
    return Entry(video_id=video_id, score=score, payload=payload)


entries_strategy = st.dictionaries(
    keys=st.text("abcdef", min_size=1, max_size=4),
    values=st.tuples(
        st.sampled_from(["c1", "c2", "c3", "c4", "c5"]),
        st.sampled_from([0.0, 1.0, 1.5, 2.0, 1e6]) | st.floats(0, 1e9, allow_nan=False),
    ),
    max_size=60,
).map(lambda d: [_entry(v, c, s) for v, (c, s) in d.items()])


@given(
    entries=entries_strategy,
    cap=st.integers(1, 4),
    takedown_share=st.floats(0, 1),
)
def test_rank_orders_caps_and_excludes(
    entries: list[Entry], cap: int, takedown_share: float
) -> None:
    excluded = frozenset(e.video_id for e in entries[: int(len(entries) * takedown_share)])
    served = rank(entries, cap, excluded)
    keys = [(-e.score, e.video_id) for e in served]
    assert keys == sorted(keys)
    assert not {e.video_id for e in served} & excluded
    per_creator = Counter(e.creator_id for e in served)
    assert all(count <= cap for count in per_creator.values())
    served_ids = {e.video_id for e in served}
    for left_out in entries:
        if left_out.video_id not in served_ids and left_out.video_id not in excluded:
            assert per_creator[left_out.creator_id] == cap
            ahead = [e for e in served if e.creator_id == left_out.creator_id]
            assert all((-e.score, e.video_id) < (-left_out.score, left_out.video_id) for e in ahead)


@given(
    entries=entries_strategy,
    cap=st.integers(1, 4),
    limit=st.integers(1, 100),
    feed_type=st.sampled_from(["global", "personal"]),
)
def test_walking_view_pages_covers_the_list_once(
    entries: list[Entry], cap: int, limit: int, feed_type: str
) -> None:
    snapshot = LoadedSnapshot("s1", "2026-04-12T08:45:00Z", 0.0, tuple(entries))
    view = FeedView(snapshot, 0, frozenset(), cap)
    seen = []
    offset = 0
    while True:
        page = msgspec.json.decode(
            view.page(feed_type, limit, offset).body,
            type=HotFeed,
            strict=True,  # type: ignore[arg-type]
        )
        assert page.paging.total == view.total
        assert len(page.items) <= limit
        seen.extend(page.items)
        offset += limit
        if offset >= view.total:
            break
    assert [i.videoId for i in seen] == [e.video_id for e in rank(entries, cap)]
    assert [i.rank for i in seen] == list(range(1, len(seen) + 1))


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scores=st.lists(st.integers(0, 5), min_size=0, max_size=40),
    creators=st.integers(1, 8),
    limit=st.integers(1, 15),
)
def test_walking_pages_over_http(
    api: ApiServer, redis_client: redis.Redis, scores: list[int], creators: int, limit: int
) -> None:
    items = [item(f"v{i:03d}", f"c{i % creators}", float(s)) for i, s in enumerate(scores)]
    publish(redis_client, items)
    with api.client() as client:
        if not items:
            body = client.get("/api/v1/hot", headers={**bearer(token()), **FLAG_ON}).json()
            assert body["items"] == [] and body["paging"]["total"] == 0
            return
        served, totals = walk_pages(client, limit, {**bearer(token()), **FLAG_ON})
    expected = expected_feed(items, cap=2)
    assert [i["videoId"] for i in served] == expected
    assert totals == {len(expected)}
