"""Embeddings imported from an upstream model: a Parquet file validated as a whole.

Columns ``kind`` (``user``|``video``), ``id``, ``vector``; dimension, finiteness, non-zero
norm, duplicates and ids known to the warehouse are checked, and the file is refused with
one clear :class:`EmbeddingsError` listing what is wrong otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dagster_project.embeddings.interactions import EmbeddingsError, Interactions
from hot.embedding_store import EmbeddingSet

KINDS = ("user", "video")
_SHOWN = 5
"""Offending ids quoted in an error message."""


def import_vectors(path: Path, dim: int | None, inter: Interactions) -> EmbeddingSet:
    """Vectors of an upstream model from Parquet, validated as a whole.

    Refused (:class:`EmbeddingsError`, nothing published) when a column is missing, a
    ``kind`` is not ``user``/``video``, an id is null or repeated, a vector is null, not of
    dimension ``dim`` (``HOT_EMBED_DIM``; unset: the first vector's), not finite or zero, or
    an id is unknown (a video not in the catalogue, a user without counted interactions).
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
    source = "HOT_EMBED_DIM"
    if dim is None:
        lengths = pc.list_value_length(vector_col).drop_null().to_pylist()
        dim, source = (int(lengths[0]) if lengths else 0), "the first vector's"
    problems = _row_problems(kinds, ids, vector_col, dim, source)
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
        watched=inter.watched,
        metadata={"method": "import", "source": str(path)},
    )


def _quote(rows: list[str]) -> str:
    more = f" (+{len(rows) - _SHOWN} more)" if len(rows) > _SHOWN else ""
    return ", ".join(rows[:_SHOWN]) + more


def _row_problems(
    kinds: list[Any], ids: list[Any], vectors: pa.Array, dim: int, source: str
) -> list[str]:
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
        problems.append(f"vector dimension must be {dim} ({source}): {_quote(wrong)}")
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
