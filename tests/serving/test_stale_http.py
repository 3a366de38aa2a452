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
            assert client.get("/readyz").status_code == 503

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
