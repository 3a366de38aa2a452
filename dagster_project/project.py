"""The dbt project as Dagster sees it."""

from __future__ import annotations

import json
import os
import sys
from functools import lru_cache
from pathlib import Path

from dagster_dbt import DbtProject

from dagster_project.dbt_files import DBT_PROJECT_DIR, sources_newer_than, target_path
from hot.settings import get_settings
from hot.warehouse import require_engine


def dbt_env() -> None:
    """Export what dbt needs: itself on PATH, and the DuckDB file and snapshot size it reads."""
    settings = get_settings()
    # HOT_ENGINE=spark without pyspark, dbt-spark or Java: one clear line, before dbt fails.
    require_engine(settings)
    # dagster-dbt runs `dbt` from PATH: make it this environment's, even when the venv is
    # not activated (e.g. `.venv/bin/hot run`).
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ["HOT_DUCKDB_PATH"] = str(settings.duckdb_path)
    os.environ["HOT_TOP_N"] = str(settings.top_n)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


dbt_env()
dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    # A manifest (and the ingest SQL rendered from it) is the profile's engine's, and on Spark
    # its table format's (the models' configs differ: HOT_SPARK_TABLE_FORMAT).
    target_path=target_path(get_settings()),
)


def ensure_manifest() -> Path:
    """dbt's manifest, (re)built when missing or older than the project's files."""
    manifest = dbt_project.manifest_path
    if not manifest.exists() or sources_newer_than(manifest):
        dbt_env()
        dbt_project.preparer.prepare(dbt_project)
    return manifest


@lru_cache(maxsize=2)
def _relations(manifest_path: str, mtime_ns: int) -> dict[str, str]:
    """Model name → ``"schema"."alias"`` for every model of one manifest version."""
    manifest = json.loads(Path(manifest_path).read_text())
    prefix = f"model.{manifest['metadata']['project_name']}."
    q = "`" if manifest["metadata"].get("adapter_type") == "spark" else '"'
    return {
        unique_id.removeprefix(
            prefix
        ): f"{q}{node['schema']}{q}.{q}{node.get('alias') or node['name']}{q}"
        for unique_id, node in manifest["nodes"].items()
        if unique_id.startswith(prefix)
    }


def model_relation(model: str) -> str:
    """``"schema"."alias"`` (Spark: backticks) of a dbt model as built (the manifest is parsed
    once per version)."""
    manifest = ensure_manifest()
    return _relations(str(manifest), manifest.stat().st_mtime_ns)[model]
