"""dbt domain: staging → intermediate → marts, with dbt tests as asset checks."""

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Config,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from dagster_project.assets.dbt_views import record_views, views_unchanged
from dagster_project.project import dbt_env, dbt_project, ensure_manifest
from dagster_project.resources.dbt_inprocess import stream_dbt
from hot.settings import get_settings


class DbtBuildConfig(Config):
    """``now_epoch``: the instant scores are taken at (seconds); 0 means the wall clock."""

    now_epoch: float = 0.0


DBT_GROUP = "scoring"
"""The Dagster asset group of the dbt models, beside ``ingest``, ``publish`` and ``embeddings``."""


class HotDbtTranslator(DagsterDbtTranslator):
    """dagster-dbt's translation of the project, with every model in :data:`DBT_GROUP`."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """The one group of the dbt models (the project sets no group of its own)."""
        return DBT_GROUP


MANIFEST: Mapping[str, Any] = json.loads(ensure_manifest().read_text())
"""dbt's manifest, read once: the assets and the full-scan check selection are built from it."""

FULL_SCAN_TAG = "full_scan"
"""Tags a data test, or a model all of whose data tests, scans a table that grows with the
history or the catalogue rather than with the batch (dbt_project.yml, the model files)."""


def build_args(now_epoch: float, log_dir: Path, skip_views: bool = False) -> list[str]:
    """`dbt build` arguments of a run; what it builds and tests is the run's selection.

    Vars are passed only to pin the scoring instant (tests, replays); a normal pass scores at
    the run's start time (``run_started_at``) and reads ``top_n`` from ``HOT_TOP_N``. dbt runs
    on the manifest loaded once per version (:func:`stream_dbt`), so vars cost no parse. dbt
    unit tests pin the model logic in CI (tests/dbt); a run builds its models and runs the
    data tests of its selected asset checks: a pass leaves out the whole-history scans
    (:data:`FULL_SCAN_CHECKS`), so it costs what its batch costs. With ``skip_views`` the view
    models are left out too (:mod:`dagster_project.assets.dbt_views`).
    """
    args = [
        "build",
        "--exclude-resource-type",
        "unit_test",
        # A pass's record is its Dagster run (materializations with each model's duration,
        # check results, dbt's node lines in the step's log). dbt's own artifacts would cost
        # about a tenth of a small pass: manifest.json serialised again, run_results.json,
        # and a debug log of every statement, written under one lock all threads wait on.
        "--no-write-json",
        "--log-level-file",
        "info",
        "--log-path",
        str(log_dir),
    ]
    if now_epoch:
        args += ["--vars", json.dumps({"now_epoch": now_epoch})]
    if skip_views:
        args += ["--exclude", "config.materialized:view"]
    return args


@dbt_assets(manifest=MANIFEST, project=dbt_project, dagster_dbt_translator=HotDbtTranslator())
def hot_dbt_assets(context: AssetExecutionContext, config: DbtBuildConfig) -> Iterator[Any]:
    """`dbt build` of the selected models and their data tests, in the run's process."""
    # One target dir (compiled SQL of the last run) and one dbt log per deployment.
    settings = get_settings()
    views = VIEW_KEYS & context.selected_asset_keys
    skip_views = bool(views) and views_unchanged(settings)
    args = build_args(config.now_epoch, settings.data_dir / "dbt_logs", skip_views)
    target = settings.data_dir / "dbt_target"
    if settings.stock_internals:
        # dagster-dbt's own way: a `dbt` subprocess, which parses the project again.
        dbt_env()
        invocation = DbtCliResource(project_dir=dbt_project).cli(
            args, context=context, target_path=target
        )
        yield from invocation.stream()
    else:
        yield from stream_dbt(context, args, target)
    if views == VIEW_KEYS and not skip_views:
        record_views(settings)


def full_scan_check_keys(
    assets: AssetsDefinition, manifest: Mapping[str, Any]
) -> set[AssetCheckKey]:
    """The asset checks of ``assets`` whose data test is tagged ``full_scan`` or attached to a
    model tagged so. dbt does not pass a model's config tags on to its tests, hence the walk
    over the manifest the assets were built from. A check is named after its test, and dbt
    keeps test names unique within a project."""
    nodes = manifest["nodes"]
    names = set()
    for node in nodes.values():
        if node["resource_type"] != "test":
            continue
        parent = nodes.get(node.get("attached_node") or "", {})
        if FULL_SCAN_TAG in node["tags"] or FULL_SCAN_TAG in parent.get("tags", ()):
            names.add(node["name"])
    # Source tests have no asset check here (the raw tables are the ingest's assets).
    return {key for key in assets.check_keys if key.name in names}


FULL_SCAN_CHECKS = AssetSelection.checks(*full_scan_check_keys(hot_dbt_assets, MANIFEST))
"""The asset checks of the full-scan data tests (no assets): run by their own job on a
schedule and in CI (tests/dbt), not on every pass."""


def view_keys(assets: AssetsDefinition, manifest: Mapping[str, Any]) -> frozenset[AssetKey]:
    """The asset keys of ``assets``' models materialized as views (DuckDB's configuration)."""
    names = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"]["materialized"] == "view"
    }
    return frozenset(key for key in assets.keys if key.path[-1] in names)


VIEW_KEYS = view_keys(hot_dbt_assets, MANIFEST)
"""The view models' assets: left out of a pass's build while unchanged (``dbt_views``)."""
