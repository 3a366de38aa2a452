"""Fixtures of the dbt tests: one local Spark session for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dbt.hot_dbt_spark import SparkWarehouse


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkWarehouse]:
    """A local Spark session (``local[2]``, with Delta Lake) that dbt-spark's session method
    shares, with its warehouse and metastore in a temporary ``HOT_DATA_DIR``; stopped at the
    end."""
    from tests.dbt.hot_dbt_spark import SparkWarehouse, start_session

    data_dir = tmp_path_factory.mktemp("spark_hot")
    warehouse = SparkWarehouse(start_session(data_dir), data_dir)
    yield warehouse
    warehouse.spark.stop()
