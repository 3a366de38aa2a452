"""A live stack for the web-UI and moderation tests.

:func:`publish_base` runs the REAL pipeline once (simulated catalogue + events → Dagster →
dbt → Redis) and keeps the result: the data dir and a dump of every Redis key. Each test
module then gets its own copy through :func:`running_stack` — a copy of the data dir (so the
next ``run_pipeline`` continues incrementally from it), its own ``redis-server`` restored
from the dump, and the app under uvicorn in a thread on a free port.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from dagster_project.instance import ensure_dagster_home
from dagster_project.runner import PassResult, run_pipeline
from hot.local.redis_server import EmbeddedRedis, free_port
from hot.local.simulate import Simulator, build_world
from hot.settings import Settings, get_settings
from serving.app import create_app
from serving.core.auth import mint_token

SECRET = "ui-test-secret-" + "y" * 32
FLAG_ON = {"X-Feature-Flag": "hot_enabled=1"}


@dataclass(frozen=True)
class Published:
    """The state one real pipeline pass left: its data dir and its Redis keys."""

    data_dir: Path
    redis_dump: list[tuple[bytes, int, bytes]]


@contextmanager
def hot_environment(data_dir: Path, redis_url: str) -> Iterator[Settings]:
    """``HOT_*`` variables (and ``DAGSTER_HOME``) pointing at ``data_dir`` and ``redis_url``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOT_DATA_DIR", str(data_dir))
        patch.setenv("HOT_REDIS_URL", redis_url)
        patch.setenv("HOT_JWT_SECRET", SECRET)
        patch.setenv("HOT_DEV_LOGIN", "1")
        patch.setenv("HOT_FEATURE_FLAG_DEFAULT", "0")
        # Off by default; on here so the personal tests exercise the demotion path too.
        patch.setenv("HOT_PERSONAL_DEMOTE_WATCHED", "0.5")
        patch.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))
        get_settings.cache_clear()
        try:
            yield get_settings()
        finally:
            get_settings.cache_clear()


def _dump(client: redis.Redis) -> list[tuple[bytes, int, bytes]]:
    dump = []
    for key in client.scan_iter(count=1000):
        value = client.dump(key)
        assert isinstance(value, bytes)
        dump.append((key, max(client.pttl(key), 0), value))
    return dump


def publish_base(directory: Path) -> Published:
    """One real pipeline pass over a small synthetic world (~125 videos, 3,000 events)."""
    data_dir = directory / "hot"
    server = EmbeddedRedis(directory / "redis", persist=False).start()
    try:
        with hot_environment(data_dir, server.url) as settings:
            world = build_world(n_creators=16, videos_per_creator=4, n_users=200)
            sim = Simulator(settings.landing_dir, world)
            sim.write_catalogue()
            sim.write_events(1500)
            sim.write_events(1500)
            ensure_dagster_home()
            result = run_pipeline(now_epoch=time.time())
            assert result.success, result.error
        dump = _dump(redis.Redis.from_url(server.url))
    finally:
        server.stop()
    shutil.rmtree(data_dir / "dagster_home", ignore_errors=True)
    return Published(data_dir=data_dir, redis_dump=dump)


class LiveServer:
    """The app served by uvicorn in a background thread on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


@dataclass
class Stack:
    """A running copy of the published state: data dir, Redis, and the app over HTTP."""

    data_dir: Path
    settings: Settings
    redis: redis.Redis
    redis_url: str
    url: str

    def token(self, sub: str, moderator: bool = False, ttl: int = 3600) -> str:
        """A token signed with the stack's secret (``ttl`` < 0 gives an expired one)."""
        return mint_token(self.settings, sub, ("moderator",) if moderator else (), ttl=ttl)

    def client(self, token: str | None = None, **headers: str) -> httpx.Client:
        """An HTTP client of the server with the flag on (and a bearer token if given)."""
        sent = {**FLAG_ON, **headers}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=sent, timeout=10.0)

    def feed(self, **params: Any) -> dict[str, Any]:
        """``GET /api/v1/hot`` as a viewer (``limit`` 100 unless given)."""
        params.setdefault("limit", 100)
        with self.client(self.token("api-reader")) as http:
            response = http.get("/api/v1/hot", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def run_batch(self) -> PassResult:
        """The next real pipeline pass over this stack's data dir and Redis."""
        with hot_environment(self.data_dir, self.redis_url):
            ensure_dagster_home()
            result = run_pipeline(now_epoch=time.time())
        assert result.success, result.error
        return result

    @contextmanager
    def other_server(self, **overrides: Any) -> Iterator[LiveServer]:
        """A second app with some settings changed (e.g. a dead ``redis_url``)."""
        with LiveServer(dataclasses.replace(self.settings, **overrides)) as server:
            yield server


@contextmanager
def running_stack(base: Published, directory: Path) -> Iterator[Stack]:
    """Copy ``base`` into ``directory``, restore its Redis, serve the app; stop at exit."""
    data_dir = directory / "hot"
    shutil.copytree(base.data_dir, data_dir)
    server = EmbeddedRedis(directory / "redis", persist=False).start()
    client = redis.Redis.from_url(server.url)
    try:
        for key, ttl, value in base.redis_dump:
            client.restore(key, ttl, value, replace=True)
        with hot_environment(data_dir, server.url) as settings, LiveServer(settings) as live:
            yield Stack(data_dir, settings, client, server.url, live.url)
    finally:
        client.close()
        server.stop()
