"""Is a pass needed? The input state a snapshot is built from, stamped on it, and the check
that the current snapshot already reflects the warehouse and the landing zone.

Why a pass with nothing new need not score again: SPEC §3 decays every video by the same
factor, ``2^(-(now - then) / half_life)``, so the order, and with it the top N and the review
queue, is the same at any later instant: ``fct_hot_feed`` and ``fct_review_queue`` rank by
``score_log2``, which does not depend on ``now``, and no model compares an event with ``now``
(no window, no cut-off; the ring hold is a matter of event time and moderation). Only the
scores' values would move, all by that one factor, and a snapshot holds the values at its own
``generatedAt``, which it states (SPEC §4). So the current snapshot is still what a pass would
publish, to the order and the membership, until the input changes: a new file or Kafka range
(events, catalogue or moderation, a takedown included), another ``HOT_TOP_N``, or other
scoring code (a new dbt manifest: weights, half-life, models).

Imports neither Dagster nor dbt: ``hot run`` asks it before loading them (:func:`up_to_date`).
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from dagster_project.dbt_files import manifest_version
from hot.ingest import SOURCES, batch_watermark, pending_files
from hot.redis_client import SyncRedis
from hot.settings import Settings
from hot.snapshot import current_meta
from hot.warehouse import Warehouse, connect

PASS_STATE = "pass_state"
"""Metadata key of the input state a pass scores (:func:`pass_state`), which the publish step
stamps on its snapshot (``builtFrom`` in its meta)."""


def pass_state(con: duckdb.DuckDBPyConnection | Warehouse, settings: Settings) -> str:
    """The input the scores are a function of, besides the scoring instant: the batch
    watermark (every file and Kafka range ingested: events, catalogue and moderation), the
    number of videos published, the engine and the scoring code (the dbt manifest's version)."""
    engine = settings.engine
    if engine != "duckdb":
        engine += f"-{settings.spark_table_format}"
    return (
        f"batch {batch_watermark(con)}, top_n {settings.top_n}, {engine}, "
        f"manifest {manifest_version(settings)}"
    )


def current_snapshot(client: SyncRedis, state: str) -> Mapping[str, str] | None:
    """The meta of Redis's current snapshot when it was built from ``state``, else None."""
    meta = current_meta(client)
    return meta if meta is not None and meta.get("builtFrom") == state else None


def up_to_date(settings: Settings, client: SyncRedis) -> Mapping[str, str] | None:
    """The current snapshot's meta when nothing waits to be ingested and it was built from the
    warehouse as it is, else None; also None whenever that cannot be told cheaply (Spark, the
    DuckDB file held by a writer, Kafka unreachable or refusing): the pass then decides.

    The quick look of ``hot run`` before it loads Dagster and dbt: the landing zone, the
    ledger in DuckDB (read-only), the topic's ends and the current snapshot's stamp.
    """
    if settings.engine != "duckdb" or not settings.duckdb_path.exists():
        return None
    try:
        con = connect(settings.duckdb_path, read_only=True)
    except duckdb.Error:  # another process is writing: a pass is under way
        return None
    try:
        # With Kafka as the events' source, landing/events/ is not read (SPEC §2b).
        sources = [s for s in SOURCES if settings.events_source != "kafka" or s != "events"]
        if pending_files(settings.landing_dir, con, sources) or _topic_pending(settings, con):
            return None
        state = pass_state(con, settings)
    except duckdb.Error:  # no raw tables yet: the first pass creates them
        return None
    finally:
        con.close()
    return current_snapshot(client, state)


def _topic_pending(settings: Settings, con: duckdb.DuckDBPyConnection) -> bool:
    """With Kafka as the events' source: whether the topic has messages past the ledger (or
    cannot be read: the pass reports why)."""
    if settings.events_source != "kafka":
        return False
    # Imported here: the kafka extra is needed only when Kafka is the source.
    from hot.kafka import KafkaUnavailableError, UnknownTopicError, topic_state
    from hot.kafka_ingest import Ledger, OffsetsRefusedError, plan

    try:
        state = topic_state(settings.kafka_bootstrap, settings.kafka_topic)
        return bool(plan(state, Ledger.read(con, settings.kafka_topic), settings.kafka_max_batch))
    except (KafkaUnavailableError, UnknownTopicError, OffsetsRefusedError):
        return True
