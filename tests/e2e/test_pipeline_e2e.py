"""Landing files → Dagster job (ingest, dbt build, publish) → Redis, checked against the oracle."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from dagster_project.instance import ensure_dagster_home
from dagster_project.runner import run_pipeline
from hot import keys
from hot.local.simulate import Simulator, build_world
from hot.warehouse import connect
from tests.oracle import assert_published, landing_oracle


def test_published_scores_match_the_spec(hot_env: Path, redis_client: redis.Redis) -> None:
    landing = hot_env / "landing"
    sim = Simulator(landing, build_world(n_creators=12, videos_per_creator=5, n_users=300))
    sim.write_catalogue()
    for _ in range(3):
        sim.write_events(1500)
    ensure_dagster_home()
    now = time.time()

    first = run_pipeline(now_epoch=now)
    assert first.success, first.error
    # A second pass with more traffic goes through the incremental path.
    sim.write_events(1500)
    second = run_pipeline(now_epoch=now + 60)
    assert second.success, second.error
    assert second.snapshot_id != first.snapshot_id

    # The snapshot is the oracle's feed and review queue at its generatedAt: the pass's now.
    expected = landing_oracle(landing)
    snapshot = assert_published(redis_client, expected, top_n=1000)
    assert abs(snapshot.generated_at - (now + 60)) <= 1e-6  # kept to the microsecond
    assert redis_client.get(keys.CURRENT) == (second.snapshot_id or "").encode()
    assert len(snapshot.feed) > 20 and snapshot.queue  # the simulator leaves some in review
    # Quarantine accounting holds for every file the pipeline read.
    con = connect(hot_env / "warehouse.duckdb", read_only=True)
    try:
        bad = con.execute(
            "select count(*) from raw.ingested_files "
            "where valid + duplicates + quarantined <> lines_read"
        ).fetchone()
        files = con.execute("select count(*) from raw.ingested_files").fetchone()
    finally:
        con.close()
    assert bad == (0,)
    assert files == (7,)
