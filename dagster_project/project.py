"""The dbt project as Dagster sees it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from dagster_dbt import DbtProject

from hot.settings import get_settings

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"


def dbt_env() -> None:
    """Point dbt's profile at the current settings' DuckDB file (`env_var` in profiles.yml)."""
    os.environ["HOT_DUCKDB_PATH"] = str(get_settings().duckdb_path)
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


dbt_env()
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def ensure_manifest() -> Path:
    """Build dbt's manifest when it is missing (a fresh clone), or always under `dagster dev`."""
    if dbt_project.preparer.using_dagster_dev() or not dbt_project.manifest_path.exists():
        dbt_project.preparer.prepare(dbt_project)
    return dbt_project.manifest_path


def model_relation(model: str) -> str:
    """``"schema"."alias"`` of a dbt model as built, read from the manifest."""
    manifest = json.loads(ensure_manifest().read_text())
    project_name = manifest["metadata"]["project_name"]
    node = manifest["nodes"][f"model.{project_name}.{model}"]
    return f'"{node["schema"]}"."{node.get("alias") or node["name"]}"'
