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
    # A small embeddings training budget (tuning, check, final fit): the test worlds are small.
    os.environ.setdefault("HOT_EMBED_TUNE_BUDGET_SEC", "20")


FIXTURE_MARKERS = {
    "spark_warehouse": ("spark",),
    "spark_cluster": ("cluster", "spark"),
    "kafka_broker": ("kafka",),
    "browser": ("browser",),
    "published_base": ("stack",),
    "redis_cluster": ("cluster",),
    "hot_cluster": ("cluster",),
    "postgres": ("cluster",),
}
"""The tiers a fixture puts a test in (pyproject.toml describes each marker). A test gets the
marker of every fixture it uses, directly or through other fixtures: ``item.fixturenames``
is that closure."""

PROCESS_MARKERS = {
    "tests/cluster/postgres/": ("pipeline", "system"),
    "tests/e2e/": ("pipeline", "system"),
    "tests/pipeline/test_cli.py": ("pipeline",),
    "tests/pipeline/test_cli_signals.py": ("pipeline", "system"),
    "tests/pipeline/test_embeddings.py": ("pipeline",),
    "tests/pipeline/test_kafka_cli.py": ("kafka", "system"),
    "tests/pipeline/test_kafka_e2e.py": ("pipeline",),
    "tests/pipeline/test_push.py": ("pipeline", "system"),
    "tests/pipeline/test_snapshot_watch.py": ("pipeline",),
    "tests/pipeline/test_spark_ingest.py": ("spark",),
    "tests/pipeline/test_spark_kafka.py": ("spark", "pipeline"),
    "tests/pipeline/test_spark_pipeline.py": ("spark", "pipeline", "system"),
    "tests/pipeline/test_warm_run.py": ("pipeline",),
    "tests/serving/test_personal.py": ("pipeline",),
    "tests/serving/test_redis_cluster.py": ("pipeline",),
}
"""What no fixture says: modules (or folders) whose tests run Dagster passes in the test's
process (``pipeline``), or start Spark, Kafka or the whole system (``hot run``, ``hot serve``,
``hot demo``, ``dagster dev``) as processes of their own."""

ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with the tiers of the fixtures it uses (``FIXTURE_MARKERS``) and of the
    processes its module starts (``PROCESS_MARKERS``)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        tiers = {t for name in names & FIXTURE_MARKERS.keys() for t in FIXTURE_MARKERS[name]}
        where = item.path.relative_to(ROOT).as_posix()
        for prefix, markers in PROCESS_MARKERS.items():
            if where == prefix or (prefix.endswith("/") and where.startswith(prefix)):
                tiers.update(markers)
        for tier in sorted(tiers):
            item.add_marker(tier)


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
