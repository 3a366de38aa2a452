"""The one-pass job the sensor and `hot run` both execute."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from dagster_project.assets.dbt import hot_dbt_assets
from dagster_project.assets.ingest import landing_files
from dagster_project.assets.publish import hot_snapshot

PIPELINE_ASSETS = (landing_files, hot_dbt_assets, hot_snapshot)
"""The assets of one pass, in the order they run."""

hot_pipeline_job = define_asset_job(
    name="hot_pipeline",
    selection=AssetSelection.assets(*PIPELINE_ASSETS),
    description="Ingest pending landing files, dbt build the scores, publish a snapshot.",
    # One process for the whole pass: DuckDB has a single writer, and it keeps latency low.
    executor_def=in_process_executor,
)

hot_republish_job = define_asset_job(
    name="hot_republish",
    selection=AssetSelection.assets(hot_snapshot),
    description=(
        "Publish the latest scores again (nothing recomputed): run by the snapshot watch when "
        "Redis has lost the current snapshot."
    ),
    executor_def=in_process_executor,
)
