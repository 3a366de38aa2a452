"""The one Dagster ``Definitions`` of Imoutotv Hot."""

from __future__ import annotations

from dagster import Definitions

from dagster_project.assets.dbt import hot_dbt_assets
from dagster_project.assets.embeddings import embeddings
from dagster_project.assets.ingest import landing_files
from dagster_project.assets.publish import hot_snapshot
from dagster_project.jobs import (
    full_scan_checks_schedule,
    hot_full_scan_checks_job,
    hot_pipeline_job,
    hot_republish_job,
)
from dagster_project.resources import default_resources
from dagster_project.sensors.embeddings import (
    embeddings_schedule,
    embeddings_sensor,
    hot_embeddings_job,
)
from dagster_project.sensors.kafka import kafka_sensor
from dagster_project.sensors.landing import landing_sensor
from dagster_project.sensors.snapshot_watch import snapshot_watch_sensor

defs = Definitions(
    assets=[landing_files, hot_dbt_assets, hot_snapshot, embeddings],
    jobs=[hot_pipeline_job, hot_embeddings_job, hot_republish_job, hot_full_scan_checks_job],
    schedules=[embeddings_schedule, full_scan_checks_schedule],
    sensors=[landing_sensor, kafka_sensor, embeddings_sensor, snapshot_watch_sensor],
    resources=default_resources(),
)
