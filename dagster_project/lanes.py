"""Run lanes and run triggers: the tags the run queue, the launcher and the UI read.

The run queue (``dagster.yaml``, :mod:`dagster_project.instance`) runs one run of each lane at
a time: a pass (or a republish) never waits behind an embeddings run or a full-scan check run,
which share the background lane. The launcher starts a background run's process at a lower
CPU priority, so on a small machine a pass beside it still gets the cores first.

Light on purpose (Dagster only): the launcher, the daemon and the push watcher import it
without the code location.
"""

from __future__ import annotations

from dagster import DagsterEventType, DagsterInstance

PIPELINE_JOB = "hot_pipeline"
"""The pass: ingest, dbt build, publish (:mod:`dagster_project.jobs`)."""

LANE_TAG = "hot/lane"
PASS_LANE = "pass"
BACKGROUND_LANE = "background"
PASS_TAGS = {"dagster/priority": "10", LANE_TAG: PASS_LANE}
"""A pass or a republish: the feed's freshness waits for it."""
BACKGROUND_TAGS = {LANE_TAG: BACKGROUND_LANE}
"""The embeddings and the full-scan checks: they make the feed no fresher."""
BACKGROUND_NICE = 10
"""A background run's nice value (a pass runs at 0)."""

TRIGGER_TAG = "hot/trigger"
"""What launched a pass: ``push`` (the watcher, :mod:`dagster_project.push`) or ``sensor``."""
COVERS_TAG = "hot/covers_ctime_ns"
"""A pass ingests every landing file whose ctime (ns) is at most this: the files were there
before the run was requested, and a pass ingests every pending file when it starts."""


def queue_wait_sec(instance: DagsterInstance, run_id: str) -> float | None:
    """How long the run waited in the run queue: its QUEUED event to its STARTING event
    (``None`` for a run that was not queued, e.g. ``hot run`` in-process, or not yet started)."""
    records = instance.get_records_for_run(
        run_id, of_type={DagsterEventType.RUN_ENQUEUED, DagsterEventType.RUN_STARTING}
    ).records
    times = {r.event_log_entry.dagster_event_type: r.event_log_entry.timestamp for r in records}
    queued = times.get(DagsterEventType.RUN_ENQUEUED)
    starting = times.get(DagsterEventType.RUN_STARTING)
    if queued is None or starting is None:
        return None
    return max(starting - queued, 0.0)
