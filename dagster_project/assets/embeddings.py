"""Embeddings domain: engagement (or an upstream model's vectors) → a checked LanceDB version.

The asset learns (ALS, its values chosen by the data within ``HOT_EMBED_TUNE_BUDGET_SEC``) or
imports the vectors (dagster_project.embeddings), measures the model on a time-split hold-out
against the served one, the global order and most popular (:mod:`.embeddings.check`), and
stages a complete new version with its record — params and metrics — (hot.embedding_store).
Its asset check, ``beats_served_and_global``, carries the metrics as numeric metadata; only a
passing model becomes the served one (the Redis pointer ``keys.EMBEDDINGS_VERSION`` is
flipped to it, old versions pruned). A refused model's staged version is dropped; a refused
import, a failed training or a training over its budget leaves the pointer — and what the
API serves — untouched, and the run says why.
"""

from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSelection,
    Config,
    MaterializeResult,
    asset,
)
from dagster_dbt import get_asset_key_for_model

from dagster_project.assets.dbt import hot_dbt_assets
from dagster_project.project import model_relation
from dagster_project.resources import RedisResource, WarehouseResource
from hot.settings import get_settings

INTERACTIONS_KEY = get_asset_key_for_model([hot_dbt_assets], "fct_user_video_interactions")
"""The counted (user, video) pairs the vectors are learned from: a whole-history table that
only this asset reads, so the embeddings job brings it up to date, not every pass."""

INTERACTIONS = AssetSelection.assets(INTERACTIONS_KEY)

CHECK_NAME = "beats_served_and_global"
"""The asset check every new model must pass to be served."""


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
    check_specs=[
        AssetCheckSpec(
            CHECK_NAME,
            asset="embeddings",
            # Not blocking: a refused model is an outcome of the run (staged, measured, not
            # served), not a failure of it; the check's result says why.
            description=(
                "On a time-split hold-out (the videos each user came to last): personal "
                "recall@20 at least the global order's and at most 2% below the served model's; "
                "recall@20 and NDCG@20 of personal, global and most popular (overall and light "
                "users)."
            ),
        )
    ],
)
def embeddings(
    context: AssetExecutionContext,
    config: EmbeddingsConfig,
    warehouse: WarehouseResource,
    redis: RedisResource,
) -> MaterializeResult:
    """User and video vectors for ``type=personal``, staged as a new LanceDB version and
    served once the check passes."""
    settings = get_settings()
    # Imported here, not at module level: lancedb, scipy and implicit take seconds to import,
    # and every run process (the landing → Redis path included) imports this code location.
    from dagster_project.embeddings.als import TrainingBudgetExceeded
    from dagster_project.embeddings.check import Served, build_checked
    from dagster_project.embeddings.imported import import_vectors
    from dagster_project.embeddings.interactions import read_interactions_retrying
    from hot import embedding_store

    inter = read_interactions_retrying(
        warehouse.connect,
        model_relation("fct_user_video_interactions"),
        model_relation("dim_videos"),
    )
    db_dir = settings.lancedb_dir
    client = redis.client()
    try:
        current = embedding_store.current_version(client)
        served = None
        if current is not None:
            served = Served(
                current,
                embedding_store.read_record(db_dir, current),
                lambda: embedding_store.load_version(db_dir, current),
            )
        imported = (
            import_vectors(Path(config.vectors_path), settings.embed_dim, inter)
            if config.vectors_path
            else None
        )
        try:
            checked = build_checked(
                inter,
                settings.embed_tune_budget_sec,
                served,
                imported,
                factors=settings.embed_dim,
                blend=settings.personal_blend,
            )
        except TrainingBudgetExceeded as exc:
            raise TrainingBudgetExceeded(
                f"kept the served version {current or '(none)'}: {exc}"
            ) from exc
        version = embedding_store.new_version()
        embedding_store.write_version(db_dir, version, checked.embeddings, checked.record)
        previous, pruned = current, []
        if checked.passed:
            previous = embedding_store.flip(client, version)
            pruned = embedding_store.prune(db_dir, version)
        else:
            embedding_store.drop_version(db_dir, version)
    finally:
        client.close()
    result = checked.embeddings
    context.log.info(
        f"embeddings {version}: {len(result.users)} users, {len(result.videos)} videos; "
        f"check {'passed' if checked.passed else 'failed'}: {checked.reason} "
        f"(served before {previous}, pruned {pruned})"
    )
    params = checked.record.get("params", {})
    return MaterializeResult(
        metadata={
            "version": version,
            "served": checked.passed,
            "served_version": version if checked.passed else (previous or ""),
            "previous_version": previous or "",
            "check": checked.reason,
            "users": len(result.users),
            "videos": len(result.videos),
            "rows": len(result.users) + len(result.videos),
            "dimension": result.dim,
            "users_with_watched": sum(1 for u in result.users if result.watched.get(u)),
            "pruned_versions": pruned,
            "method": checked.record["method"],
            "params": params,
            "trials": checked.record.get("trials", 0),
            **{k: v for k, v in result.metadata.items() if k != "method"},
        },
        check_results=[
            AssetCheckResult(
                check_name=CHECK_NAME,
                passed=checked.passed,
                severity=AssetCheckSeverity.ERROR,
                description=checked.reason,
                metadata=dict(checked.metrics),
            )
        ],
    )
