"""Redis dies and comes back: stale serving within the bound, then 503, then recovery."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from hot.local.redis_server import EmbeddedRedis
from tests.serving.api_support import FLAG_ON, SUITE_TTL, bearer, publish, random_items, token
from tests.serving.conftest import ApiServer

HEADERS = {**bearer(token(ttl=SUITE_TTL)), **FLAG_ON}


@dataclass
class Store:
    """The test's own Redis (no persistence), restartable empty on the same port."""

    directory: Path
    server: EmbeddedRedis

    @property
    def url(self) -> str:
        """Where the API and the publisher reach it."""
        return self.server.url

    def publish(self, count: int, creators: int, seed: int) -> str:
        """Publish a random snapshot; its id."""
        return publish(redis.Redis.from_url(self.url), random_items(count, creators, seed=seed))

    def kill(self) -> None:
        """Gone without saving: a crash."""
        self.server.kill()

    def start_empty(self) -> None:
        """Back on the same port with nothing in it (a restart without persistence)."""
        self.server = EmbeddedRedis(self.directory, port=self.server.port, persist=False).start()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A Redis of the test's own, stopped at the end."""
    directory = tmp_path / "redis"
    own = Store(directory, EmbeddedRedis(directory, persist=False).start())
    yield own
    own.server.stop()


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
    store: Store, api_factory: Callable[..., ApiServer]
) -> None:
    first = store.publish(20, 8, 41)
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

        store.start_empty()
        second = store.publish(20, 8, 42)
        back = _poll(client, lambda r: r.status_code == 200)
        assert "x-hot-stale" not in back.headers
        assert back.json()["snapshotId"] == second != first
        assert client.get("/readyz").status_code == 200


def test_redis_back_empty_keeps_serving_the_held_snapshot(
    store: Store, api_factory: Callable[..., ApiServer]
) -> None:
    first = store.publish(30, 12, 43)
    api = api_factory(store.url, HOT_STALE_SERVE_SEC="4")
    with api.client() as client:
        fresh = client.get("/api/v1/hot?limit=5", headers=HEADERS)
        assert fresh.status_code == 200
        pinned = f"/api/v1/hot?limit=5&offset=5&snapshot={first}"
        page_two = client.get(pinned, headers=HEADERS).json()["items"]

        # A restart without persistence: Redis answers, but holds nothing.
        store.kill()
        store.start_empty()
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
        second = store.publish(30, 12, 43)
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


def test_empty_redis_past_the_stale_window_is_a_503_with_retry_after(
    store: Store, api_factory: Callable[..., ApiServer]
) -> None:
    store.publish(10, 5, 44)
    api = api_factory(store.url, HOT_STALE_SERVE_SEC="1")
    with api.client() as client:
        assert client.get("/api/v1/hot", headers=HEADERS).status_code == 200
        redis.Redis.from_url(store.url).flushall()
        gone = _poll(client, lambda r: r.status_code == 503)
        assert gone.json()["error"]["code"] == "unavailable"
        assert int(gone.headers["retry-after"]) > 0
        assert client.get("/readyz").status_code == 503
