"""Running the Dagster jobs in-process: what `hot run`, `hot embed`, the tests and benchmarks do.

A run goes through the Dagster instance in ``DAGSTER_HOME``, so it shows in the UI like a
sensor's. Its events are summed up per step (:class:`StepReport`, e.g. ingest counts per
source, models built, checks passed); while it runs each is also handed to ``on_event`` as a
:class:`StepEvent`, which is what the command line draws its progress from. With ``quiet``,
Dagster's console logger shows warnings and errors only instead of its DEBUG stream.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dagster import (
    DagsterEventType,
    DagsterInstance,
    EventLogEntry,
    ExecuteInProcessResult,
    RunConfig,
)

from hot.settings import get_settings

# The definitions (dagster_project.definitions, .jobs, .assets) are imported when a run
# starts, not here: loading them reads the settings into dbt's environment, and
# `deployment` may be about to point the settings elsewhere.

DAGSTER_YAML = """\
# Written by `hot`: one run at a time (DuckDB has a single writer); queued runs are picked
# up every second so a landed file reaches Redis quickly.
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
    dequeue_interval_seconds: 1
# Each run gets a process of its own, started and warmed up before the run comes.
run_launcher:
  module: dagster_project.launcher
  class: WarmProcessRunLauncher
# Dagster's SQLite event log with a kept-open index connection (same files and schema).
event_log_storage:
  module: dagster_project.event_log
  class: PassEventLogStorage
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
class StepEvent:
    """One thing a step of a run did, read from its Dagster event."""

    step: str
    """The step key: the op of an asset or multi-asset (``landing_files``, ``hot_dbt_assets``)."""
    kind: Literal["started", "asset", "check", "succeeded", "failed"]
    at: float
    """When it happened (UNIX time)."""
    asset: str = ""
    """The asset key (``raw/events``) of an ``asset`` or ``check`` event."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """The materialization's metadata values (``asset`` events)."""
    passed: bool = True
    """Whether the check passed (``check`` events)."""


EventCallback = Callable[[StepEvent], None]


def step_event(entry: EventLogEntry) -> StepEvent | None:
    """The :class:`StepEvent` of a run's log entry, ``None`` for those a summary ignores."""
    event, at = entry.dagster_event, entry.timestamp
    if event is None or event.step_key is None:
        return None
    step = event.step_key
    if event.is_step_start:
        return StepEvent(step, "started", at)
    if event.is_step_success:
        return StepEvent(step, "succeeded", at)
    if event.is_step_failure:
        return StepEvent(step, "failed", at)
    if event.is_step_materialization:
        mat = event.step_materialization_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        return StepEvent(step, "asset", at, mat.asset_key.to_user_string(), meta)
    if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
        check = event.asset_check_evaluation_data
        return StepEvent(step, "check", at, check.asset_key.to_user_string(), passed=check.passed)
    return None


@dataclass
class StepReport:
    """What one step of a run did, summed up from its events."""

    step: str
    status: Literal["running", "succeeded", "failed"] = "running"
    started_at: float | None = None
    seconds: float = 0.0
    """From the step's start to its end."""
    assets: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    """Asset key → the metadata of its materialization, in the order they happened."""
    checks_passed: int = 0
    checks_failed: int = 0

    def add(self, event: StepEvent) -> None:
        """Account for one more event of this step."""
        if event.kind == "started":
            self.started_at = event.at
        elif event.kind == "asset":
            self.assets[event.asset] = event.metadata
        elif event.kind == "check":
            if event.passed:
                self.checks_passed += 1
            else:
                self.checks_failed += 1
        else:
            self.status = event.kind
            self.seconds = event.at - (self.started_at or event.at)


def summarize(events: Iterable[StepEvent]) -> list[StepReport]:
    """Per-step reports of a run's events, in the order the steps started."""
    reports: dict[str, StepReport] = {}
    for event in events:
        reports.setdefault(event.step, StepReport(event.step)).add(event)
    return list(reports.values())


def job_steps(job_name: str) -> dict[str, int]:
    """Step key → the events (materializations and checks) that step of ``job_name`` yields:
    the job's own selection of each asset's keys and checks (for progress bars)."""
    from dagster_project.definitions import defs

    graph = defs.resolve_job_def(job_name).asset_layer.asset_graph
    selected = [*graph.executable_asset_keys, *(c.asset_key for c in graph.asset_check_keys)]
    steps: dict[str, int] = {}
    for key in selected:
        step = graph.get(key).assets_def.op.name
        steps[step] = steps.get(step, 0) + 1
    return steps


@dataclass(frozen=True)
class RunOutcome:
    """Outcome of one in-process run."""

    success: bool
    run_id: str
    seconds: float
    steps: tuple[StepReport, ...]
    error: str | None
    """The failing step's own message (the exception it raised, not Dagster's wrapper)."""

    def materialized(self, asset: str) -> Mapping[str, Any]:
        """Metadata of ``asset``'s materialization in this run (empty when it has none)."""
        for report in self.steps:
            if asset in report.assets:
                return report.assets[asset]
        return {}


class PassResult(RunOutcome):
    """Outcome of one pipeline pass (ingest, dbt build, publish)."""

    @property
    def snapshot_id(self) -> str | None:
        """The snapshot the pass published (``None`` if it failed before)."""
        meta = self.materialized("hot_snapshot")
        return str(meta["snapshot_id"]) if meta else None

    @property
    def items(self) -> int:
        """Items of the published snapshot."""
        return int(self.materialized("hot_snapshot").get("items", 0))


class EmbedResult(RunOutcome):
    """Outcome of one embeddings run (``hot embed``)."""

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The published version's metadata (version, users, videos, dimension, method...)."""
        return self.materialized("embeddings")


def _error(result: ExecuteInProcessResult) -> str | None:
    if result.success:
        return None
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            info = event.step_failure_data.error
            # The exception the asset raised, not Dagster's wrapper (nor what that one wraps).
            while info.cause is not None and info.cls_name.startswith("Dagster"):
                info = info.cause
            return info.message.strip()
    failures = [e for e in result.all_events if e.is_failure]
    return failures[0].message if failures else "the run failed"


def _execute(
    job_name: str,
    ops: Mapping[str, Any],
    on_event: EventCallback | None,
    quiet: bool,
    run_id: str | None = None,
) -> tuple[ExecuteInProcessResult, tuple[StepReport, ...], str | None, float]:
    """Run ``job_name`` in-process on the ``DAGSTER_HOME`` instance, feeding ``on_event``.

    With ``quiet`` Dagster's console logger shows critical messages only, and the dbt log
    that dagster-dbt echoes to stdout (for the UI's compute logs) is dropped: the failing
    step's message is in the outcome, and the full log in the UI and ``dbt_target/dbt.log``.
    """
    from dagster_project.definitions import defs

    started = time.perf_counter()
    instance = DagsterInstance.get()
    # Known before the run starts, to listen to its events (and, for a caller that passes
    # it, to mark the run canceled if the process is stopped while it runs).
    run_id = run_id or str(uuid.uuid4())
    events: list[StepEvent] = []

    def listen(entry: EventLogEntry) -> None:
        event = step_event(entry)
        if event is not None:
            events.append(event)
            if on_event is not None:
                on_event(event)

    instance.add_event_listener(run_id, listen)
    loggers = {"console": {"config": {"log_level": "CRITICAL"}}} if quiet else None
    with ExitStack() as stack:
        if quiet:
            stack.enter_context(redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance,
            run_config=RunConfig(ops=dict(ops), loggers=loggers),
            run_id=run_id,
            raise_on_error=False,
        )
    steps = tuple(summarize(events))
    return result, steps, _error(result), time.perf_counter() - started


def run_pipeline(
    now_epoch: float | None = None,
    on_event: EventCallback | None = None,
    quiet: bool = False,
    run_id: str | None = None,
) -> PassResult:
    """Ingest every pending landing file, `dbt build`, publish a snapshot — one Dagster run.

    ``now_epoch`` pins the instant scores are taken at (tests); default is the wall clock.
    ``run_id`` names the run (default: a new id).
    """
    from dagster_project.assets.dbt import DbtBuildConfig

    ops = {"hot_dbt_assets": DbtBuildConfig(now_epoch=now_epoch or 0.0)}
    result, steps, error, seconds = _execute("hot_pipeline", ops, on_event, quiet, run_id)
    return PassResult(result.success, result.run_id, seconds, steps, error)


def run_embed(
    vectors_path: Path | None = None,
    on_event: EventCallback | None = None,
    quiet: bool = False,
    run_id: str | None = None,
) -> EmbedResult:
    """Run the ``hot_embeddings`` job (the asset the schedule and sensor run) in-process.

    With ``vectors_path``, import that Parquet file of vectors instead of learning them.
    ``run_id`` names the run (default: a new id).
    """
    from dagster_project.assets.embeddings import EmbeddingsConfig

    ops = {"embeddings": EmbeddingsConfig(vectors_path=str(vectors_path) if vectors_path else "")}
    result, steps, error, seconds = _execute("hot_embeddings", ops, on_event, quiet, run_id)
    return EmbedResult(result.success, result.run_id, seconds, steps, error)


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
