"""When the embeddings are refreshed: hourly, and after every N ingested batches.

The batch-count sensor never opens DuckDB (one writer process at a time): it sums the
``files`` metadata of the ``raw/*`` materializations that the ingest step records in
Dagster's event log — one file is one ``raw.ingested_files`` batch.
"""

from __future__ import annotations

import json

from dagster import (
    AssetRecordsFilter,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    in_process_executor,
    sensor,
)

from dagster_project.assets.dbt import FULL_SCAN_CHECKS
from dagster_project.assets.embeddings import INTERACTIONS, embeddings
from dagster_project.assets.ingest import RAW_KEYS
from dagster_project.lanes import BACKGROUND_TAGS
from hot.settings import get_settings

FETCH_LIMIT = 1000
"""Materializations read per raw asset and tick (the cursor carries on from there)."""

hot_embeddings_job = define_asset_job(
    name="hot_embeddings",
    # The pairs table first (incremental: the batches since the last run), then the vectors.
    selection=(AssetSelection.assets(embeddings) | INTERACTIONS) - FULL_SCAN_CHECKS,
    description=(
        "Bring the (user, video) interaction pairs up to date, recompute user and video "
        "embeddings and publish a new LanceDB version."
    ),
    tags=BACKGROUND_TAGS,
    executor_def=in_process_executor,
)

embeddings_schedule = ScheduleDefinition(
    name="embeddings_hourly",
    job=hot_embeddings_job,
    cron_schedule="7 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Refresh the embeddings every hour even when little traffic arrives.",
)


@sensor(
    job=hot_embeddings_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
)
def embeddings_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    """Launch an embeddings run once ``HOT_EMBED_EVERY_BATCHES`` new batches were ingested.

    Cursor: the last storage id seen per raw asset and the batches counted since the last
    launch. The run key is the cursor position, so a tick is never launched twice.
    """
    cursor = json.loads(context.cursor) if context.cursor else {}
    after: dict[str, int] = cursor.get("after", {})
    pending = int(cursor.get("pending", 0))
    for key in RAW_KEYS.values():
        name = key.to_user_string()
        result = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, after_storage_id=after.get(name)),
            limit=FETCH_LIMIT,
            ascending=True,
        )
        for record in result.records:
            materialization = record.asset_materialization
            files = materialization.metadata.get("files") if materialization else None
            pending += int(files.value) if files is not None else 0  # type: ignore[arg-type]
            after[name] = record.storage_id
    every = max(get_settings().embed_every_batches, 1)
    if pending < every:
        context.update_cursor(json.dumps({"after": after, "pending": pending}))
        return SkipReason(f"{pending} new batch(es) since the last refresh (refresh at {every})")
    context.update_cursor(json.dumps({"after": after, "pending": 0}))
    return RunRequest(
        run_key="embed-"
        + "-".join(str(after.get(k.to_user_string(), 0)) for k in RAW_KEYS.values()),
        tags={"hot/batches": str(pending)},
    )
