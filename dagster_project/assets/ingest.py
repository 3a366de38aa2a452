"""Ingest domain: landing files → DuckDB ``raw.*`` (the dbt sources)."""

from collections import Counter
from collections.abc import Mapping

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    Config,
    MaterializeResult,
    multi_asset,
)

from dagster_project.lanes import queue_wait_sec
from dagster_project.pass_state import PASS_STATE, current_snapshot, pass_state
from dagster_project.resources import RedisResource, WarehouseResource
from dagster_project.resources.dbt_inprocess import ingest_statements
from hot.ingest import SOURCES, FileReport, Ingestor, IngestStatements
from hot.settings import get_settings

RAW_KEYS = {source: AssetKey(["raw", source]) for source in SOURCES}
SNAPSHOT_KEY = AssetKey("hot_snapshot")


class IngestConfig(Config):
    """Which files the run was launched for (informational: every pending file is ingested,
    in order, so a file a failed run left behind is never skipped)."""

    files: list[str] = []
    kafka_ends: dict[str, int] = {}
    """With ``HOT_EVENTS_SOURCE=kafka``: per partition, the end offset the Kafka sensor saw.
    The run reads each partition from the ledger's end up to it (SPEC §2b: a micro-batch is
    what the tick saw); without it (`hot run`, a launch by hand) up to each partition's end
    when the run starts."""
    kafka_read_to_end: bool = False
    """A pushed pass (:mod:`dagster_project.push`): ``kafka_ends`` are what the watcher saw
    when it pushed (so that the sensor does not request them again), but the run reads each
    partition up to its end when the run starts, as a file pass ingests every file pending
    when it starts. Messages produced while it waited in the queue are then its own, not the
    next pass's (each would otherwise wait for one pass more)."""
    always_publish: bool = False
    """Score and publish even when nothing is new: a pass pinned to an instant (``hot run
    --now``) publishes the scores at that instant."""

    def kafka_until(self) -> dict[int, int] | None:
        """Per partition, the offset the run reads up to; ``None``: each partition's end
        when the run starts."""
        if self.kafka_read_to_end:
            return None
        return {int(p): end for p, end in self.kafka_ends.items()} or None


@multi_asset(
    specs=[
        AssetSpec(
            key,
            description=f"Raw `{source}` rows ingested from landing/{source}/",
            group_name="ingest",
            kinds={"duckdb", "sql"},
        )
        for source, key in RAW_KEYS.items()
    ],
    can_subset=True,
)
def landing_files(
    context: AssetExecutionContext,
    config: IngestConfig,
    warehouse: WarehouseResource,
    redis: RedisResource,
) -> object:
    """Validate and load every pending landing file, catalogue first, by name within a folder:
    in the engine, with the dbt project's ingest SQL. When nothing was new and the current
    snapshot was built from the same input, no raw asset is materialized: the dbt build and
    the publish downstream are skipped (why that is safe: :mod:`dagster_project.pass_state`)."""
    settings = get_settings()
    statements = ingest_statements()
    # How long the run waited for the run queue and for the DuckDB file: what the lanes are
    # for (the benchmark reads both from the metadata).
    waits = {"queue_wait_s": queue_wait_sec(context.instance, context.run_id) or 0.0}
    if waits["queue_wait_s"]:
        context.log.info(f"queued {waits['queue_wait_s']:.2f} s before starting")

    def lock_waited(seconds: float) -> None:
        waits["warehouse_lock_wait_s"] = seconds
        context.log.info(f"waited {seconds:.2f} s for the DuckDB file (another process held it)")

    with warehouse.connect(on_lock_wait=lock_waited) as con:
        if settings.events_source == "kafka":
            reports = _ingest_kafka(con, statements, config.kafka_until())
        else:
            reports = Ingestor(con, settings.landing_dir, statements).ingest_pending()
        state = pass_state(con, settings)
    if config.files:
        context.log.info(f"run requested for {len(config.files)} file(s): {config.files[:10]}")
    if config.kafka_ends:
        context.log.info(f"run requested for partition ends {config.kafka_ends}")
    fresh = any(not r.skipped for r in reports)
    current = None if fresh or config.always_publish else _current_snapshot(redis, state)
    if current is not None:
        context.log.info(f"nothing new: snapshot {current['snapshotId']} is current")
        yield AssetObservation(
            asset_key=SNAPSHOT_KEY,
            metadata={
                "snapshot_id": current["snapshotId"],
                "items": int(current.get("count", 0)),
                "current": True,
                PASS_STATE: state,
                **waits,
            },
        )
        return
    for source, key in RAW_KEYS.items():
        if key not in context.selected_asset_keys:
            continue
        mine = [r for r in reports if r.source == source]
        reasons: Counter[str] = Counter()
        for report in mine:
            reasons.update(report.reasons)
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "files": len(mine),
                "lines_read": sum(r.lines_read for r in mine),
                "rows_in": sum(r.valid for r in mine),
                "duplicates": sum(r.duplicates for r in mine),
                "quarantined": sum(r.quarantined for r in mine),
                "quarantined_by_reason": dict(reasons),
                "file_names": [r.source_file for r in mine][:50],
                PASS_STATE: state,
                **waits,
            },
        )


def _current_snapshot(redis: RedisResource, state: str) -> Mapping[str, str] | None:
    """The meta of Redis's current snapshot when it was built from ``state``, else None."""
    client = redis.client()
    try:
        return current_snapshot(client, state)
    finally:
        client.close()


def _ingest_kafka(
    con: duckdb.DuckDBPyConnection, statements: IngestStatements, until: dict[int, int] | None
) -> list[FileReport]:
    """Catalogue and moderation files from the landing zone, then the events of the topic's
    next ranges, up to ``until`` when a sensor requested the run (SPEC §2b)."""
    # Imported here: the kafka extra is needed only when Kafka is the source.
    from hot.kafka_ingest import RangeIngestor

    settings = get_settings()
    ingestor = RangeIngestor(con, settings.landing_dir, statements)
    catalogue = ingestor.ingest_pending(sources=[s for s in SOURCES if s != "events"])
    return catalogue + ingestor.ingest_topic(
        settings.kafka_bootstrap, settings.kafka_topic, settings.kafka_max_batch, until=until
    )
