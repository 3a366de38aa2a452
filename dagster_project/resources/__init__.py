"""Dagster resources: the DuckDB warehouse and Redis (dbt runs in-process: ``dbt_inprocess``).

Paths and URLs default to the settings read when the resource is *used*, so one code
location serves whatever ``HOT_DATA_DIR`` / ``HOT_REDIS_URL`` the run has.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import redis
from dagster import ConfigurableResource

from hot import warehouse
from hot.settings import get_settings


class WarehouseResource(ConfigurableResource):
    """The DuckDB file shared by ingest, dbt and publish (one writer at a time)."""

    path: str | None = None

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection that is closed on exit, so dbt can open the file next."""
        con = warehouse.connect(Path(self.path or get_settings().duckdb_path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()


class RedisResource(ConfigurableResource):
    """The Redis server the snapshot is published to."""

    url: str | None = None

    def client(self) -> redis.Redis:
        """A client with short timeouts, so a dead server fails a run instead of hanging it."""
        url = self.url or get_settings().redis_url
        if not url:
            raise RuntimeError(
                "HOT_REDIS_URL is not set: run the pipeline through `hot demo` / `hot run` "
                "(they start an embedded Redis) or point HOT_REDIS_URL at a server"
            )
        return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def default_resources() -> dict[str, object]:
    """The resources of the code location."""
    return {
        "warehouse": WarehouseResource(),
        "redis": RedisResource(),
    }
