"""Dagster resources: the warehouse (DuckDB or Spark, ``HOT_ENGINE``) and Redis (dbt runs
in-process: ``dbt_inprocess``).

Paths and URLs default to the settings read when the resource is *used*, so one code
location serves whatever ``HOT_DATA_DIR`` / ``HOT_REDIS_URL`` the run has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from hot import redis_client, warehouse
from hot.settings import get_settings

LOCK_WAIT_SEC = 120.0
"""How long a run waits for another process to let go of the DuckDB file before it fails: a
background run holds it for a read or an incremental model, seconds; the full-scan checks
for their whole scan."""


class WarehouseResource(ConfigurableResource):
    """The warehouse shared by ingest, dbt and publish: the DuckDB file (one writer at a time)
    or, with ``HOT_ENGINE=spark``, Spark (:class:`hot.warehouse.SparkWarehouse`)."""

    path: str | None = None
    """The DuckDB file (default: the settings'); unused on Spark."""

    @contextmanager
    def connect(
        self, read_only: bool = False, on_lock_wait: Callable[[float], object] | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection | warehouse.SparkWarehouse]:
        """A connection that is closed on exit, so dbt can open the DuckDB file next. Both
        kinds answer ``execute(sql).fetchall()``; :func:`hot.warehouse.as_warehouse` gives
        the rest of the :class:`~hot.warehouse.Warehouse` seam. While another process holds
        the DuckDB file (a background run's brief read or write), it waits for it, up to
        ``LOCK_WAIT_SEC``; ``on_lock_wait`` is told how long it waited."""
        path = Path(self.path) if self.path else None
        con = warehouse.open_warehouse(
            get_settings(),
            read_only=read_only,
            path=path,
            wait_sec=LOCK_WAIT_SEC,
            on_wait=on_lock_wait,
        )
        try:
            yield con
        finally:
            con.close()


class RedisResource(ConfigurableResource):
    """The Redis server (or Redis Cluster, ``HOT_REDIS_CLUSTER=1``) snapshots go to."""

    url: str | None = None

    def client(self) -> redis_client.SyncRedis:
        """A client with short timeouts, so a dead server fails a run instead of hanging it."""
        return redis_client.connect(get_settings(), self.url)


def default_resources() -> dict[str, object]:
    """The resources of the code location."""
    return {
        "warehouse": WarehouseResource(),
        "redis": RedisResource(),
    }
