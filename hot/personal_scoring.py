"""The score ``type=personal`` serves: one formula for the API and for every evaluation.

The serving reranker (``serving.domain.feed.services.personal``), the embeddings job's tuning
and its asset check (``dagster_project.embeddings``) and the offline bench all rank with the
functions of this module, so what is checked is exactly what is served.

Candidates are held **in ``videoId`` order** (that order breaks ties). For a user vector ``u``,
candidate vectors ``v_i`` (zero rows for candidates without a vector), raw hot scores ``h_i`` and
a version's :class:`ScoringParams` ``p``::

    s_i     = u · v_i                        (u and v_i scaled to unit length when p.cosine)
    sim_i   = (1 + s_i / max_j |s_j|) / 2     (in [0, 1]; 1/2 for all when every s_j is 0)
    hot_i   = h_i / max_j h_j                 (p.hot_norm == "max")
            = 1 - rank_i / (n - 1)            (p.hot_norm == "rank": rank by h descending)
    score_i = p.blend · sim_i + (1 - p.blend) · hot_i

Order: ``score`` descending, ties by ``videoId`` (:func:`top_k`). Dividing by the largest
``|s_j|`` makes a user's similarities comparable with the hot term whatever the vectors' scale
(an ALS dot product is a predicted preference, not a cosine); it costs one pass over ``n``.

What depends only on the model version or the snapshot — :func:`prepare_vectors` on the
candidate matrix, :func:`normalised_hot` — is done once; per request there is one
matrix-vector product in :func:`scores` and a partial sort in :func:`top_k`. The same functions
take a matrix of users (``m x d``) to score many users at once in evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

HotNorm = Literal["max", "rank"]
HOT_NORMS: tuple[HotNorm, ...] = ("max", "rank")


@dataclass(frozen=True)
class ScoringParams:
    """How one embeddings version's similarities are blended with hotness.

    Chosen by the embeddings job on its validation split and stored with the version
    (``hot.embedding_store``); :data:`DEFAULT_SCORING` for versions without them (imports).
    """

    blend: float = 0.6
    """Weight of the similarity term (``1 - blend`` goes to the hot term)."""
    cosine: bool = True
    """Scale user and video vectors to unit length before the dot product."""
    hot_norm: HotNorm = "max"
    """``max``: hot score over the largest; ``rank``: evenly spaced by hot rank."""

    def with_blend(self, blend: float | None) -> ScoringParams:
        """These params with ``blend`` replaced (``None``: unchanged) — the operator override."""
        return self if blend is None else replace(self, blend=blend)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> ScoringParams:
        """Params from a stored mapping; missing fields keep their defaults."""
        hot_norm = next((h for h in HOT_NORMS if h == raw.get("hot_norm", "max")), None)
        if hot_norm is None:
            raise ValueError(f"unknown hot_norm {raw.get('hot_norm')!r}")
        return cls(
            blend=float(raw.get("blend", cls.blend)),
            cosine=bool(raw.get("cosine", cls.cosine)),
            hot_norm=hot_norm,
        )


DEFAULT_SCORING = ScoringParams()
"""What a version without recorded params (an imported model) is served with."""


def prepare_vectors(vectors: np.ndarray, params: ScoringParams) -> np.ndarray:
    """Vectors (rows) as the dot product of :func:`scores` wants them: float32, unit rows
    when ``params.cosine`` (zero rows stay zero). Done per version or snapshot, not request."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if not params.cosine:
        return out
    norms = np.linalg.norm(out, axis=-1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


def normalised_hot(hot: np.ndarray, params: ScoringParams) -> np.ndarray:
    """The hot term of candidates in ``videoId`` order (``[0, 1]``), per ``params.hot_norm``."""
    hot = np.asarray(hot, dtype=np.float64)
    n = hot.size
    if params.hot_norm == "rank":
        if n < 2:
            return np.ones(n)
        ranks = np.empty(n)
        ranks[np.argsort(-hot, kind="stable")] = np.arange(n)  # ties: videoId order
        return 1.0 - ranks / (n - 1)
    top = float(hot.max()) if n else 0.0
    return hot / top if top > 0 else np.zeros(n)


def scores(items: np.ndarray, hot: np.ndarray, users: np.ndarray, blend: float) -> np.ndarray:
    """Blended scores of the candidates ``items`` (``n x d``, from :func:`prepare_vectors`)
    with their hot term ``hot`` (:func:`normalised_hot`) for one user (``d``) → ``n``, or
    for many (``m x d``) → ``m x n``."""
    dots = (users @ items.T).astype(np.float64)
    scale = np.abs(dots).max(axis=-1, keepdims=True) if dots.size else np.ones(dots.shape)
    sim = 0.5 + 0.5 * np.divide(dots, scale, out=np.zeros_like(dots), where=scale > 0)
    return blend * sim + (1.0 - blend) * hot


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` largest values, descending, ties by column (``videoId``)
    order — for one row (``n`` → ``k``) or each row of a matrix (``m x n`` → ``m x k``).

    A partition, not a full sort: a page of 20 out of 1,000 candidates costs ``O(n)``.
    """
    if values.ndim == 1:
        return _top_k_row(values, k)
    rows = np.where(np.isnan(values), -np.inf, values)  # a NaN (a diverged model) ranks last
    m, n = rows.shape
    k = max(0, min(k, n))
    if k == 0:
        return np.empty((m, 0), dtype=np.int64)
    kth = np.partition(rows, n - k, axis=1)[:, n - k : n - k + 1]
    above = rows > kth
    tied = rows == kth
    # Of the values tied with the k-th largest, the first ones in column order get in.
    room = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
    cols = np.nonzero(chosen)[1].reshape(m, k)
    picked = np.take_along_axis(rows, cols, axis=1)
    order = np.argsort(-picked, axis=1, kind="stable")
    return np.take_along_axis(cols, order, axis=1)


def _top_k_row(values: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k` of one row (a request's page): a partition, then a sort of what is
    within the k-th value (the same result as the matrix path, with fewer passes over n)."""
    keys = -np.where(np.isnan(values), -np.inf, values)
    n = len(keys)
    k = max(0, min(k, n))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    cols = np.arange(n) if k == n else np.flatnonzero(keys <= np.partition(keys, k - 1)[k - 1])
    return cols[np.lexsort((cols, keys[cols]))[:k]]
