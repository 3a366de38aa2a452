"""The dbt project on Spark (dbt-spark, a local session; plain parquet and Delta tables) equals
DuckDB.

The same raw rows go through both engines in five incremental passes: the first catalogue and
events; a late catalogue row (v13), creator changes, a takedown (v06) and earlier likes that
displace counted ones; a catalogue/moderation-only pass (v07's creator back, v08 back to review,
v09 decided); the last events; a pass with nothing new. After every pass the scores, the feed,
the review queue and the per-(user, video) interactions of Spark equal DuckDB's to 1e-9
relative, and the feed and the queue equal the oracle's (SPEC §3) for the rows loaded so far.
The first Spark pass is a `dbt build` on a fresh schema: every unit test and data test runs.
With HOT_SPARK_TABLE_FORMAT=delta the state tables are Delta tables kept by `merge`: the first
two passes (the second updates stored keys and adds new ones) equal parquet's and DuckDB's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.dbt.dataset import NOW, dataset
from tests.dbt.hot_dbt_helpers import insert_raw, query, run_dbt
from tests.oracle import DEFAULTS, SIGNALS, Oracle, assert_parts, latest_state, rel_close

TOP_N = 6
VARS = {"now_epoch": NOW, "top_n": TOP_N}
HALF_LIFE = DEFAULTS.half_life_sec

# (catalogue/moderation batches, event part -> batch id) loaded before each pass
PASSES: list[tuple[set[int], dict[int, int]]] = [
    ({1}, {0: 2}),
    ({3}, {1: 4}),
    ({5}, {}),
    (set(), {2: 6}),
    (set(), {}),
]

# What is compared, per relation: (select list, order); float columns compare to 1e-9.
COMPARED = {
    "marts.fct_hot_feed": (
        "rank, video_id, hot_score, score_log2, likes, comments, shares, watch_time_sec, "
        "creator_id, creator_name, title, unix_micros(generated_at) as generated_us, "
        "likes_part, comments_part, watch_part, shares_part",
        "rank",
    ),
    "marts.fct_review_queue": (
        "rank, would_be_rank, video_id, hot_score, score_log2, moderation_status",
        "rank",
    ),
    "intermediate.int_video_scores": (
        "video_id, creator_id_applied, anchor_epoch, decayed_mass, likes_mass, comments_mass, "
        "watch_mass, shares_mass, likes, comments, shares, watches, watch_sec, counted_events, "
        "applied_batch_id",
        "video_id",
    ),
    "intermediate.int_ring_accounts": (
        "user_id, video_id, is_single_purpose, status_batch_id, applied_batch_id",
        "user_id",
    ),
    "intermediate.int_ring_videos": (
        "video_id, is_ring, ring_accounts, ring_events, counted_likes_shares, ring_start_us, "
        "ring_end_us, ring_accounts_sample, applied_batch_id",
        "video_id",
    ),
    "marts.fct_user_video_interactions": (
        "user_id, video_id, likes, comments, shares, watches, watch_sec, interaction_weight, "
        "last_event_epoch, is_creator, creator_id_applied, applied_batch_id",
        "user_id, video_id",
    ),
}

pytestmark = pytest.mark.timeout(900)  # 5 passes on Spark, pass 1 a full build with every test


def snapshot(run_query, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """The compared relations of the schema ``prefix`` (``main`` on DuckDB)."""
    return {
        name: run_query(f"select {cols} from {prefix}_{name} order by {order}")
        for name, (cols, order) in COMPARED.items()
    }


def assert_same(spark_rows: dict, duck_rows: dict, pass_no: int) -> None:
    for name, duck in duck_rows.items():
        spark = spark_rows[name]
        assert len(spark) == len(duck), (pass_no, name)
        for s, d in zip(spark, duck, strict=True):
            assert s.keys() == d.keys()
            for col, dv in d.items():
                sv = s[col]
                if isinstance(dv, float) and sv is not None:
                    assert rel_close(sv, dv), (pass_no, name, col, s, d)
                else:
                    assert sv == dv, (pass_no, name, col, s, d)


def duck_query(db: Path):
    def run(sql: str) -> list[dict[str, Any]]:
        # DuckDB spells unix_micros epoch_us
        return query(db, sql.replace("unix_micros(", "epoch_us("))

    return run


def oracle_so_far(data: dict, loaded_meta: set[int], loaded_parts: set[int]) -> Oracle:
    events = [e for e in data["events"] if e["part"] in loaded_parts]
    videos = [r for r in data["videos"] if r["batch_id"] in loaded_meta]
    moderation = [r for r in data["moderation"] if r["batch_id"] in loaded_meta]
    return Oracle.build(events, *latest_state(videos, moderation))


def test_spark_passes_equal_duckdb(tmp_path: Path, spark_warehouse) -> None:
    data = dataset()
    spark = spark_warehouse.schema("equal")
    db = tmp_path / "warehouse.duckdb"
    loaded_meta: set[int] = set()
    loaded_parts: set[int] = set()
    oracles: list[Oracle] = []

    for pass_no, (meta, events) in enumerate(PASSES, start=1):
        insert_raw(db, data, meta, events)
        spark.insert_raw(data, meta, events)
        loaded_meta |= meta
        loaded_parts |= set(events)

        run_dbt(db, tmp_path / "duckdb", "run", dbt_vars=VARS)
        # the first pass builds a fresh schema with every unit and data test
        spark.dbt(tmp_path / "spark", "build" if pass_no == 1 else "run", dbt_vars=VARS)

        duck = snapshot(duck_query(db), "main")
        assert_same(snapshot(spark.query, spark.name), duck, pass_no)

        oracle = oracle_so_far(data, loaded_meta, loaded_parts)
        oracles.append(oracle)
        feed = duck["marts.fct_hot_feed"]
        assert [r["video_id"] for r in feed] == oracle.feed(TOP_N), pass_no
        for r in feed:
            assert rel_close(r["hot_score"], oracle.score(r["video_id"], NOW)), (pass_no, r)
            parts = {s: r[f"{s}_part"] for s in SIGNALS}
            assert_parts(parts, r["hot_score"], oracle.parts(r["video_id"], NOW))
        queue = duck["marts.fct_review_queue"]
        assert [(r["video_id"], r["would_be_rank"]) for r in queue] == oracle.queue(TOP_N)

    # what the passes went through: a takedown, a late catalogue row, displaced likes/shares
    assert oracles[0].status("v06") == "approved" and oracles[1].status("v06") == "removed"
    assert "v13" not in oracles[0].creator_of and "v13" in oracles[1].creator_of
    signs = spark.query(
        f"select distinct sign from {spark.name}_intermediate.int_counted_events order by sign"
    )
    assert [r["sign"] for r in signs] == [-1, 1]


def test_delta_merge_equals_parquet_and_duckdb(tmp_path: Path, spark_warehouse) -> None:
    data = dataset()
    db = tmp_path / "warehouse.duckdb"
    schemas = {fmt: spark_warehouse.schema(f"fmt_{fmt}", fmt) for fmt in ("parquet", "delta")}

    for pass_no, (meta, events) in enumerate(PASSES[:2], start=1):
        insert_raw(db, data, meta, events)
        run_dbt(db, tmp_path / "duckdb", "run", dbt_vars=VARS)
        duck = snapshot(duck_query(db), "main")
        built = {}
        for fmt, schema in schemas.items():
            schema.insert_raw(data, meta, events)
            schema.dbt(tmp_path / fmt, "run", dbt_vars=VARS)
            built[fmt] = snapshot(schema.query, schema.name)
            assert_same(built[fmt], duck, pass_no)
        assert_same(built["delta"], built["parquet"], pass_no)

    # each schema's state tables are what its format makes them: Delta kept by merge, parquet
    # by bucket overwrite
    for fmt, schema in schemas.items():
        for table in ("intermediate.int_video_scores", "marts.fct_user_video_interactions"):
            detail = schema.query(f"describe table extended {schema.name}_{table}")
            provider = next(r["data_type"] for r in detail if r["col_name"] == "Provider")
            assert provider == fmt, (fmt, table)
            columns = {r["col_name"] for r in detail}
            assert ("state_bucket" in columns) == (fmt == "parquet"), (fmt, table)
    history = schemas["delta"].query("describe history fmt_delta_intermediate.int_video_scores")
    assert "MERGE" in {r["operation"] for r in history}
