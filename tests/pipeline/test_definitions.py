"""The one Dagster code location loads, with its assets, dbt checks, job and sensors."""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import AssetCheckKey, AssetKey

from dagster_project.assets.dbt import DBT_GROUP, hot_dbt_assets
from dagster_project.assets.embeddings import CHECK_NAME as EMBEDDINGS_CHECK
from dagster_project.definitions import defs
from dagster_project.instance import DAGSTER_YAML
from dagster_project.lanes import BACKGROUND_LANE, LANE_TAG, PASS_LANE


def test_definitions_load_with_dbt_tests_as_asset_checks(hot_env: Path) -> None:
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"raw/events", "raw/videos", "raw/creators", "raw/moderation"} <= keys
    assert {"marts/fct_hot_feed", "marts/fct_review_queue", "hot_snapshot"} <= keys
    checks = {c.name for c in repo.asset_graph.asset_check_keys}
    assert "fct_hot_feed_columns" in checks  # every column rule of the feed, one check
    assert "assert_review_queue_not_in_feed" in checks  # a singular test on two models
    # Whole-history scans are checks of their own scheduled job, not of a pass.
    pass_checks = {c.name for c in _job_checks("hot_pipeline")}
    full_scan = {c.name for c in _job_checks("hot_full_scan_checks")}
    assert "fct_hot_feed_columns" in pass_checks
    assert any("int_counted_events" in name for name in full_scan)
    assert "unique_stg_events_event_id" in full_scan
    # A pass checks what it publishes; a model tagged full_scan has all its tests there.
    published = {"fct_hot_feed", "fct_review_queue", "dim_videos", "dim_creators"}
    assert {c.asset_key.path[-1] for c in _job_checks("hot_pipeline")} <= published
    assert "not_null_fct_user_video_interactions_user_id" in full_scan
    assert "not_null_int_video_scores_video_id" in full_scan
    assert not pass_checks & full_scan
    # The tests on dbt's sources (raw.*, owned by the ingest asset) run in CI's `dbt build`;
    # the staging views over them repeat their whole-history checks in the scheduled job.
    # The one check outside dbt judges each new embeddings model before it is served.
    dbt_checks = {
        c.name
        for c in repo.asset_graph.asset_check_keys
        if c.asset_key.path[0] != "raw" and c.asset_key != AssetKey("embeddings")
    }
    assert dbt_checks == pass_checks | full_scan
    assert {c.name for c in _job_checks("hot_embeddings")} == {EMBEDDINGS_CHECK}
    assert {s.job_name for s in repo.schedule_defs} >= {"hot_full_scan_checks"}
    assert {s.name for s in repo.sensor_defs} >= {"landing_sensor"}
    publish_deps = repo.asset_graph.get(AssetKey("hot_snapshot")).parent_keys
    assert AssetKey(["marts", "fct_hot_feed"]) in publish_deps


def test_the_pairs_table_is_built_by_the_embeddings_job_not_by_a_pass() -> None:
    """Only the embeddings read fct_user_video_interactions (a whole-history table)."""
    pairs = AssetKey(["marts", "fct_user_video_interactions"])
    assert pairs not in _job_assets("hot_pipeline")
    assert {pairs, AssetKey("embeddings")} == _job_assets("hot_embeddings")
    # Its data tests are full-scan (their own job); the run checks only the new model.
    assert _job_checks("hot_embeddings") == {
        AssetCheckKey(AssetKey("embeddings"), EMBEDDINGS_CHECK)
    }


def _job_assets(name: str) -> set[AssetKey]:
    """The assets a job of the code location materializes."""
    return set(defs.resolve_job_def(name).asset_layer.asset_graph.executable_asset_keys)


def _job_checks(name: str) -> set[AssetCheckKey]:
    """The asset checks a job of the code location runs."""
    return set(defs.resolve_job_def(name).asset_layer.asset_graph.asset_check_keys)


def test_a_pass_has_a_lane_of_its_own_in_the_run_queue() -> None:
    """Passes and republishes run one at a time in their lane, the embeddings and the full-scan
    checks in another (the ``hot/lane`` limits of the ``dagster.yaml`` `hot` writes), and
    are dequeued first when both wait (``dagster/priority``)."""
    coordinator = yaml.safe_load(DAGSTER_YAML)["run_coordinator"]["config"]
    limits = {
        (limit["key"], limit["value"]): limit["limit"]
        for limit in coordinator["tag_concurrency_limits"]
    }
    assert limits == {(LANE_TAG, PASS_LANE): 1, (LANE_TAG, BACKGROUND_LANE): 1}
    assert coordinator["max_concurrent_runs"] >= len(limits)

    def tags(job_name: str) -> dict[str, str]:
        return dict(defs.resolve_job_def(job_name).tags)

    for serving in ("hot_pipeline", "hot_republish"):
        assert tags(serving)[LANE_TAG] == PASS_LANE
        for other in ("hot_embeddings", "hot_full_scan_checks"):
            assert tags(other)[LANE_TAG] == BACKGROUND_LANE
            assert int(tags(serving)["dagster/priority"]) > int(
                tags(other).get("dagster/priority", "0")
            )


def test_the_dbt_models_are_a_group_of_their_own() -> None:
    """The UI shows the models as ``scoring`` beside ``ingest``, ``publish``, ``embeddings``."""
    graph = defs.get_repository_def().asset_graph
    assert {graph.get(key).group_name for key in hot_dbt_assets.keys} == {DBT_GROUP}
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {"ingest", DBT_GROUP, "publish", "embeddings"}
