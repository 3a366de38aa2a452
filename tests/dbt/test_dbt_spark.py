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

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.dbt.dataset import NOW, dataset
from tests.dbt.hot_dbt_helpers import insert_raw, query, run_dbt
from tests.oracle import DEFAULTS, SIGNALS, Oracle, assert_parts, latest_state, rel_close

if TYPE_CHECKING:
    from tests.dbt.hot_dbt_spark import SparkSchema, SparkWarehouse

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
        "first_event_epoch, last_event_epoch, is_creator, creator_id_applied, applied_batch_id",
        "user_id, video_id",
    ),
}

# 5 passes on Spark (pass 1 a full build with every test) and 2 on Delta, in the first setup:
# minutes on an idle 2-core machine, much more on a loaded one
pytestmark = pytest.mark.timeout(1800)


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


@dataclass
class Passes:
    """The five passes, run once for both tests: DuckDB and Spark (parquet) after each, and
    Delta after the first two (its tables kept by merge)."""

    data: dict[str, list[dict]]
    parquet: SparkSchema
    delta: SparkSchema
    duck: list[dict[str, list[dict[str, Any]]]] = field(default_factory=list)
    spark: list[dict[str, list[dict[str, Any]]]] = field(default_factory=list)
    delta_rows: list[dict[str, list[dict[str, Any]]]] = field(default_factory=list)
    oracles: list[Oracle] = field(default_factory=list)


@pytest.fixture(scope="module")
def passes(tmp_path_factory: pytest.TempPathFactory, spark_warehouse: SparkWarehouse) -> Passes:
    """Each pass's rows loaded into DuckDB and both Spark schemas, then dbt on each: the first
    Spark pass on parquet is a `dbt build` on a fresh schema (every unit and data test runs),
    the others `dbt run`. The tests only read what the passes left."""
    tmp = tmp_path_factory.mktemp("spark_passes")
    data = dataset()
    db = tmp / "warehouse.duckdb"
    run = Passes(
        data, spark_warehouse.schema("equal"), spark_warehouse.schema("fmt_delta", "delta")
    )
    loaded_meta: set[int] = set()
    loaded_parts: set[int] = set()
    for pass_no, (meta, events) in enumerate(PASSES, start=1):
        insert_raw(db, data, meta, events)
        run.parquet.insert_raw(data, meta, events)
        loaded_meta |= meta
        loaded_parts |= set(events)

        run_dbt(db, tmp / "duckdb", "run", dbt_vars=VARS)
        # the first pass builds a fresh schema with every unit and data test
        run.parquet.dbt(tmp / "spark", "build" if pass_no == 1 else "run", dbt_vars=VARS)
        run.duck.append(snapshot(duck_query(db), "main"))
        run.spark.append(snapshot(run.parquet.query, run.parquet.name))
        run.oracles.append(oracle_so_far(data, loaded_meta, loaded_parts))
        if pass_no <= 2:  # the second updates stored keys and adds new ones
            run.delta.insert_raw(data, meta, events)
            run.delta.dbt(tmp / "delta", "run", dbt_vars=VARS)
            run.delta_rows.append(snapshot(run.delta.query, run.delta.name))
    return run


def test_spark_passes_equal_duckdb(passes: Passes) -> None:
    for pass_no, (duck, spark, oracle) in enumerate(
        zip(passes.duck, passes.spark, passes.oracles, strict=True), start=1
    ):
        assert_same(spark, duck, pass_no)
        feed = duck["marts.fct_hot_feed"]
        assert [r["video_id"] for r in feed] == oracle.feed(TOP_N), pass_no
        for r in feed:
            assert rel_close(r["hot_score"], oracle.score(r["video_id"], NOW)), (pass_no, r)
            parts = {s: r[f"{s}_part"] for s in SIGNALS}
            assert_parts(parts, r["hot_score"], oracle.parts(r["video_id"], NOW))
        queue = duck["marts.fct_review_queue"]
        assert [(r["video_id"], r["would_be_rank"]) for r in queue] == oracle.queue(TOP_N)

    # what the passes went through: a takedown, a late catalogue row, displaced likes/shares
    oracles = passes.oracles
    assert oracles[0].status("v06") == "approved" and oracles[1].status("v06") == "removed"
    assert "v13" not in oracles[0].creator_of and "v13" in oracles[1].creator_of
    spark = passes.parquet
    signs = spark.query(
        f"select distinct sign from {spark.name}_intermediate.int_counted_events order by sign"
    )
    assert [r["sign"] for r in signs] == [-1, 1]


def test_delta_merge_equals_parquet_and_duckdb(passes: Passes) -> None:
    for pass_no, delta in enumerate(passes.delta_rows, start=1):
        assert_same(delta, passes.duck[pass_no - 1], pass_no)
        assert_same(delta, passes.spark[pass_no - 1], pass_no)

    # each schema's state tables are what its format makes them: Delta kept by merge, parquet
    # by bucket overwrite
    schemas = {"parquet": passes.parquet, "delta": passes.delta}
    for fmt, schema in schemas.items():
        for table in ("intermediate.int_video_scores", "marts.fct_user_video_interactions"):
            detail = schema.query(f"describe table extended {schema.name}_{table}")
            provider = next(r["data_type"] for r in detail if r["col_name"] == "Provider")
            assert provider == fmt, (fmt, table)
            columns = {r["col_name"] for r in detail}
            assert ("state_bucket" in columns) == (fmt == "parquet"), (fmt, table)
    history = schemas["delta"].query("describe history fmt_delta_intermediate.int_video_scores")
    assert "MERGE" in {r["operation"] for r in history}
