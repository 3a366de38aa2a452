"""Embeddings learned from engagement: a truncated SVD of the user x video matrix.

The matrix holds ``log1p(interaction_weight)`` of counted interactions (mart
``fct_user_video_interactions``), each pair decayed by the age of its latest event
(``DECAY_HALF_LIFE_DAYS``). With ``X ≈ U·S·Vᵀ``, users get ``U·√S`` and videos ``V·√S``, so
the cosine of a user and a video is that of the low-rank reconstruction.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import svds

from dagster_project.embeddings.interactions import EmbeddingsError, Interactions, watched_lists
from hot.embedding_store import EmbeddingSet

DECAY_HALF_LIFE_DAYS = 30.0
"""Half-life of a (user, video) pair's weight, by the age of its latest counted event."""


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
