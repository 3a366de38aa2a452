"""dbt inside the run process: its manifest loaded once per version, its ingest SQL rendered
once per version, its commands run through dbt's programmatic runner (no subprocess)."""

from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster_project.project import DBT_PROJECT_DIR, dbt_env, ensure_manifest

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult
    from dbt.contracts.graph.manifest import Manifest

INGEST_SQL_FILE = "hot_ingest_sql.json"
"""Where the rendered ingest statements are kept, beside the manifest they were rendered from."""


def _version(manifest: Path) -> int:
    return manifest.stat().st_mtime_ns


@lru_cache(maxsize=2)
def _load_manifest(path: str, version: int) -> Manifest:
    """dbt's ``Manifest`` from ``manifest.json`` (no parse: the file is that parse's output)."""
    from dbt.contracts.graph.manifest import Manifest, WritableManifest

    return Manifest.from_writable_manifest(WritableManifest.read_and_check_versions(path))


def dbt_manifest() -> Manifest:
    """The project's parsed manifest, (re)parsed only when a project file changed."""
    path = ensure_manifest()
    return _load_manifest(str(path), _version(path))


def invoke(args: list[str], callbacks: list[Any] | None = None) -> dbtRunnerResult:
    """Run one dbt command in this process on the loaded manifest (dbt does not parse)."""
    from dbt.cli.main import dbtRunner

    dbt_env()
    manifest = dbt_manifest()
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return dbtRunner(manifest=manifest, callbacks=callbacks or []).invoke([*args, *project])


@lru_cache(maxsize=2)
def _rendered_statements(manifest: str, version: int) -> dict[str, Any]:
    cache = Path(manifest).with_name(INGEST_SQL_FILE)
    if cache.exists():
        stored = json.loads(cache.read_text())
        if stored.get("manifest_version") == version:
            return dict(stored["statements"])
    with tempfile.TemporaryDirectory(prefix="hot-dbt-") as tmp:
        # --no-populate-cache: rendering SQL needs no connection to the warehouse.
        result = invoke(
            [
                "compile",
                "--quiet",
                "--no-introspect",
                "--no-populate-cache",
                "--target-path",
                tmp,
                "--inline",
                "{{ imoutotv_hot.hot_ingest_statements() }}",
            ]
        )
    if not result.success or result.result is None:
        raise RuntimeError(f"dbt could not render the ingest SQL: {result.exception}")
    statements = json.loads(result.result.results[0].node.compiled_code)
    # Written under a temporary name, then renamed: concurrent processes never read half.
    fd, tmp_name = tempfile.mkstemp(dir=cache.parent, prefix=f".{INGEST_SQL_FILE}.")
    with os.fdopen(fd, "w") as fh:
        json.dump({"manifest_version": version, "statements": statements}, fh)
    os.replace(tmp_name, cache)
    return dict(statements)


def ingest_statements() -> dict[str, Any]:
    """The ingest SQL (``hot_ingest_statements`` of dbt/macros/ingest.sql) rendered for the
    profile's adapter: once per manifest version, kept beside the manifest for later runs."""
    path = ensure_manifest()
    return _rendered_statements(str(path), _version(path))
