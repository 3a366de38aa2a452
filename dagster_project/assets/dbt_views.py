"""Views a pass need not create again: dbt re-creates every view model it builds, although a
view's SQL changes only with the dbt project. On DuckDB a pass leaves the view models out of
its build while the warehouse's views are the ones the last full build of this manifest left
(their SQL, read back from DuckDB, unchanged): what is left is the tables a batch changes.

The record is a small file beside dbt's target (per data dir): the manifest's version and a
digest of the views' SQL after a build that created every view model. A new manifest, a view
dropped or altered, or a new warehouse file makes the digest or version differ, and the next
pass builds the views again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

from dagster_project.dbt_files import manifest_version
from hot.settings import Settings
from hot.warehouse import connect

RECORD = "views_built.json"


def _digest(settings: Settings) -> str | None:
    """A digest of every view's SQL in the DuckDB warehouse, or None when it cannot be read
    now (another process writes it: the build then includes the views)."""
    try:
        con = connect(settings.duckdb_path, read_only=True)
    except duckdb.Error:
        return None
    try:
        rows = con.execute(
            "select database_name, schema_name, view_name, sql from duckdb_views() "
            "where not internal order by all"
        ).fetchall()
    finally:
        con.close()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest() if rows else None


def _record_path(settings: Settings) -> Path:
    return settings.data_dir / "dbt_target" / RECORD


def _state(settings: Settings) -> dict[str, object] | None:
    version = manifest_version(settings)
    digest = _digest(settings) if version is not None else None
    return None if digest is None else {"manifest": version, "views": digest}


def views_unchanged(settings: Settings) -> bool:
    """True when the warehouse's views are those the last full build of this manifest made."""
    if settings.engine != "duckdb" or not _record_path(settings).exists():
        return False
    recorded = json.loads(_record_path(settings).read_text())
    return recorded == _state(settings)


def record_views(settings: Settings) -> None:
    """Remember the views a build that created every view model left (DuckDB only)."""
    if settings.engine != "duckdb":
        return
    state = _state(settings)
    path = _record_path(settings)
    if state is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)
