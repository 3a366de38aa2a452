"""dbt inside the run process: its manifest parsed once per version, its ingest SQL rendered
once per version, its commands run through dbt's programmatic runner (no subprocess)."""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, Failure

from dagster_project import _dbt_internals
from dagster_project._dagster_dbt_internals import asset_events, step_command
from dagster_project.project import DBT_PROJECT_DIR, dbt_env, ensure_manifest
from hot.settings import get_settings
from hot.warehouse import spark_session

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

    from dagster_project._dbt_internals import EventMsg, Manifest

INGEST_SQL_FILE = "hot_ingest_sql.json"
"""Where the rendered ingest statements are kept, beside the manifest they were rendered from."""
MANIFEST_PICKLE = "hot_manifest.pickle"
"""Where the parsed manifest is kept, beside the manifest it was parsed into."""


def _version(manifest: Path) -> int:
    return manifest.stat().st_mtime_ns


def _project_args(project_dir: Path = DBT_PROJECT_DIR) -> list[str]:
    return ["--project-dir", str(project_dir), "--profiles-dir", str(DBT_PROJECT_DIR)]


@lru_cache(maxsize=2)
def _parsed_manifest(target: str, version: int) -> Manifest:
    """dbt's ``Manifest``, parsed once per manifest version and dbt version, then kept beside
    the manifest (``MANIFEST_PICKLE``) for every later process: unpickling it costs about a
    tenth of the parse (0.3 s of CPU against 4 s, most of that importing dbt's parsers).

    The parse is a ``dbt parse`` in this process (dbt's programmatic API): dbt reads the
    partial-parse state the project's preparation left in ``target`` and re-parses only what
    changed since, which is nothing once :func:`ensure_manifest` is done."""
    from dbt.cli.main import dbtRunner
    from dbt.version import __version__ as dbt_version

    dbt_env()
    kept = Path(target) / MANIFEST_PICKLE
    key = f"{version} dbt {dbt_version}"
    manifest = _dbt_internals.load_manifest(kept, key)
    if manifest is not None:
        return manifest
    args = ["parse", "--quiet", "--no-write-json", "--log-level-file", "none"]
    result = dbtRunner().invoke([*args, *_project_args(), "--target-path", target])
    if not result.success or result.result is None:
        raise RuntimeError(f"dbt could not parse the project: {result.exception}")
    _dbt_internals.store_manifest(result.result, kept, key)
    return result.result  # type: ignore[no-any-return]


def dbt_manifest() -> Manifest:
    """The project's parsed manifest, (re)parsed only when a project file changed."""
    path = ensure_manifest()
    return _parsed_manifest(str(path.parent), _version(path))


def compile_macro_templates() -> int:
    """Compile every macro of the project's manifest (dbt's, the adapter's, ours) into dbt's
    process-wide template cache; returns how many. A process's first ``dbt build`` otherwise
    compiles each macro it calls on first use: about 1.3 s of a small pass in a new run
    process, and 1.2 s here, before the run is known (docs/benchmarks.md)."""
    return _dbt_internals.compile_macro_templates(dbt_manifest())


def warm_dbt() -> None:
    """Pay now, before a run arrives, what a process's first ``dbt build`` pays once: the
    imports of dbt's build task, agate and the adapter, the JSON schemas dbt validates its
    project, profile and flags with, and a model context over every macro (about 1.5 s of a
    new run process's first pass, docs/benchmarks.md). It is a ``dbt compile --inline`` that
    neither introspects nor opens the warehouse: a pass in another process may hold DuckDB's
    single-writer lock. DuckDB only: dbt-spark would start a Spark session to compile."""
    _dbt_internals.warm_imports()
    if get_settings().engine != "duckdb":
        return
    with tempfile.TemporaryDirectory(prefix="hot-dbt-warm-") as tmp:
        args = ["compile", "--log-level", "none", "--log-level-file", "none"]
        args += ["--no-introspect", "--no-populate-cache"]
        result = invoke([*args, "--target-path", tmp, "--inline", "select 1 as warm"])
    if not result.success:
        raise RuntimeError(f"dbt could not compile during the warm-up: {result.exception}")


def invoke(
    args: Sequence[str], callbacks: list[Any] | None = None, project_dir: Path = DBT_PROJECT_DIR
) -> dbtRunnerResult:
    """Run one dbt command in this process. On the project itself it runs on the loaded
    manifest (dbt does not parse); another directory (a copy dagster-dbt made for a large
    selection) is parsed."""
    from dbt.cli.main import dbtRunner

    dbt_env()
    settings = get_settings()
    if settings.engine == "spark" and not settings.spark_host:
        # dbt-spark's session method takes this process's session (getOrCreate): created
        # here first, with the warehouse and metastore of HOT_DATA_DIR (hot.warehouse).
        spark_session(settings)
    manifest = dbt_manifest() if project_dir == DBT_PROJECT_DIR else None
    runner = dbtRunner(manifest=manifest, callbacks=callbacks or [])
    try:
        return runner.invoke([*args, *_project_args(project_dir)])
    finally:
        # dbt-duckdb keeps the database open after a command: the next step (or process)
        # must be able to open the warehouse, read-only or not.
        _dbt_internals.close_duckdb()


_RESULT_EVENTS = frozenset(
    {"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"}
)
_DONE = object()


def stream_dbt(context: AssetExecutionContext, args: Sequence[str], target: Path) -> Iterator[Any]:
    """Run a dbt command for a ``@dbt_assets`` step in this process and yield its Dagster
    events as the nodes finish: what ``DbtCliResource.cli(...).stream()`` yields, without a
    subprocess and without a parse. The selection is the step's (its subset of models and
    checks), computed as dagster-dbt does; a failed node fails the step after its events."""
    command = step_command(context, args)
    full_args = [*command.args, "--target-path", str(target)]
    context.log.debug(f"dbt {' '.join(full_args)}")
    results: queue.Queue[Any] = queue.Queue()

    def on_event(msg: EventMsg) -> None:
        if _dbt_internals.event_name(msg) in _RESULT_EVENTS:
            results.put(_dbt_internals.event_dict(msg))

    def run() -> None:
        try:
            results.put(invoke(full_args, [on_event], command.project_dir or DBT_PROJECT_DIR))
        except BaseException as exc:  # handed to the step's thread, which raises it
            results.put(exc)
        finally:
            results.put(_DONE)

    # dbt runs in a worker thread so that each node's events reach Dagster as it finishes.
    worker = threading.Thread(target=run, name="dbt", daemon=True)
    worker.start()
    outcome: Any = None
    while (item := results.get()) is not _DONE:
        if isinstance(item, dict):
            # dbt prints each node's line itself (the step's stdout): a log record here would
            # be one more event-log write per node.
            yield from asset_events(command, context, item, target)
        else:
            outcome = item
    worker.join()
    if isinstance(outcome, BaseException):
        raise outcome
    if outcome is None or not outcome.success:
        detail = getattr(outcome, "exception", None) or "a model or test failed"
        raise Failure(description=f"dbt {' '.join(args[:1])} failed: {detail}")


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
