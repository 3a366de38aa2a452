"""Embeddings domain: engagement (or an upstream model's vectors) → a new LanceDB version.

The asset learns or imports the vectors (dagster_project.embeddings), writes a complete new
version (hot.embedding_store), flips the Redis pointer ``keys.EMBEDDINGS_VERSION`` to it, then
prunes old versions. A refused import or a failed training leaves the pointer — and what the
API serves — untouched.
"""

from pathlib import Path

from dagster import AssetExecutionContext, AssetSelection, Config, MaterializeResult, asset
from dagster_dbt import get_asset_key_for_model

from dagster_project.assets.dbt import hot_dbt_assets
from dagster_project.project import model_relation
from dagster_project.resources import RedisResource, WarehouseResource
from hot.settings import get_settings

INTERACTIONS_KEY = get_asset_key_for_model([hot_dbt_assets], "fct_user_video_interactions")
"""The counted (user, video) pairs the vectors are learned from: a whole-history table that
only this asset reads, so the embeddings job brings it up to date, not every pass."""

INTERACTIONS = AssetSelection.assets(INTERACTIONS_KEY)


class EmbeddingsConfig(Config):
    """``vectors_path``: a Parquet file of pre-computed vectors (``kind``, ``id``,
    ``vector``) to import instead of learning them from engagement (empty: learn)."""

    vectors_path: str = ""


@asset(
    deps=[
        INTERACTIONS_KEY,
        get_asset_key_for_model([hot_dbt_assets], "dim_videos"),
    ],
    group_name="embeddings",
    kinds={"lancedb", "python"},
)
def embeddings(
    context: AssetExecutionContext,
    config: EmbeddingsConfig,
    warehouse: WarehouseResource,
    redis: RedisResource,
) -> MaterializeResult:
    """User and video vectors for ``type=personal``, published as a new LanceDB version."""
    settings = get_settings()
    # Imported here, not at module level: lancedb and scipy take seconds to import, and
    # every run process (the landing → Redis path included) imports this code location.
    from dagster_project.embeddings.imported import import_vectors
    from dagster_project.embeddings.interactions import read_interactions_retrying
    from dagster_project.embeddings.learned import train_svd
    from hot import embedding_store

    inter = read_interactions_retrying(
        warehouse.connect,
        model_relation("fct_user_video_interactions"),
        model_relation("dim_videos"),
    )
    if config.vectors_path:
        result = import_vectors(Path(config.vectors_path), settings.embed_dim, inter)
    else:
        result = train_svd(inter, settings.embed_dim)
    version = embedding_store.new_version()
    embedding_store.write_version(settings.lancedb_dir, version, result)
    client = redis.client()
    try:
        previous = embedding_store.flip(client, version)
    finally:
        client.close()
    pruned = embedding_store.prune(settings.lancedb_dir, version)
    context.log.info(
        f"embeddings {version}: {len(result.users)} users, {len(result.videos)} videos "
        f"(previous {previous}, pruned {pruned})"
    )
    return MaterializeResult(
        metadata={
            "version": version,
            "previous_version": previous or "",
            "users": len(result.users),
            "videos": len(result.videos),
            "rows": len(result.users) + len(result.videos),
            "dimension": result.dim,
            "users_with_watched": sum(1 for u in result.users if result.watched.get(u)),
            "pruned_versions": pruned,
            **result.metadata,
        }
    )
