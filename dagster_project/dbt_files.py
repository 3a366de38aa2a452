"""Where the dbt project and its manifest live, without importing dbt or Dagster: what a
quick look at the manifest (``hot run`` deciding whether anything is new) needs."""

from __future__ import annotations

from pathlib import Path

from hot.settings import Settings

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"
MANIFEST = "manifest.json"


def target_path(settings: Settings) -> str:
    """dbt's target folder of ``settings``' engine (and Spark table format)."""
    if settings.engine == "duckdb":
        return "target"
    delta = "-delta" if settings.spark_table_format == "delta" else ""
    return f"target-{settings.engine}{delta}"


def sources_newer_than(path: Path) -> bool:
    """True when a file of the dbt project changed after ``path`` was written."""
    built = path.stat().st_mtime
    files = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros", "tests", "seeds", "snapshots"):
        files.extend((DBT_PROJECT_DIR / folder).rglob("*"))
    return any(f.is_file() and f.stat().st_mtime > built for f in files)


def manifest_version(settings: Settings) -> int | None:
    """The version (mtime) of the manifest of ``settings``' engine, or None when it is missing
    or older than the project's files (the next run parses the project again)."""
    path = DBT_PROJECT_DIR / target_path(settings) / MANIFEST
    if not path.exists() or sources_newer_than(path):
        return None
    return path.stat().st_mtime_ns
