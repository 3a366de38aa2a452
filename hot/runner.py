"""Running the pipeline job in-process (what `hot run` and the tests do)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hot.settings import get_settings

DAGSTER_YAML = """\
# Written by `hot`: one run at a time (DuckDB has a single writer); queued runs are picked
# up every second so a landed file reaches Redis quickly.
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
    dequeue_interval_seconds: 1
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    """Create ``DAGSTER_HOME`` with the instance settings the pipeline relies on."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


@dataclass(frozen=True)
class PassResult:
    """Outcome of one pipeline pass."""

    success: bool
    run_id: str
    seconds: float
    snapshot_id: str | None
    items: int
    error: str | None


def run_pipeline(now_epoch: float | None = None) -> PassResult:
    """Ingest every pending landing file, `dbt build`, publish a snapshot — one Dagster run.

    Uses the Dagster instance in ``DAGSTER_HOME`` so the run shows in the UI. ``now_epoch``
    pins the instant scores are taken at (tests); default is the wall clock.
    """
    from dagster import DagsterInstance, RunConfig

    from dagster_project.assets.dbt import DbtBuildConfig
    from dagster_project.definitions import defs

    started = time.perf_counter()
    job = defs.resolve_job_def("hot_pipeline")
    instance = DagsterInstance.get()
    run_config = RunConfig(ops={"hot_dbt_assets": DbtBuildConfig(now_epoch=now_epoch or 0.0)})
    result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
    snapshot_id, items, error = None, 0, None
    for mat in result.asset_materializations_for_node("hot_snapshot"):
        meta: dict[str, Any] = {k: v.value for k, v in mat.metadata.items()}
        snapshot_id, items = str(meta["snapshot_id"]), int(meta["items"])
    if not result.success:
        failures = [e for e in result.all_events if e.is_failure]
        error = failures[0].message if failures else "the pipeline run failed"
    return PassResult(
        result.success, result.run_id, time.perf_counter() - started, snapshot_id, items, error
    )


def ensure_dagster_home() -> Path:
    """Use the data dir's Dagster home unless DAGSTER_HOME is already set."""
    home = Path(os.environ.get("DAGSTER_HOME") or get_settings().dagster_home)
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    return home


@contextmanager
def deployment(data_dir: Path, redis_url: str) -> Iterator[Path]:
    """Point the settings at ``data_dir`` and ``redis_url`` for a while; yields the landing dir.

    For benchmarks and tests that stand up several independent deployments in one process;
    the previous environment is restored on exit.
    """
    names = ("HOT_DATA_DIR", "HOT_REDIS_URL", "DAGSTER_HOME")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(
        HOT_DATA_DIR=str(data_dir),
        HOT_REDIS_URL=redis_url,
        DAGSTER_HOME=str(data_dir / "dagster_home"),
    )
    get_settings.cache_clear()
    ensure_dagster_home()
    try:
        yield data_dir / "landing"
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
