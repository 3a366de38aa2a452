"""The one-pass job the sensor and `hot run` both execute, and the jobs beside it."""

from __future__ import annotations

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from dagster_project.assets.dbt import FULL_SCAN_CHECKS, hot_dbt_assets
from dagster_project.assets.embeddings import INTERACTIONS
from dagster_project.assets.ingest import landing_files
from dagster_project.assets.publish import hot_snapshot
from dagster_project.lanes import BACKGROUND_TAGS, PASS_TAGS, PIPELINE_JOB

hot_pipeline_job = define_asset_job(
    name=PIPELINE_JOB,
    # A pass runs the checks whose cost follows its batch; the whole-history scans have a job.
    # The (user, video) pairs feed only the embeddings: their job catches them up (the model
    # is incremental on the ledger's batch watermark), so a pass does not pay for them.
    selection=(
        AssetSelection.assets(landing_files, hot_dbt_assets, hot_snapshot)
        - INTERACTIONS
        - FULL_SCAN_CHECKS
    ),
    description="Ingest pending landing files, dbt build the scores, publish a snapshot.",
    tags=PASS_TAGS,
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
    tags=PASS_TAGS,
    executor_def=in_process_executor,
)

hot_full_scan_checks_job = define_asset_job(
    name="hot_full_scan_checks",
    selection=FULL_SCAN_CHECKS,
    description=(
        "The dbt data tests that scan whole-history tables (sources, staging views, the score "
        "ledger, the pairs table), as asset checks: on a schedule and on demand, not per pass."
    ),
    tags=BACKGROUND_TAGS,
    executor_def=in_process_executor,
)

full_scan_checks_schedule = ScheduleDefinition(
    job=hot_full_scan_checks_job,
    cron_schedule="23 4 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily, at a quiet hour: the whole-history data tests.",
)
