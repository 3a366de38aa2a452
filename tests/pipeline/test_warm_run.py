"""The warm run process's dbt warm-up (dagster_project/warm_run.py): what it compiles before
its run is known is everything a pass then uses, so the run compiles no macro template."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dbt_common.clients.jinja import template_cache

from dagster_project.resources.dbt_inprocess import (
    compile_macro_templates,
    dbt_manifest,
    warm_dbt,
)
from dagster_project.runner import ensure_dagster_home, run_pipeline
from hot.local.simulate import Simulator, build_world
from hot.settings import get_settings


def test_a_pass_after_the_warm_up_compiles_no_macro_template(hot_env: Path) -> None:
    ensure_dagster_home()
    sim = Simulator(hot_env / "landing", build_world(n_creators=20, videos_per_creator=3))
    sim.write_catalogue()
    sim.write_events(500)
    assert compile_macro_templates() == len(dbt_manifest().macros)
    warm_dbt()
    compiled = set(template_cache.file_cache)
    result = run_pipeline(quiet=True)
    assert result.success, result.error
    assert result.items > 0
    assert set(template_cache.file_cache) == compiled


def test_the_dbt_warm_up_leaves_the_warehouse_to_the_running_pass(hot_env: Path) -> None:
    """Spare run processes warm up while a pass in another process holds DuckDB's one
    writer lock: the warm-up must not open the warehouse (it would fail, or block the pass)."""
    path = get_settings().duckdb_path
    path.parent.mkdir(parents=True, exist_ok=True)
    hold = (
        f"import duckdb, sys; c = duckdb.connect({str(path)!r}); "
        "print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        warm_dbt()
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0
