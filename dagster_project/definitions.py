"""The one Dagster ``Definitions`` of Imoutotv Hot."""

from __future__ import annotations

from dagster import Definitions

from dagster_project.assets.dbt import hot_dbt_assets
from dagster_project.assets.ingest import landing_files
from dagster_project.assets.publish import hot_snapshot
from dagster_project.jobs import hot_pipeline_job
from dagster_project.resources import default_resources
from dagster_project.sensors.landing import landing_sensor

defs = Definitions(
    assets=[landing_files, hot_dbt_assets, hot_snapshot],
    jobs=[hot_pipeline_job],
    sensors=[landing_sensor],
    resources=default_resources(),
)
