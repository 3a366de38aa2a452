"""Shared fixtures: real services on free ports, cleaned up after the session/test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from hot.local.redis_server import EmbeddedRedis
from hot.settings import get_settings

if TYPE_CHECKING:
    from tests.ui.stack import Published, Stack


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A real redis-server for the whole test session, on a free loopback port."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A client of the session's Redis, flushed before each test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def hot_env(
    tmp_path: Path, redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point HOT_* settings at a fresh data dir and the test Redis; returns the data dir."""
    data_dir = tmp_path / "hot"
    monkeypatch.setenv("HOT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HOT_REDIS_URL", redis_server.url)
    monkeypatch.setenv("HOT_JWT_SECRET", "test-secret-" + "x" * 32)
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))
    get_settings.cache_clear()
    redis.Redis.from_url(redis_server.url).flushall()
    yield data_dir
    get_settings.cache_clear()


def pytest_configure(config: pytest.Config) -> None:
    """Keep dbt and Dagster quiet and offline during tests."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


@pytest.fixture(scope="session")
def published_base(tmp_path_factory: pytest.TempPathFactory) -> Published:
    """One real pipeline pass (small synthetic world), shared read-only by ``live_stack``."""
    from tests.ui.stack import publish_base

    return publish_base(tmp_path_factory.mktemp("published"))


@pytest.fixture(scope="module")
def live_stack(
    published_base: Published, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Per module: a copy of ``published_base`` with its own Redis, served by uvicorn."""
    from tests.ui.stack import running_stack

    with running_stack(published_base, tmp_path_factory.mktemp("stack")) as stack:
        yield stack
