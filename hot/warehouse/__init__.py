"""The warehouse: the raw schema that ingest writes and dbt reads as sources, on either engine.

One module per job: :mod:`~hot.warehouse.seam` (what any engine does),
:mod:`~hot.warehouse.schema` (the raw tables, declared once and rendered per engine),
:mod:`~hot.warehouse.duck` (DuckDB), :mod:`~hot.warehouse.spark_env` (a local Spark session's
settings and the checks that it can run) and :mod:`~hot.warehouse.spark` (Spark behind the
seam). This package names what the rest of the code uses and opens the engine of
``HOT_ENGINE``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hot.warehouse.duck import DuckDBWarehouse, as_warehouse, connect
from hot.warehouse.seam import EngineUnavailable, Rows, Warehouse
from hot.warehouse.spark import SparkWarehouse
from hot.warehouse.spark_env import require_engine, spark_conf, spark_session

if TYPE_CHECKING:
    from hot.settings import Settings

__all__ = [
    "DuckDBWarehouse",
    "EngineUnavailable",
    "Rows",
    "SparkWarehouse",
    "Warehouse",
    "as_warehouse",
    "connect",
    "open_warehouse",
    "require_engine",
    "spark_conf",
    "spark_session",
]


def open_warehouse(
    settings: Settings,
    read_only: bool = False,
    path: Path | None = None,
    wait_sec: float = 0.0,
    on_wait: Callable[[float], object] | None = None,
) -> Any:
    """The warehouse of ``HOT_ENGINE``: a DuckDB connection to ``path`` (default: the
    settings' file; read-only if asked; waiting up to ``wait_sec`` for another process's
    lock, see :func:`~hot.warehouse.duck.connect`) or a :class:`SparkWarehouse` with its raw
    tables."""
    if settings.engine == "spark":
        spark = SparkWarehouse.open(settings)
        spark.ensure_raw()
        return spark
    return connect(
        path or settings.duckdb_path, read_only=read_only, wait_sec=wait_sec, on_wait=on_wait
    )
