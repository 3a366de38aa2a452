"""Publish domain: the dbt marts → an atomic snapshot in Redis (``hot:global`` + payloads)."""

from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_dbt import get_asset_key_for_model

from dagster_project.assets.dbt import hot_dbt_assets
from dagster_project.assets.ingest import RAW_KEYS
from dagster_project.pass_state import PASS_STATE
from dagster_project.project import model_relation
from dagster_project.resources import RedisResource, WarehouseResource
from hot import keys
from hot.feed_rows import FEED_COLUMNS, PART_COLUMNS, QUEUE_COLUMNS, queue_items, to_items
from hot.payload import ItemPayload
from hot.redis_client import SyncRedis
from hot.settings import get_settings
from hot.snapshot import Snapshot, SnapshotItem, new_snapshot_id, publish_snapshot


def _markdown_top(items: list[SnapshotItem], limit: int = 10) -> str:
    lines = ["| rank | video | title | creator | hotScore |", "|---|---|---|---|---|"]
    for rank, item in enumerate(items[:limit], start=1):
        p = item.payload
        assert isinstance(p, ItemPayload)  # what to_items makes
        lines.append(
            f"| {rank} | {item.video_id} | {p.title} | {p.creator.name} | {item.score:.3f} |"
        )
    return "\n".join(lines)


def _restore_embeddings_pointer(client: SyncRedis) -> str | None:
    """Point ``type=personal`` at the newest embeddings on disk if Redis lost the pointer.

    A Redis that came back empty lost ``keys.EMBEDDINGS_VERSION`` with the snapshot; without
    it the API falls back to the global order until the next embeddings run. Returns the
    version restored, or None (pointer present, or no embeddings written yet).
    """
    if client.exists(keys.EMBEDDINGS_VERSION):
        return None
    lancedb_dir = get_settings().lancedb_dir
    if not lancedb_dir.is_dir():
        return None
    from hot import embedding_store  # lancedb is heavy: imported only when it is needed

    on_disk = embedding_store.versions(lancedb_dir)
    if not on_disk:
        return None
    embedding_store.flip(client, on_disk[-1])
    return on_disk[-1]


def _ingested_state(context: AssetExecutionContext) -> str:
    """The input state this run's ingest step recorded (it is what dbt built from, or older:
    a run that started later may have ingested since, never less), or "" when the run had no
    ingest step (a republish): such a snapshot is not taken for current by the next pass."""
    records = context.instance.get_records_for_run(
        context.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
    ).records
    for record in records:
        mat = record.asset_materialization
        if mat is not None and mat.asset_key in RAW_KEYS.values() and PASS_STATE in mat.metadata:
            return str(mat.metadata[PASS_STATE].value)
    return ""


@asset(
    deps=[
        get_asset_key_for_model([hot_dbt_assets], "fct_hot_feed"),
        get_asset_key_for_model([hot_dbt_assets], "fct_review_queue"),
        get_asset_key_for_model([hot_dbt_assets], "dim_videos"),
    ],
    group_name="publish",
    kinds={"redis"},
)
def hot_snapshot(
    context: AssetExecutionContext, warehouse: WarehouseResource, redis: RedisResource
) -> MaterializeResult:
    """The moderation-filtered top N, swapped into Redis as one new snapshot."""
    cols = ", ".join(FEED_COLUMNS)
    parts = ", ".join(PART_COLUMNS)
    with warehouse.connect(read_only=True) as con:
        feed = con.execute(
            f"select {cols}, {parts}, generated_at from {model_relation('fct_hot_feed')} "
            "order by rank"
        ).fetchall()
        queue = con.execute(
            f"select {cols}, {', '.join(QUEUE_COLUMNS)} "
            f"from {model_relation('fct_review_queue')} order by rank"
        ).fetchall()
        statuses = con.execute(
            f"select video_id, moderation_status from {model_relation('dim_videos')}"
        ).fetchall()
    generated_at = feed[0][-1].replace(tzinfo=UTC) if feed else datetime.now(UTC)
    snapshot = Snapshot(
        snapshot_id=new_snapshot_id(generated_at),
        generated_at=generated_at,
        # each item with its score's per-signal parts (the explain endpoint serves them)
        items=to_items([row[:-1] for row in feed], parts=True),
        queue=queue_items(queue),
        video_status=dict(statuses),
        built_from=_ingested_state(context),
    )
    client = redis.client()
    try:
        expired = publish_snapshot(client, snapshot, retain=get_settings().snapshots_retained)
        restored = _restore_embeddings_pointer(client)
    finally:
        client.close()
    if restored:
        context.log.info(f"Redis had lost the embeddings pointer: restored to {restored}")
    context.log.info(f"published snapshot {snapshot.snapshot_id} with {len(snapshot.items)} items")
    return MaterializeResult(
        metadata={
            "snapshot_id": snapshot.snapshot_id,
            "generated_at": generated_at.isoformat(),
            "items": len(snapshot.items),
            "review_queue": len(snapshot.queue),
            "expired_snapshots": expired,
            "embeddings_pointer_restored": restored or "",
            "top_10": MetadataValue.md(_markdown_top(snapshot.items)),
        }
    )
