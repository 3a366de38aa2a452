"""dbt domain: staging → intermediate → marts, with dbt tests as asset checks."""


import json
import time
from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, Config
from dagster_dbt import DbtCliResource, dbt_assets

from dagster_project.project import dbt_env, dbt_project, ensure_manifest
from hot.settings import get_settings


class DbtBuildConfig(Config):
    """``now_epoch``: the instant scores are taken at (seconds); 0 means the wall clock."""

    now_epoch: float = 0.0


def build_vars(now_epoch: float) -> dict[str, Any]:
    """dbt vars of one build: the scoring instant and the deployment's top N."""
    return {"now_epoch": now_epoch or time.time(), "top_n": get_settings().top_n}


@dbt_assets(manifest=ensure_manifest(), project=dbt_project)
def hot_dbt_assets(
    context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig
) -> Iterator[Any]:
    """`dbt build` of the selected models: incremental scores, marts, unit and data tests."""
    dbt_env()
    dbt_vars = build_vars(config.now_epoch)
    context.log.info(f"dbt vars: {dbt_vars}")
    # dbt unit tests pin the model logic in CI (tests/dbt); a production pass runs the
    # models and their data tests (reported as asset checks) only.
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", json.dumps(dbt_vars)]
    yield from dbt.cli(args, context=context).stream()
