"""The one "is a run pending?" query the sensors share (landing, Kafka, snapshot watch)."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

WAITING = (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED)
"""A run requested but not started: it will read whatever is pending when it starts."""
RUNNING = (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)
"""A run under way: it reads what it was asked for."""
PENDING = WAITING + RUNNING
"""Either: a run that will still publish."""


def run_in(
    instance: DagsterInstance,
    jobs: str | Sequence[str],
    statuses: Sequence[DagsterRunStatus],
    *,
    latest: bool = False,
) -> bool:
    """Whether a run of ``jobs`` (one job name or several) is in one of ``statuses``; with
    ``latest``, whether the latest run of the (one) job is."""
    for job in [jobs] if isinstance(jobs, str) else jobs:
        records = instance.get_run_records(
            RunsFilter(job_name=job, statuses=None if latest else list(statuses)), limit=1
        )
        if records and (not latest or records[0].dagster_run.status in statuses):
            return True
    return False
