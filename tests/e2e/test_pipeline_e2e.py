"""Landing files → Dagster job (ingest, dbt build, publish) → Redis, checked against the oracle."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import redis

from hot import keys
from hot.runner import ensure_dagster_home, run_pipeline
from hot.simulate import Simulator, build_world
from hot.warehouse import connect
from tests.e2e.helpers import accepted_input, published
from tests.score_reference import reference_feed, reference_scores, rel_close


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

    data = accepted_input(landing)
    scores = reference_scores(
        data["events"], data["creators"], datetime.fromtimestamp(now + 60, UTC)
    )
    expected = reference_feed(scores, data["statuses"], data["creators"], top_n=1000)
    ranked, items = published(redis_client)

    assert len(expected) > 20
    assert set(ranked) == {vid for vid, _ in expected}
    for vid, score in expected:
        assert rel_close(ranked[vid], score), (vid, ranked[vid], score)
        stats, ref = items[vid]["stats"], scores[vid]
        assert (stats["likes"], stats["comments"], stats["shares"]) == (
            ref.likes,
            ref.comments,
            ref.shares,
        )
        # Rounded to an integer; float summation order may tip an exact .5 either way.
        assert abs(stats["watchTimeSec"] - ref.watch_sec) <= 0.5 + 1e-6
    meta = redis_client.hgetall(keys.snapshot_meta(second.snapshot_id or ""))
    assert meta[b"generatedAt"].startswith(
        datetime.fromtimestamp(now + 60, UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
    )
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
