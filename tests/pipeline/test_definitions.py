"""The one Dagster code location loads, with its assets, dbt checks, job and sensors."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey

from dagster_project.definitions import defs


def test_definitions_load_with_dbt_tests_as_asset_checks(hot_env: Path) -> None:
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"raw/events", "raw/videos", "raw/creators", "raw/moderation"} <= keys
    assert {"marts/fct_hot_feed", "marts/fct_review_queue", "hot_snapshot"} <= keys
    checks = {c.name for c in repo.asset_graph.asset_check_keys}
    assert "unique_fct_hot_feed_video_id" in checks
    # Whole-history scans run in CI, not as per-pass checks.
    assert not any("int_counted_events" in name for name in checks)
    assert defs.resolve_job_def("hot_pipeline") is not None
    assert {s.name for s in repo.sensor_defs} >= {"landing_sensor"}
    publish_deps = repo.asset_graph.get(AssetKey("hot_snapshot")).parent_keys
    assert AssetKey(["marts", "fct_hot_feed"]) in publish_deps
