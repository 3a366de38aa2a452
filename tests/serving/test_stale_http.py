"""Redis dies and comes back: stale serving within the bound, then 503, then recovery."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from hot.local.redis_server import EmbeddedRedis
from tests.serving.api_support import FLAG_ON, bearer, publish, random_items, token
from tests.serving.conftest import ApiServer

HEADERS = {**bearer(token()), **FLAG_ON}


def _poll(client: httpx.Client, done: Callable[[httpx.Response], bool]) -> httpx.Response:
    """GET the feed until ``done`` (never a 5xx other than 503), for at most 30 s."""
    deadline = time.monotonic() + 30
    while True:
        response = client.get("/api/v1/hot", headers=HEADERS)
        assert response.status_code in {200, 503}, response.text
        if done(response):
            return response
        assert time.monotonic() < deadline, response.text
        time.sleep(0.1)


def test_redis_outage_is_served_stale_then_503_then_recovers(
    tmp_path: Path, api_factory: Callable[..., ApiServer]
) -> None:
    store = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    try:
        first = publish(redis.Redis.from_url(store.url), random_items(20, 8, seed=41))
        api = api_factory(store.url, HOT_STALE_SERVE_SEC="2")
        with api.client() as client:
            fresh = client.get("/api/v1/hot", headers=HEADERS)
            assert fresh.status_code == 200
            assert "x-hot-stale" not in fresh.headers

            store.kill()
            stale = client.get("/api/v1/hot", headers=HEADERS)
            assert stale.status_code == 200
            assert stale.headers["x-hot-stale"] == "1"
            assert "stale" in stale.headers["warning"].lower()
            assert stale.json()["items"] == fresh.json()["items"]
            ready = client.get("/readyz")
            assert ready.status_code == 200  # still serving: not pulled out of the balancer
            assert ready.json()["staleReason"] == "redis is unreachable"
            assert ready.json()["staleSec"] >= 0

            gone = _poll(client, lambda r: r.status_code == 503)
            assert gone.json()["error"]["code"] == "unavailable"
            assert int(gone.headers["retry-after"]) > 0

            store = EmbeddedRedis(tmp_path / "redis", port=store.port, persist=False).start()
            second = publish(redis.Redis.from_url(store.url), random_items(20, 8, seed=42))
            back = _poll(client, lambda r: r.status_code == 200)
            assert "x-hot-stale" not in back.headers
            assert back.json()["snapshotId"] == second != first
            assert client.get("/readyz").status_code == 200
    finally:
        store.stop()


def test_redis_back_empty_keeps_serving_the_held_snapshot(
    tmp_path: Path, api_factory: Callable[..., ApiServer]
) -> None:
    store = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    try:
        first = publish(redis.Redis.from_url(store.url), random_items(30, 12, seed=43))
        api = api_factory(store.url, HOT_STALE_SERVE_SEC="4")
        with api.client() as client:
            fresh = client.get("/api/v1/hot?limit=5", headers=HEADERS)
            assert fresh.status_code == 200
            pinned = f"/api/v1/hot?limit=5&offset=5&snapshot={first}"
            page_two = client.get(pinned, headers=HEADERS).json()["items"]

            # A restart without persistence: Redis answers, but holds nothing.
            store.kill()
            store = EmbeddedRedis(tmp_path / "redis", port=store.port, persist=False).start()
            stale = client.get("/api/v1/hot?limit=5", headers=HEADERS)
            assert stale.status_code == 200
            assert stale.headers["x-hot-stale"] == "1"
            assert int(stale.headers["x-hot-stale-age"]) >= 0
            assert stale.json()["items"] == fresh.json()["items"]
            assert client.get(pinned, headers=HEADERS).json()["items"] == page_two
            # Once the client has reconnected (it backs off a second after the restart's
            # reset), the cause is known: Redis answers but lost the snapshot.
            deadline = time.monotonic() + 10
            while (ready := client.get("/readyz").json())[
                "staleReason"
            ] != "redis has lost the snapshot":
                assert ready["status"] == "stale"
                assert time.monotonic() < deadline, ready
                time.sleep(0.2)
            metrics = client.get("/metrics").text
            assert "hot_stale_seconds" in metrics

            # The pipeline republishes: fresh again, and the old pin keeps paging from memory
            # (Redis lost its history; no newer snapshots pushed it out).
            second = publish(redis.Redis.from_url(store.url), random_items(30, 12, seed=43))
            back = _poll(client, lambda r: "x-hot-stale" not in r.headers)
            assert back.json()["snapshotId"] == second != first
            assert client.get("/readyz").json()["status"] == "ready"
            again = client.get(pinned, headers=HEADERS)
            assert again.status_code == 200
            assert again.headers["x-hot-stale"] == "1"
            assert again.json()["items"] == page_two

            # Past the stale window the lost pin is expired like any other.
            deadline = time.monotonic() + 30
            while (gone := client.get(pinned, headers=HEADERS)).status_code == 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert gone.status_code == 410
            assert gone.json()["error"]["code"] == "snapshot_expired"
    finally:
        store.stop()


def test_empty_redis_past_the_stale_window_is_a_503_with_retry_after(
    tmp_path: Path, api_factory: Callable[..., ApiServer]
) -> None:
    store = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    try:
        publish(redis.Redis.from_url(store.url), random_items(10, 5, seed=44))
        api = api_factory(store.url, HOT_STALE_SERVE_SEC="1")
        with api.client() as client:
            assert client.get("/api/v1/hot", headers=HEADERS).status_code == 200
            redis.Redis.from_url(store.url).flushall()
            gone = _poll(client, lambda r: r.status_code == 503)
            assert gone.json()["error"]["code"] == "unavailable"
            assert int(gone.headers["retry-after"]) > 0
            assert client.get("/readyz").status_code == 503
    finally:
        store.stop()
