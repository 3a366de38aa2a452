"""GET /api/v1/hot/{videoId}/explain over HTTP (real server, real Redis): each signal's part of
the served hotScore, adding up to it; rank in the served feed; 404, 400, pinning, caching, and
stale serving while Redis is away."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis
from hypothesis import given
from hypothesis import strategies as st

from hot import keys
from hot.local.redis_server import EmbeddedRedis
from serving.domain.feed.services.explain import split_thousandths
from tests.serving.api_support import (
    FLAG_ON,
    SUITE_TTL,
    bearer,
    item,
    publish,
    token,
    walk_pages,
)
from tests.serving.conftest import ApiServer

HEADERS = {**bearer(token(ttl=SUITE_TTL)), **FLAG_ON}
SIGNALS = ("likes", "comments", "watch", "shares")
FIELDS = ["videoId", "snapshotId", "generatedAt", "rank", "hotScore", "contributions", "stats"]


def random_parts_items(count: int, creators: int, seed: int) -> list:
    """Items whose scores are the sums of random per-signal parts (some zero, some tiny)."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        parts = {s: rng.choice((0.0, rng.random() * 10 ** rng.randrange(-4, 4))) for s in SIGNALS}
        score = sum(parts.values())
        items.append(item(f"x{seed}_{i:03d}", f"c{rng.randrange(creators)}", score, parts))
    return items


def thousandths(x: float) -> int:
    return round(x * 1000)


def explain(client: httpx.Client, video_id: str, **params: str) -> httpx.Response:
    return client.get(f"/api/v1/hot/{video_id}/explain", params=params, headers=HEADERS)


def test_every_served_video_is_explained_parts_adding_up_to_its_score(
    api: ApiServer, redis_client: redis.Redis
) -> None:
    items = random_parts_items(60, 12, seed=7)
    published = {i.video_id: i.payload["contributions"] for i in items}
    sid = publish(redis_client, items)
    with api.client() as client:
        feed, _ = walk_pages(client, 25, HEADERS)
        assert 12 <= len(feed) < len(items)  # the creator cap left some out
        for served in feed:
            response = explain(client, served["videoId"])
            assert response.status_code == 200, response.text
            body = response.json()
            assert list(body) == FIELDS
            assert (body["videoId"], body["snapshotId"], body["rank"]) == (
                served["videoId"],
                sid,
                served["rank"],
            )
            assert (body["hotScore"], body["stats"]) == (served["hotScore"], served["stats"])
            parts = body["contributions"]
            assert list(parts) == list(SIGNALS)
            # rounded to 3 decimals, adding up to hotScore exactly in thousandths
            assert sum(thousandths(p) for p in parts.values()) == thousandths(body["hotScore"])
            for signal, value in parts.items():
                assert value == thousandths(value) / 1000
                assert abs(value - published[served["videoId"]][signal]) < 0.001 + 1e-9
            assert response.headers["cache-control"] == "private, max-age=5"


def test_not_served_is_404_not_in_feed_and_ranks_follow_takedowns(
    api: ApiServer, redis_client: redis.Redis
) -> None:
    items = [
        item("v_1", "c_1", 9.0),
        item("v_2", "c_1", 8.0),
        item("v_3", "c_1", 7.0),  # past c_1's cap of 2
        item("v_4", "c_2", 6.0),
    ]
    publish(redis_client, items)
    with api.client() as client:
        assert explain(client, "v_4").json()["rank"] == 3
        for video_id in ("v_3", "v_unknown"):
            response = explain(client, video_id)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_in_feed"
        # a takedown leaves the explained feed at the next request, like the feed itself
        redis_client.sadd(keys.TAKEDOWNS, "v_1")
        redis_client.incr(keys.TAKEDOWNS_VERSION)
        assert explain(client, "v_1").json()["error"]["code"] == "not_in_feed"
        assert [explain(client, v).json()["rank"] for v in ("v_2", "v_3", "v_4")] == [1, 2, 3]


def test_bad_requests_have_stable_codes(api: ApiServer, redis_client: redis.Redis) -> None:
    publish(redis_client, [item("v_1", "c_1", 1.0)])
    with api.client() as client:
        too_long = explain(client, "v" * 129)
        assert too_long.status_code == 400
        assert too_long.json()["error"] | {"message": ""} == {
            "code": "invalid_video_id",
            "message": "",
            "param": "videoId",
        }
        assert explain(client, "v" * 128).json()["error"]["code"] == "not_in_feed"
        bad_pin = explain(client, "v_1", snapshot="latest")
        assert (bad_pin.status_code, bad_pin.json()["error"]["code"]) == (400, "invalid_snapshot")
        anonymous = client.get("/api/v1/hot/v_1/explain", headers=FLAG_ON)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        flag_off = client.get("/api/v1/hot/v_1/explain", headers=bearer(token()))
        assert (flag_off.status_code, flag_off.json()["error"]["code"]) == (
            404,
            "feature_disabled",
        )


def test_a_pinned_snapshot_is_explained_until_it_expires(
    api: ApiServer, redis_client: redis.Redis
) -> None:
    first = publish(redis_client, [item("v_1", "c_1", 2.0), item("v_2", "c_2", 1.0)])
    publish(redis_client, [item("v_2", "c_2", 5.0), item("v_1", "c_1", 1.0)])
    with api.client() as client:
        pinned = explain(client, "v_1", snapshot=first)
        assert (pinned.json()["rank"], pinned.json()["hotScore"]) == (1, 2.0)
        current = explain(client, "v_1")
        assert (current.json()["rank"], current.json()["hotScore"]) == (2, 1.0)
        again = client.get(
            "/api/v1/hot/v_1/explain", headers={**HEADERS, "If-None-Match": current.headers["etag"]}
        )
        assert again.status_code == 304
        for n in range(3):  # three newer snapshots: the first is no longer retained
            publish(redis_client, [item("v_1", "c_1", float(n))])
        expired = explain(client, "v_1", snapshot=first)
        assert (expired.status_code, expired.json()["error"]["code"]) == (410, "snapshot_expired")


def test_explain_is_served_stale_while_redis_is_down(
    tmp_path: Path, api_factory: Callable[..., ApiServer]
) -> None:
    with EmbeddedRedis(tmp_path / "redis", persist=False) as store:
        publish(redis.Redis.from_url(store.url), [item("v_1", "c_1", 3.25)])
        api = api_factory(store.url, HOT_STALE_SERVE_SEC="2")
        with api.client() as client:
            fresh = explain(client, "v_1")
            assert fresh.status_code == 200 and "x-hot-stale" not in fresh.headers
            store.kill()
            stale = explain(client, "v_1")
            assert stale.status_code == 200
            assert stale.headers["x-hot-stale"] == "1"
            assert stale.json() == fresh.json()
            deadline = time.monotonic() + 30
            while (gone := explain(client, "v_1")).status_code == 200:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert (gone.status_code, gone.json()["error"]["code"]) == (503, "unavailable")
            assert int(gone.headers["retry-after"]) > 0


parts_strategy = st.lists(
    st.floats(min_value=0.0, max_value=1e7, allow_nan=False), min_size=4, max_size=4
)


@given(parts_strategy)
def test_split_thousandths_adds_up_to_the_rounded_total(parts: list[float]) -> None:
    total = round(sum(parts), 3)
    split = split_thousandths(parts, total)
    assert sum(split) == round(total * 1000)
    for share, part in zip(split, parts, strict=True):
        assert abs(share - part * 1000) < 1 + 1e-6 * part * 1000
