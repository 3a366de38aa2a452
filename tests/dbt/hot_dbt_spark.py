"""Helpers for the dbt tests on Spark: one local session, raw tables, dbt runs.

dbt-spark's ``session`` method runs dbt's SQL in this process's Spark session: it calls
``SparkSession.builder.getOrCreate()`` with the profile's settings, so a session started here
first (with the settings the profile gives a new one) is the one dbt uses, and the tests load
and read the same tables through it. Each scenario works in its own schema prefix, on plain
parquet or Delta tables: the session has Delta Lake, whose catalogue keeps parquet tables as
they are (one session per process: its catalogue is fixed when it starts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from hot.settings import Settings
from hot.warehouse import spark_conf
from hot.warehouse.schema import spark_columns
from tests.dbt.hot_dbt_helpers import invoke_dbt, raw_rows

MASTER = "local[2]"

# The raw tables dbt reads as sources, as ingest creates them on Spark (hot/warehouse/schema.py).
RAW_COLUMNS = {
    table: ", ".join(f"{column} {kind}" for column, kind in spark_columns(table))
    for table in ("events", "videos", "creators", "moderation")
}


def start_session(data_dir: Path) -> SparkSession:
    """This process's local Spark session as the pipeline creates it for
    ``HOT_DATA_DIR=data_dir`` and ``HOT_SPARK_TABLE_FORMAT=delta``
    (:func:`hot.warehouse.spark_conf`: warehouse, Derby metastore, UTC, Delta Lake), on
    ``local[2]``."""
    settings = replace(
        Settings.from_env(), data_dir=data_dir, spark_master=MASTER, spark_table_format="delta"
    )
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _utc(value: Any) -> Any:
    # The dataset's timestamps are naive UTC; pyspark reads a naive datetime as local time.
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


@dataclass(frozen=True)
class SparkWarehouse:
    """The session and its ``HOT_DATA_DIR`` (warehouse and metastore under ``spark/``)."""

    spark: SparkSession
    data_dir: Path

    def schema(self, name: str, table_format: str = "parquet") -> SparkSchema:
        """A scenario of its own in the shared session, its raw tables created empty, its
        tables in ``table_format`` (``HOT_SPARK_TABLE_FORMAT``)."""
        schema = SparkSchema(self.spark, self.data_dir, name, table_format)
        schema.create_raw()
        return schema


@dataclass(frozen=True)
class SparkSchema:
    """One scenario in the shared session: raw tables in ``<name>_raw``, the models in
    ``<name>_staging``, ``<name>_intermediate`` and ``<name>_marts``."""

    spark: SparkSession
    data_dir: Path
    name: str
    table_format: str = "parquet"

    def env(self) -> dict[str, str]:
        """The HOT_* variables that point the dbt profile at this schema on Spark."""
        return {
            "HOT_ENGINE": "spark",
            "HOT_DATA_DIR": str(self.data_dir),
            "HOT_SPARK_MASTER": MASTER,
            "HOT_SPARK_SCHEMA": self.name,
            "HOT_RAW_SCHEMA": f"{self.name}_raw",
            "HOT_SPARK_TABLE_FORMAT": self.table_format,
        }

    def create_raw(self) -> None:
        """Create the empty raw tables (in the schema's table format)."""
        self.spark.sql(f"create database if not exists {self.name}_raw")
        for table, columns in RAW_COLUMNS.items():
            self.spark.sql(
                f"create table if not exists {self.name}_raw.{table} ({columns}) "
                f"using {self.table_format}"
            )

    def insert_raw(
        self,
        data: dict[str, list[dict]],
        meta_batches: Iterable[int],
        event_batch: dict[int, int],
    ) -> None:
        """Append the rows ``raw_rows`` gives (the DuckDB tests' rows) to the raw tables."""
        for table, rows in raw_rows(data, meta_batches, event_batch).items():
            if rows:
                frame = self.spark.createDataFrame(
                    [tuple(_utc(v) for v in row) for row in rows], RAW_COLUMNS[table]
                )
                frame.write.insertInto(f"{self.name}_raw.{table}")

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of ``sql`` as dicts."""
        return [row.asDict() for row in self.spark.sql(sql).collect()]

    def dbt(self, work_dir: Path, *args: str, dbt_vars: dict | None = None) -> Any:
        """``invoke_dbt`` on the Spark target, in this schema."""
        return invoke_dbt(self.env(), work_dir, *args, dbt_vars=dbt_vars)
