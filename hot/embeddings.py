"""User and video embeddings for ``type=personal``: learned from engagement, or imported.

Learned (the default): a truncated SVD of the user x video matrix of
``log1p(interaction_weight)`` (counted interactions, mart ``fct_user_video_interactions``),
each pair decayed by the age of its latest event (``DECAY_HALF_LIFE_DAYS``). With
``X ≈ U·S·Vᵀ``, users get ``U·√S`` and videos ``V·√S``, so the cosine of a user and a
video is that of the low-rank reconstruction.

Imported: a Parquet file of an upstream model's vectors (columns ``kind`` =
``user``|``video``, ``id``, ``vector``) is validated as a whole — dimension, finiteness,
non-zero norm, duplicates, ids known to the warehouse — and refused with one clear
:class:`EmbeddingsError` otherwise.

Either way each user also gets the videos they already watched heavily
(``WATCHED_HEAVY_SEC`` counted seconds), which ``type=personal`` demotes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy import sparse
from scipy.sparse.linalg import svds

DECAY_HALF_LIFE_DAYS = 30.0
"""Half-life of a (user, video) pair's weight, by the age of its latest counted event."""
WATCHED_HEAVY_SEC = 600.0
"""Counted watch seconds from which a video counts as already watched by the user."""
KINDS = ("user", "video")
_SHOWN = 5
"""Offending ids quoted in an error message."""


class EmbeddingsError(ValueError):
    """Embeddings cannot be built or imported (the message says why)."""


@dataclass(frozen=True)
class Interactions:
    """Counted (user, video) interactions with a positive weight, as arrays."""

    user_ids: np.ndarray
    video_ids: np.ndarray
    weight: np.ndarray
    watch_sec: np.ndarray
    last_epoch: np.ndarray
    known_videos: frozenset[str] = field(default_factory=frozenset)
    """Every video of the catalogue (what imported video ids are checked against)."""

    @property
    def known_users(self) -> frozenset[str]:
        """Users with at least one counted interaction."""
        return frozenset(self.user_ids.tolist())


@dataclass(frozen=True)
class EmbeddingSet:
    """Unit-free vectors of users and videos (rows aligned with the id lists)."""

    users: list[str]
    user_vectors: np.ndarray
    videos: list[str]
    video_vectors: np.ndarray
    watched: dict[str, list[str]]
    metadata: dict[str, Any]

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return int(self.video_vectors.shape[1])


def read_interactions(
    con: duckdb.DuckDBPyConnection, interactions: str, videos: str
) -> Interactions:
    """The positive-weight, non-creator pairs of ``interactions`` and the catalogue ``videos``."""
    table = con.sql(
        f"select user_id, video_id, interaction_weight, watch_sec, last_event_epoch "
        f"from {interactions} where not is_creator and interaction_weight > 0"
    ).to_arrow_table()
    known = con.sql(f"select video_id from {videos}").fetchall()
    return Interactions(
        user_ids=table["user_id"].to_numpy(zero_copy_only=False).astype(str),
        video_ids=table["video_id"].to_numpy(zero_copy_only=False).astype(str),
        weight=table["interaction_weight"].to_numpy().astype(np.float64),
        watch_sec=table["watch_sec"].to_numpy().astype(np.float64),
        last_epoch=table["last_event_epoch"].to_numpy().astype(np.float64),
        known_videos=frozenset(v for (v,) in known),
    )


def read_interactions_retrying(
    connect: Any, interactions: str, videos: str, wait_sec: float = 60.0
) -> Interactions:
    """:func:`read_interactions` on ``connect(read_only=True)``, retried while a writer holds
    the DuckDB file (a pipeline run in another process); the lock is held only for the read."""
    deadline = time.monotonic() + wait_sec
    while True:
        try:
            with connect(read_only=True) as con:
                return read_interactions(con, interactions, videos)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def watched_lists(inter: Interactions) -> dict[str, list[str]]:
    """Per user, the videos with at least ``WATCHED_HEAVY_SEC`` counted watch seconds."""
    heavy = inter.watch_sec >= WATCHED_HEAVY_SEC
    watched: dict[str, list[str]] = {}
    for user, video in zip(inter.user_ids[heavy], inter.video_ids[heavy], strict=True):
        watched.setdefault(str(user), []).append(str(video))
    return {u: sorted(v) for u, v in watched.items()}


def train_svd(inter: Interactions, dim: int, now_epoch: float | None = None) -> EmbeddingSet:
    """Embeddings of ``dim`` dimensions from a truncated SVD of the engagement matrix.

    Pair values are ``log1p(weight) · 2^(-age / DECAY_HALF_LIFE_DAYS)``, age counted from
    ``now_epoch`` (default: the latest event). With fewer users or videos than ``dim + 1``
    the rank is lower and the vectors are zero-padded to ``dim``. Users and videos whose
    vector is zero are left out (they get the global order / a neutral similarity).
    """
    if len(inter.user_ids) == 0:
        raise EmbeddingsError("no counted interactions yet: nothing to learn embeddings from")
    users, u_idx = np.unique(inter.user_ids, return_inverse=True)
    videos, v_idx = np.unique(inter.video_ids, return_inverse=True)
    now = float(np.max(inter.last_epoch)) if now_epoch is None else now_epoch
    age_days = np.maximum(now - inter.last_epoch, 0.0) / 86_400.0
    values = np.log1p(inter.weight) * np.exp2(-age_days / DECAY_HALF_LIFE_DAYS)
    matrix = sparse.csr_matrix((values, (u_idx, v_idx)), shape=(len(users), len(videos)))
    rank = min(dim, min(matrix.shape) - 1)
    if rank < 1:
        raise EmbeddingsError(
            f"too little engagement to learn embeddings: {len(users)} user(s) x "
            f"{len(videos)} video(s)"
        )
    u, s, vt = svds(matrix, k=rank, random_state=0)
    top = np.argsort(s)[::-1]
    s, u, vt = s[top], u[:, top], vt[top]
    root = np.sqrt(s)
    user_vectors = _pad(u * root, dim)
    video_vectors = _pad(vt.T * root, dim)
    total = float(matrix.multiply(matrix).sum())
    keep_u = np.linalg.norm(user_vectors, axis=1) > 1e-9
    keep_v = np.linalg.norm(video_vectors, axis=1) > 1e-9
    return EmbeddingSet(
        users=users[keep_u].tolist(),
        user_vectors=user_vectors[keep_u],
        videos=videos[keep_v].tolist(),
        video_vectors=video_vectors[keep_v],
        watched=watched_lists(inter),
        metadata={
            "method": "truncated_svd",
            "rank": rank,
            "pairs": len(values),
            "explained_variance": float(np.sum(s**2) / total) if total else 0.0,
        },
    )


def _pad(vectors: np.ndarray, dim: int) -> np.ndarray:
    out = np.zeros((vectors.shape[0], dim), dtype=np.float32)
    out[:, : vectors.shape[1]] = vectors
    return out


def import_vectors(path: Path, dim: int, inter: Interactions) -> EmbeddingSet:
    """Vectors of an upstream model from Parquet, validated as a whole.

    Refused (:class:`EmbeddingsError`, nothing published) when a column is missing, a
    ``kind`` is not ``user``/``video``, an id is null or repeated, a vector is null, not of
    dimension ``dim``, not finite or zero, or an id is unknown (a video not in the catalogue,
    a user without counted interactions).
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise EmbeddingsError(f"{path}: not a readable Parquet file ({exc})") from exc
    missing = [c for c in ("kind", "id", "vector") if c not in table.column_names]
    if missing:
        raise EmbeddingsError(f"{path}: missing column(s) {', '.join(missing)}")
    kinds = table["kind"].to_pylist()
    ids = table["id"].to_pylist()
    vector_col = table["vector"].combine_chunks()
    if not pa.types.is_list(vector_col.type) and not pa.types.is_fixed_size_list(vector_col.type):
        raise EmbeddingsError(f"{path}: column vector must be a list of floats")
    problems = _row_problems(kinds, ids, vector_col, dim)
    problems += _unknown_ids(kinds, ids, inter)
    if problems:
        raise EmbeddingsError(f"{path}: refused, " + "; ".join(problems))
    values = vector_col.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    vectors = values.reshape(len(ids), dim)
    is_user = np.array([k == "user" for k in kinds], dtype=bool)
    id_array = np.array(ids, dtype=object)
    return EmbeddingSet(
        users=id_array[is_user].tolist(),
        user_vectors=vectors[is_user],
        videos=id_array[~is_user].tolist(),
        video_vectors=vectors[~is_user],
        watched=watched_lists(inter),
        metadata={"method": "import", "source": str(path)},
    )


def _quote(rows: list[str]) -> str:
    more = f" (+{len(rows) - _SHOWN} more)" if len(rows) > _SHOWN else ""
    return ", ".join(rows[:_SHOWN]) + more


def _row_problems(kinds: list[Any], ids: list[Any], vectors: pa.Array, dim: int) -> list[str]:
    problems: list[str] = []
    bad_kind = [f"row {i}: {k!r}" for i, k in enumerate(kinds) if k not in KINDS]
    if bad_kind:
        problems.append(f"kind must be 'user' or 'video' ({_quote(bad_kind)})")
    null_ids = [f"row {i}" for i, v in enumerate(ids) if not v]
    if null_ids:
        problems.append(f"null or empty id ({_quote(null_ids)})")
    seen: set[tuple[Any, Any]] = set()
    dupes = []
    for kind, id_ in zip(kinds, ids, strict=True):
        if (kind, id_) in seen:
            dupes.append(f"{kind} {id_}")
        seen.add((kind, id_))
    if dupes:
        problems.append(f"duplicate id ({_quote(dupes)})")
    lengths = pc.list_value_length(vectors).to_numpy(zero_copy_only=False)
    null_vec = np.asarray(vectors.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    wrong = [
        f"{kinds[i]} {ids[i]} has {'no vector' if null_vec[i] else int(lengths[i])}"
        for i in np.flatnonzero(null_vec | (np.nan_to_num(lengths, nan=-1) != dim))
    ]
    if wrong:
        problems.append(f"vector dimension must be {dim} (HOT_EMBED_DIM): {_quote(wrong)}")
        return problems
    values = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
    matrix = values.reshape(len(ids), dim)
    finite = np.isfinite(matrix).all(axis=1)
    non_finite = [f"{kinds[i]} {ids[i]}" for i in np.flatnonzero(~finite)]
    if non_finite:
        problems.append(f"NaN or infinite values ({_quote(non_finite)})")
    zero = [
        f"{kinds[i]} {ids[i]}"
        for i in np.flatnonzero(finite & (np.abs(np.nan_to_num(matrix)).sum(axis=1) == 0))
    ]
    if zero:
        problems.append(f"zero vectors have no direction ({_quote(zero)})")
    return problems


def _unknown_ids(kinds: list[Any], ids: list[Any], inter: Interactions) -> list[str]:
    users, videos = inter.known_users, inter.known_videos
    unknown_videos = [
        str(i) for k, i in zip(kinds, ids, strict=True) if k == "video" and i and i not in videos
    ]
    unknown_users = [
        str(i) for k, i in zip(kinds, ids, strict=True) if k == "user" and i and i not in users
    ]
    problems = []
    if unknown_videos:
        problems.append(f"unknown video id(s) not in the catalogue: {_quote(unknown_videos)}")
    if unknown_users:
        problems.append(f"unknown user id(s) with no counted interactions: {_quote(unknown_users)}")
    return problems


@dataclass(frozen=True)
class EmbedResult:
    """Outcome of one embeddings run (``hot embed``)."""

    success: bool
    run_id: str
    seconds: float
    metadata: dict[str, Any]
    error: str | None


def run_embed(vectors_path: Path | None = None) -> EmbedResult:
    """Run the ``hot_embeddings`` job (the asset the schedule and sensor run) in-process.

    Uses the Dagster instance in ``DAGSTER_HOME``, so the run shows in the UI; the error is
    the failing step's own message (e.g. why an import was refused).
    """
    from dagster import DagsterInstance, RunConfig

    from dagster_project.assets.embeddings import EmbeddingsConfig
    from dagster_project.definitions import defs

    started = time.perf_counter()
    job = defs.resolve_job_def("hot_embeddings")
    config = EmbeddingsConfig(vectors_path=str(vectors_path) if vectors_path else "")
    result = job.execute_in_process(
        instance=DagsterInstance.get(),
        run_config=RunConfig(ops={"embeddings": config}),
        raise_on_error=False,
    )
    metadata: dict[str, Any] = {}
    for mat in result.asset_materializations_for_node("embeddings"):
        metadata = {k: v.value for k, v in mat.metadata.items()}
    error = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        info = failures[0].step_failure_data.error if failures else None
        while info is not None and info.cause is not None:
            info = info.cause  # the exception the asset raised, not Dagster's wrapper
        error = info.message.strip() if info else "the embeddings run failed"
    return EmbedResult(
        result.success, result.run_id, time.perf_counter() - started, metadata, error
    )
