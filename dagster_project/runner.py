"""Running the Dagster jobs in-process: what `hot run`, `hot embed`, the tests and benchmarks do.

A run goes through the Dagster instance in ``DAGSTER_HOME`` (:mod:`dagster_project.instance`),
so it shows in the UI like a sensor's. Its events are summed up per step
(:mod:`dagster_project.run_events`); while it runs each is also handed to ``on_event``, which is
what the command line draws its progress from. With ``quiet``, Dagster's console logger shows
warnings and errors only instead of its DEBUG stream.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Mapping
from contextlib import ExitStack, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, EventLogEntry, ExecuteInProcessResult, RunConfig

from dagster_project.instance import ensure_dagster_home
from dagster_project.run_events import EventCallback, StepEvent, StepReport, step_event, summarize

# The definitions (dagster_project.definitions, .jobs, .assets) are imported when a run
# starts, not here: loading them reads the settings into dbt's environment, and a caller may
# be about to point the settings elsewhere (hot.local.deployment).


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
        """The snapshot the pass published, or found current (``None`` if it failed before)."""
        meta = self.materialized("hot_snapshot")
        return str(meta["snapshot_id"]) if meta else None

    @property
    def items(self) -> int:
        """Items of the published snapshot."""
        return int(self.materialized("hot_snapshot").get("items", 0))

    @property
    def current(self) -> bool:
        """True when nothing was new and the pass published nothing: ``snapshot_id`` names the
        current snapshot, already built from the same input."""
        return bool(self.materialized("hot_snapshot").get("current", False))


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

    With ``quiet`` Dagster's console logger (and its modules' Python loggers) shows critical
    messages only, and the dbt log
    that dagster-dbt echoes to stdout (for the UI's compute logs) is dropped: the failing
    step's message is in the outcome, and the full log in the UI and ``dbt_target/dbt.log``.
    """
    from dagster_project.definitions import defs

    started = time.perf_counter()
    ensure_dagster_home()  # the instance the settings name, with `hot`'s dagster.yaml
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
            # Dagster's modules log through Python's logging too, beside the run's console
            # logger: e.g. one warning per check of a step skipped because nothing was new.
            dagster_logger = logging.getLogger("dagster")
            stack.callback(dagster_logger.setLevel, dagster_logger.level)
            dagster_logger.setLevel(logging.CRITICAL)
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
    from dagster_project.assets.ingest import IngestConfig

    ops = {
        # A pinned instant is a request for the scores at it: published even if nothing is new.
        "landing_files": IngestConfig(always_publish=bool(now_epoch)),
        "hot_dbt_assets": DbtBuildConfig(now_epoch=now_epoch or 0.0),
    }
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
