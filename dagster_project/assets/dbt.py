"""dbt domain: staging → intermediate → marts, with dbt tests as asset checks."""

import json
from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, Config
from dagster_dbt import build_dbt_asset_selection, dbt_assets

from dagster_project.project import dbt_project, ensure_manifest
from dagster_project.resources.dbt_inprocess import stream_dbt
from hot.settings import get_settings


class DbtBuildConfig(Config):
    """``now_epoch``: the instant scores are taken at (seconds); 0 means the wall clock."""

    now_epoch: float = 0.0


FULL_SCAN_TESTS = "resource_type:test,tag:full_scan"
"""dbt data tests over whole-history tables (tagged ``full_scan`` in dbt_project.yml and the
model files): asset checks like the others, run by their own job on a schedule and in CI
(tests/dbt), not on every pass."""


def build_args(now_epoch: float) -> list[str]:
    """`dbt build` arguments of a run; what it builds and tests is the run's selection.

    Vars are passed only to pin the scoring instant (tests, replays); a normal pass scores at
    the run's start time (``run_started_at``) and reads ``top_n`` from ``HOT_TOP_N``. dbt runs
    on the manifest loaded once per version (:func:`stream_dbt`), so vars cost no parse. dbt
    unit tests pin the model logic in CI (tests/dbt); a run builds its models and runs the
    data tests of its selected asset checks: a pass leaves out the whole-history scans
    (:data:`FULL_SCAN_CHECKS`), so it costs what its batch costs.
    """
    args = ["build", "--exclude-resource-type", "unit_test"]
    if now_epoch:
        args += ["--vars", json.dumps({"now_epoch": now_epoch})]
    return args


@dbt_assets(manifest=ensure_manifest(), project=dbt_project)
def hot_dbt_assets(context: AssetExecutionContext, config: DbtBuildConfig) -> Iterator[Any]:
    """`dbt build` of the selected models and their data tests, in the run's process."""
    # One target dir per deployment: run results and compiled SQL of its last run.
    target = get_settings().data_dir / "dbt_target"
    yield from stream_dbt(context, build_args(config.now_epoch), target)


FULL_SCAN_CHECKS = build_dbt_asset_selection([hot_dbt_assets], dbt_select=FULL_SCAN_TESTS)
"""The asset checks of the full-scan data tests (no assets)."""
