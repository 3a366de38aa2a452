"""The raw tables as Delta tables (HOT_SPARK_TABLE_FORMAT=delta, SPEC §9).

The warehouse seam creates them in the tests' Delta-enabled session; a batch is written as the
ingest writes one (its own partition, by overwrite: a retry replaces it), and a batch whose
ledger row never came is deleted by ``recover`` before the next one. A warehouse made in one
format refuses the other with one line, and so do Delta without its jars and an unknown format.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from hot import warehouse as hot_warehouse
from hot.settings import Settings
from tests.dbt.hot_dbt_spark import MASTER

pytestmark = pytest.mark.timeout(600)

# The shape of the ingest's write (dbt/macros/ingest.sql, spark__hot_ingest_insert).
EVENT = (
    "insert overwrite table raw.events partition (batch_id = :batch_id) "
    "(event_id, type, video_id, user_id, occurred_at, watch_time_sec, source_file, line_no, "
    "ingested_at) select concat('e', :batch_id), 'like', 'v1', 'u1', "
    "timestamp'2026-01-01 00:00:00', null, concat('f', :batch_id), 1, "
    "timestamp'2026-01-01 00:00:01'"
)


def test_delta_raw_batches_and_recover(spark_warehouse) -> None:
    settings = replace(
        Settings.from_env(),
        engine="spark",
        spark_host=None,
        data_dir=spark_warehouse.data_dir,
        spark_master=MASTER,
        spark_table_format="delta",
    )
    warehouse = hot_warehouse.SparkWarehouse.open(settings)
    warehouse.ensure_raw()
    detail = warehouse.execute("describe table extended raw.events").fetchall()
    assert ("Provider", "delta") in {(r[0], r[1]) for r in detail}

    for batch in (1, 1, 2):  # batch 1 written twice (a retry), batch 2 never committed
        warehouse.execute(EVENT, {"batch_id": batch})
    warehouse.execute(
        "insert into raw.ingested_files values "
        "('f1', 'events', 1, 1, 1, 0, 0, timestamp'2026-01-01 00:00:01')"
    )
    rows = "select batch_id, count(*) from raw.events group by batch_id order by batch_id"
    assert warehouse.execute(rows).fetchall() == [(1, 1), (2, 1)]
    warehouse.recover()
    assert warehouse.execute(rows).fetchall() == [(1, 1)]

    parquet = hot_warehouse.SparkWarehouse.open(replace(settings, spark_table_format="parquet"))
    with pytest.raises(ValueError, match="HOT_SPARK_TABLE_FORMAT=parquet but the raw tables"):
        parquet.ensure_raw()
