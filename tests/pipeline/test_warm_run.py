"""The warm run process's dbt warm-up (dagster_project/warm_run.py): what it compiles before
its run is known is everything a pass then uses, so the run compiles no macro template."""

from __future__ import annotations

from pathlib import Path

from dbt_common.clients.jinja import template_cache

from dagster_project.resources.dbt_inprocess import compile_macro_templates, dbt_manifest
from dagster_project.runner import ensure_dagster_home, run_pipeline
from hot.local.simulate import Simulator, build_world


def test_a_pass_after_the_warm_up_compiles_no_macro_template(hot_env: Path) -> None:
    ensure_dagster_home()
    sim = Simulator(hot_env / "landing", build_world(n_creators=20, videos_per_creator=3))
    sim.write_catalogue()
    sim.write_events(500)
    assert compile_macro_templates() == len(dbt_manifest().macros)
    compiled = set(template_cache.file_cache)
    result = run_pipeline(quiet=True)
    assert result.success, result.error
    assert result.items > 0
    assert set(template_cache.file_cache) == compiled
