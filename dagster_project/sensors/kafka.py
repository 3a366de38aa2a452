"""The Kafka sensor (SPEC §2b): the landing sensor's twin for ``HOT_EVENTS_SOURCE=kafka``.

Each tick asks the broker for the end of every partition of ``HOT_KAFKA_TOPIC`` and the
warehouse's ledger for where each was last ingested; when a partition has messages past the
ledger, it requests a run of the pipeline job with those ends in its config and tags. The run
reads from the ledger's end up to those ends (at most ``HOT_KAFKA_MAX_BATCH`` per partition):
a micro-batch is what the tick saw (SPEC §2b). While a run is queued the sensor waits for it
to start rather than queue a second, smaller batch behind it. The cursor keeps the ends
requested last, and those of a pass under way (the push watcher's too), so a tick during a run
requests only what comes after them. A broker that
does not answer is a skipped tick that says so: nothing is skipped, the next tick reads from
the ledger again.
"""

from __future__ import annotations

import json

import duckdb
from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dagster_project.assets.ingest import IngestConfig
from dagster_project.jobs import hot_pipeline_job
from dagster_project.lanes import TRIGGER_TAG
from dagster_project.sensors.runs import RUNNING, WAITING, requested_kafka_ends, run_in
from hot.settings import get_settings

PIPELINE = hot_pipeline_job.name


@sensor(
    job=hot_pipeline_job,
    minimum_interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
)
def kafka_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    """Launch the pipeline for the messages of the topic past the ledger (or the ends
    requested already, while a run reads those)."""
    settings = get_settings()
    if settings.events_source != "kafka":
        return SkipReason("HOT_EVENTS_SOURCE is not kafka")
    # Imported here: the kafka extra is needed only when Kafka is the source.
    from hot import kafka
    from hot.kafka_ingest import Ledger, plan

    if run_in(context.instance, PIPELINE, WAITING):
        return SkipReason("a pipeline run is queued; new messages wait until it starts")
    topic = settings.kafka_topic
    try:
        state = kafka.topic_state(settings.kafka_bootstrap, topic)
    except kafka.UnknownTopicError:
        return SkipReason(f"topic {topic} does not exist at {settings.kafka_bootstrap} yet")
    except kafka.KafkaUnavailableError as exc:
        return SkipReason(f"{exc}. Nothing is skipped: the next tick reads from the ledger again")
    cursor = json.loads(context.cursor) if context.cursor else {}
    requested = {
        int(p): int(end)
        for p, end in (
            cursor.get("ends", {}) if cursor.get("topic_id") == state.topic_id else {}
        ).items()
    }
    in_flight = run_in(context.instance, PIPELINE, RUNNING)
    if in_flight:
        # A pass under way reads up to the ends it was asked for, by this sensor or by the
        # push watcher (dagster_project.push): those are not requested again.
        for partition, end in requested_kafka_ends(context.instance, RUNNING).items():
            requested[partition] = max(requested.get(partition, 0), end)
    if settings.engine == "spark":
        # The ledger is in Spark, which a tick does not start (a JVM of its own): the ends
        # requested stand for it, as the landing sensor's cursor does for files. After a
        # failed run they are forgotten: a run reads from the ledger, wherever it ends.
        failed = run_in(context.instance, PIPELINE, [DagsterRunStatus.FAILURE], latest=True)
        ledger = Ledger(state.topic_id, {} if failed else requested)
    else:
        try:
            ledger = Ledger.read_file(settings.duckdb_path, topic)
        except duckdb.IOException:
            # Another process writes the warehouse now.
            if not in_flight:
                return SkipReason("the warehouse is busy (another process writes it); next tick")
            ledger = Ledger(state.topic_id, requested)
    # While a run goes on it reads up to what was requested; after a failed one the ledger is
    # behind the cursor, and the ranges start at the ledger again.
    ranges = plan(state, ledger, settings.kafka_max_batch, after=requested if in_flight else None)
    if not ranges:
        return SkipReason(f"no new messages in topic {topic}")
    ends = {str(r.partition): r.end for r in ranges}
    context.update_cursor(
        json.dumps(
            {"topic_id": state.topic_id, "ends": {str(p): e for p, e in requested.items()} | ends},
            sort_keys=True,
        )
    )
    return RunRequest(
        run_config=RunConfig(ops={"landing_files": IngestConfig(kafka_ends=ends)}),
        tags={"hot/kafka_ranges": " ".join(r.name for r in ranges)[:4000], TRIGGER_TAG: "sensor"},
    )
