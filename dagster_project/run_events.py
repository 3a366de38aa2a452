"""What a run's steps did, read from its Dagster events: one :class:`StepEvent` per event as it
happens (what the command line draws its progress from), summed up per step in
:class:`StepReport` (ingest counts per source, models built, checks passed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dagster import DagsterEventType, EventLogEntry


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
    """The metadata values of the materialization or observation (``asset`` events)."""
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
    if event.is_step_materialization or event.event_type == DagsterEventType.ASSET_OBSERVATION:
        # An observation: what a step found an asset to be without materializing it (the
        # ingest step finding the current snapshot already built from the same input).
        mat = (
            event.step_materialization_data.materialization
            if event.is_step_materialization
            else event.asset_observation_data.asset_observation
        )
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
    """Asset key → the metadata of its materialization (or observation), in order."""
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
