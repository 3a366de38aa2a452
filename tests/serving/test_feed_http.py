"""GET /api/v1/hot over HTTP: shape, cap, paging, pinning, takedowns, caching, errors."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable

import msgspec
import pytest
import redis

from hot import keys
from hot.local.redis_server import EmbeddedRedis
from serving.domain.feed.schemas import HotFeed
from tests.serving.api_support import (
    FLAG_ON,
    SUITE_TTL,
    bearer,
    expected_feed,
    item,
    publish,
    random_items,
    token,
    walk_pages,
)
from tests.serving.conftest import ApiServer

HEADERS = {**bearer(token(ttl=SUITE_TTL)), **FLAG_ON}
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def test_response_has_the_exact_shape_and_types(api: ApiServer, redis_client: redis.Redis) -> None:
    sid = publish(redis_client, [item("v_a", "c_1", 1284.34567), item("v_b", "c_2", 10.0)])
    with api.client() as client:
        response = client.get(
            "/api/v1/hot", params={"type": "global", "limit": 20, "offset": 0}, headers=HEADERS
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["type", "generatedAt", "snapshotId", "items", "paging"]
    assert body["type"] == "global"
    assert body["snapshotId"] == sid
    assert TIMESTAMP.fullmatch(body["generatedAt"])
    assert body["paging"] == {"limit": 20, "offset": 0, "total": 2}
    assert body["items"][0] == {
        "rank": 1,
        "videoId": "v_a",
        "title": "Title of v_a",
        "thumbnailUrl": "https://cdn.example/thumbs/v_a.jpg",
        "creator": {
            "id": "c_1",
            "name": "Name of c_1",
            "avatarUrl": "https://cdn.example/avatars/c_1.png",
        },
        "hotScore": 1284.346,
        "stats": {"likes": 5, "comments": 2, "watchTimeSec": 310, "shares": 1},
    }
    assert isinstance(body["items"][1]["hotScore"], float)
    assert body["items"][1]["rank"] == 2
    feed = msgspec.json.decode(response.content, type=HotFeed, strict=True)
    assert feed.personalized is msgspec.UNSET


def test_personal_is_the_global_order_not_personalized(
    api: ApiServer, redis_client: redis.Redis
) -> None:
    publish(redis_client, random_items(30, 10, seed=3))
    with api.client() as client:
        personal = client.get("/api/v1/hot", params={"type": "personal"}, headers=HEADERS)
        global_ = client.get("/api/v1/hot", params={"type": "global"}, headers=HEADERS)
    assert personal.status_code == 200
    body = personal.json()
    assert body["type"] == "personal"
    assert body["personalized"] is False
    assert body["items"] == global_.json()["items"]
    assert personal.headers["etag"] != global_.headers["etag"]


def test_walking_all_pages_serves_each_item_once_in_order_within_the_cap(
    api: ApiServer, redis_client: redis.Redis
) -> None:
    items = random_items(80, 15, seed=7)
    publish(redis_client, items)
    expected = expected_feed(items, cap=2)
    with api.client() as client:
        served, totals = walk_pages(client, 7, HEADERS)
    assert [i["videoId"] for i in served] == expected
    assert totals == {len(expected)}
    assert [i["rank"] for i in served] == list(range(1, len(expected) + 1))
    assert max(Counter(i["creator"]["id"] for i in served).values()) <= 2
    scores = [i["hotScore"] for i in served]
    assert scores == sorted(scores, reverse=True)


def test_ties_break_by_video_id(api: ApiServer, redis_client: redis.Redis) -> None:
    publish(redis_client, [item(v, f"c_{v}", 5.0) for v in ("v_c", "v_a", "v_b")])
    with api.client() as client:
        body = client.get("/api/v1/hot", headers=HEADERS).json()
    assert [i["videoId"] for i in body["items"]] == ["v_a", "v_b", "v_c"]


def test_a_takedown_leaves_the_feed_at_the_next_request(
    api: ApiServer, redis_client: redis.Redis
) -> None:
    creators = {"v_1": "c_1", "v_2": "c_1", "v_3": "c_1", "v_4": "c_2"}
    publish(redis_client, [item(v, c, 10 - n) for n, (v, c) in enumerate(creators.items())])
    with api.client() as client:
        before = client.get("/api/v1/hot", headers=HEADERS)
        assert [i["videoId"] for i in before.json()["items"]] == ["v_1", "v_2", "v_4"]
        redis_client.sadd(keys.TAKEDOWNS, "v_1")
        redis_client.incr(keys.TAKEDOWNS_VERSION)
        after = client.get("/api/v1/hot", headers=HEADERS)
    body = after.json()
    assert [i["videoId"] for i in body["items"]] == ["v_2", "v_3", "v_4"]
    assert body["paging"]["total"] == 3
    assert after.headers["etag"] != before.headers["etag"]


def test_a_pinned_snapshot_keeps_paging_while_a_new_one_is_published(
    api: ApiServer, redis_client: redis.Redis
) -> None:
    first_items = random_items(40, 20, seed=11)
    first = publish(redis_client, first_items)
    expected = expected_feed(first_items, cap=2)
    with api.client() as client:
        page1 = client.get("/api/v1/hot", params={"limit": 5}, headers=HEADERS).json()
        second = publish(redis_client, random_items(40, 20, seed=12))
        page2 = client.get(
            "/api/v1/hot", params={"limit": 5, "offset": 5, "snapshot": first}, headers=HEADERS
        ).json()
        latest = client.get("/api/v1/hot", params={"limit": 5}, headers=HEADERS).json()
    assert page1["snapshotId"] == page2["snapshotId"] == first
    ids = [i["videoId"] for i in page1["items"] + page2["items"]]
    assert ids == expected[:10]
    assert [i["rank"] for i in page2["items"]] == [6, 7, 8, 9, 10]
    assert latest["snapshotId"] == second


def test_an_expired_snapshot_is_410(api: ApiServer, redis_client: redis.Redis) -> None:
    pinned = publish(redis_client, random_items(10, 5, seed=1))
    with api.client() as client:
        for seed in (2, 3):
            publish(redis_client, random_items(10, 5, seed=seed))
        still = client.get("/api/v1/hot", params={"snapshot": pinned}, headers=HEADERS)
        publish(redis_client, random_items(10, 5, seed=4))
        gone = client.get("/api/v1/hot", params={"snapshot": pinned}, headers=HEADERS)
    assert still.status_code == 200
    assert gone.status_code == 410
    assert gone.json() == {
        "error": {
            "code": "snapshot_expired",
            "message": f"snapshot {pinned} is no longer retained",
            "param": "snapshot",
        }
    }


def test_etag_and_304(api: ApiServer, redis_client: redis.Redis) -> None:
    publish(redis_client, random_items(10, 5, seed=5))
    with api.client() as client:
        first = client.get("/api/v1/hot", headers=HEADERS)
        etag = first.headers["etag"]
        again = client.get("/api/v1/hot", headers={**HEADERS, "If-None-Match": etag})
        weak = client.get("/api/v1/hot", headers={**HEADERS, "If-None-Match": f"W/{etag}"})
        other = client.get(
            "/api/v1/hot", params={"offset": 1}, headers={**HEADERS, "If-None-Match": etag}
        )
    assert first.headers["cache-control"] == "private, max-age=5"
    assert "Authorization" in first.headers["vary"]
    assert again.status_code == weak.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert other.status_code == 200


def test_no_snapshot_is_503_with_retry_after(
    api_factory: Callable[..., ApiServer], redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    # A server that never held a snapshot (one that did keeps serving it, stale: see
    # test_stale_http.py).
    api = api_factory(redis_server.url)
    with api.client() as client:
        response = client.get("/api/v1/hot", headers=HEADERS)
        ready = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "no_snapshot"
    assert int(response.headers["retry-after"]) > 0
    assert ready.status_code == 503


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/nothing", 404, "not_found"),
        ("GET", "/api/v1/hot/extra/segment", 404, "not_found"),
        ("POST", "/api/v1/hot", 405, "method_not_allowed"),
        ("DELETE", "/healthz", 405, "method_not_allowed"),
    ],
)
def test_unknown_routes_and_methods_answer_json(
    api: ApiServer, method: str, path: str, status: int, code: str
) -> None:
    with api.client() as client:
        response = client.request(method, path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_operations_endpoints(api: ApiServer, redis_client: redis.Redis) -> None:
    sid = publish(redis_client, random_items(5, 5, seed=9))
    with api.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        client.get("/api/v1/hot", headers=HEADERS)
        metrics = client.get("/metrics").text
        schema = client.get("/schema/openapi.json").json()
        docs = client.get("/schema")
    assert ready["status"] == "ready"
    assert ready["snapshotId"] == sid
    assert 'hot_http_requests_total{method="GET",route="/api/v1/hot",status="200"}' in metrics
    assert "hot_http_request_duration_seconds_bucket" in metrics
    assert re.search(r"^hot_snapshot_age_seconds \d", metrics, re.MULTILINE)
    assert "/api/v1/hot" in schema["paths"]
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    # The docs page is rendered by the app itself: no CDN script to fetch.
    assert "<code>/api/v1/hot</code>" in docs.text
    assert "<script" not in docs.text


def test_access_log_is_json(api: ApiServer, redis_client: redis.Redis) -> None:
    with api.client() as client:
        client.get("/healthz", params={"probe": "access-log"})
    deadline = time.monotonic() + 10
    while True:
        lines = [
            msgspec.json.decode(line)
            for line in api.log.read_text().splitlines()
            if line.startswith("{") and '"serving.access"' in line
        ]
        if any(entry["path"] == "/healthz" for entry in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert any(entry["path"] == "/healthz" and entry["status"] == 200 for entry in lines)
    assert all({"ts", "method", "route", "status", "durationMs"} <= set(entry) for entry in lines)
