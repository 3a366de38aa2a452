"""The run queries the sensors and the push watcher share: is a run pending (landing, Kafka,
snapshot watch), which landing files and Kafka offsets the passes under way already cover."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from dagster_project.lanes import COVERS_TAG, PIPELINE_JOB

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


RECENT = 5
"""Pipeline runs looked at for what they cover: the latest few, requested by either path."""


def covered_ctime_ns(instance: DagsterInstance) -> tuple[int, int]:
    """Up to which ctime (ns) the landing files are covered by a pass that succeeded, and by
    one under way (:data:`~dagster_project.lanes.COVERS_TAG`; 0 when none says)."""
    done, going = 0, 0
    records = instance.get_run_records(
        RunsFilter(job_name=PIPELINE_JOB, statuses=[*RUNNING, DagsterRunStatus.SUCCESS]),
        limit=RECENT,
    )
    for record in records:
        run = record.dagster_run
        covers = int(run.tags.get(COVERS_TAG, 0))
        if run.status == DagsterRunStatus.SUCCESS:
            done = max(done, covers)
        else:
            going = max(going, covers)
    return done, going


def requested_kafka_ends(
    instance: DagsterInstance, statuses: Sequence[DagsterRunStatus] | None
) -> dict[int, int]:
    """Per partition, the furthest end offset requested of the latest pipeline runs in
    ``statuses`` (any status with ``None``): their ``kafka_ends`` config (a run without it,
    e.g. `hot run`, says none)."""
    ends: dict[int, int] = {}
    wanted = None if statuses is None else list(statuses)
    records = instance.get_run_records(
        RunsFilter(job_name=PIPELINE_JOB, statuses=wanted), limit=RECENT
    )
    for record in records:
        config = record.dagster_run.run_config.get("ops", {}).get("landing_files", {})
        for partition, end in config.get("config", {}).get("kafka_ends", {}).items():
            ends[int(partition)] = max(ends.get(int(partition), 0), int(end))
    return ends
