"""Embeddings learned from engagement: implicit-feedback ALS (``implicit``, CPU build).

The user x video matrix holds, per counted (user, video) pair of the warehouse
(``fct_user_video_interactions``), the confidence of Hu, Koren & Volinsky (2008)::

    c = 1 + alpha · f(weight) · 2^(-age / half_life)

``f`` is the :attr:`AlsParams.weighting` (``log``: ``log1p``; ``bm25``: implicit's BM25 weighting
over the users of each video; ``raw``), ``age`` counted from the latest event (or ``now_epoch``)
to the pair's latest event, no decay when ``half_life_days`` is 0. ALS factorises it
(``implicit.cpu.als.AlternatingLeastSquares``, seeded); users get its user factors and videos its
item factors, so a dot product is ALS's predicted preference. Users with at most
:data:`LIGHT_MAX_PAIRS` pairs may instead get the confidence-weighted mean of the vectors of the
videos they engaged with (:attr:`ModelParams.light_users` ``item_mean``), the popularity prior
alone (``popular``, below), or no vector at all (``global``: they keep the global order,
``personalized: false``); which is best for them is chosen on validation data (:mod:`.tuning`).

**Popularity prior.** With :attr:`ModelParams.popularity_prior` ``w > 0`` every vector gets one
more dimension: a video's is ``log1p(users) / log1p(max users)`` (its training popularity in
``[0, 1]``), a user's ``w · |u| · rms(|v|)`` (scaled like the user's ALS scores), so the served
dot product is ALS's predicted preference plus ``w`` times a popularity prior — what a
low-rank model misses for users with little history, served from LanceDB as plain vectors
and scored by the same formula (raw dot product: cosine would rescale the prior away).

Which values are used is chosen by :func:`dagster_project.embeddings.tuning.tune_and_train`;
:func:`train` trains with given ones. Every fit runs under a :class:`Deadline` and stops with
:class:`TrainingBudgetExceeded` once it has passed (checked after each ALS iteration).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import sparse

from dagster_project.embeddings.interactions import EmbeddingsError, Interactions
from hot.embedding_store import EmbeddingSet
from hot.personal_scoring import ScoringParams

# implicit asks for a single-threaded BLAS (its own threads do the work; a threaded OpenBLAS
# under them is up to 10x slower). Set before numpy's BLAS starts its pool where possible;
# fit() also limits it with threadpoolctl for a process that loaded BLAS earlier.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

Weighting = Literal["log", "bm25", "raw"]
LightUsers = Literal["als", "item_mean", "popular", "global"]

LIGHT_MAX_PAIRS = 3
"""Users with at most this many pairs are "light": their vector may be folded in from videos."""
BM25_K1, BM25_B = 100.0, 0.8
"""implicit's BM25 defaults (its examples' values for play counts)."""
SEED = 0
PARALLEL_FROM_PAIRS = 1_000_000
"""Pairs from which a fit uses every core."""


@dataclass(frozen=True)
class AlsParams:
    """What ALS is trained with (the tuned hyper-parameters)."""

    factors: int = 64
    regularization: float = 0.1
    alpha: float = 20.0
    """Confidence weight of an interaction (``c = 1 + alpha · f(weight) · decay``)."""
    weighting: Weighting = "log"
    half_life_days: float = 0.0
    """Recency half-life of a pair's weight by the age of its latest event (0: no decay)."""
    iterations: int = 15


@dataclass(frozen=True)
class ModelParams:
    """Everything a model version is trained and served with; recorded with the version."""

    als: AlsParams = field(default_factory=AlsParams)
    scoring: ScoringParams = field(default_factory=ScoringParams)
    light_users: LightUsers = "als"
    popularity_prior: float = 0.0
    """Weight of the popularity dimension (0: none, the vectors are ALS's factors only)."""

    @property
    def has_prior(self) -> bool:
        """Whether the vectors carry the popularity dimension (then served without cosine)."""
        return self.popularity_prior > 0 or self.light_users == "popular"

    def to_mapping(self) -> dict[str, Any]:
        """A JSON-able mapping (``als``, ``scoring``, ``light_users``, ``popularity_prior``)."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> ModelParams:
        """Params from :meth:`to_mapping`'s output (a recorded version)."""
        als = {k: v for k, v in raw.get("als", {}).items() if k in AlsParams.__dataclass_fields__}
        return cls(
            als=AlsParams(**als),
            scoring=ScoringParams.from_mapping(raw.get("scoring", {})),
            light_users=raw.get("light_users", "als"),
            popularity_prior=float(raw.get("popularity_prior", 0.0)),
        )


class TrainingBudgetExceeded(EmbeddingsError):
    """Training (with its tuning and check) did not finish within the time budget."""


class Deadline:
    """The end of a time budget (monotonic clock)."""

    def __init__(self, budget_sec: float) -> None:
        self.budget_sec = budget_sec
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the budget started."""
        return time.monotonic() - self.started

    @property
    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.budget_sec - self.elapsed

    def check(self, what: str) -> None:
        """Raise :class:`TrainingBudgetExceeded` (naming ``what``) once the budget is spent."""
        if self.remaining < 0:
            raise TrainingBudgetExceeded(
                f"{what} did not finish within the training budget of {self.budget_sec:g} s "
                f"(HOT_EMBED_TUNE_BUDGET_SEC)"
            )


@dataclass(frozen=True)
class Factors:
    """One ALS fit: its factors and the matrix they were fitted on (rows/columns by id)."""

    users: np.ndarray
    videos: np.ndarray
    matrix: sparse.csr_matrix
    user_factors: np.ndarray
    item_factors: np.ndarray
    fit_sec: float


def confidence_matrix(
    inter: Interactions, params: AlsParams, now_epoch: float | None = None
) -> tuple[np.ndarray, np.ndarray, sparse.csr_matrix]:
    """Users, videos (sorted ids) and the ``users x videos`` confidence matrix (float32 CSR)."""
    if len(inter.user_ids) == 0:
        raise EmbeddingsError("no counted interactions yet: nothing to learn embeddings from")
    codes = inter.codes
    users, videos = codes.users, codes.videos
    shape = (len(users), len(videos))
    if params.weighting == "log":
        values = np.log1p(inter.weight)
    else:
        values = inter.weight.astype(np.float64)
    if params.half_life_days > 0:
        now = float(np.max(inter.last_epoch)) if now_epoch is None else now_epoch
        age_days = np.maximum(now - inter.last_epoch, 0.0) / 86_400.0
        values = values * np.exp2(-age_days / params.half_life_days)
    matrix = sparse.csr_matrix((values, (codes.user_idx, codes.video_idx)), shape=shape)
    if params.weighting == "bm25":
        from implicit.nearest_neighbours import bm25_weight

        # As implicit's examples do: over the items x users matrix (idf over each video's
        # users, length normalisation per video). Clipped: an idf can dip below 0 on a
        # video nearly every user engaged with, and a negative value means "disliked".
        weighted = bm25_weight(matrix.T, K1=BM25_K1, B=BM25_B).T.tocsr()
        weighted.data = np.maximum(weighted.data, 0.0)
        matrix = weighted
    matrix.data = 1.0 + params.alpha * matrix.data
    return users, videos, matrix.astype(np.float32)


def fit(
    inter: Interactions,
    params: AlsParams,
    deadline: Deadline,
    now_epoch: float | None = None,
    what: str = "training",
) -> Factors:
    """ALS on ``inter`` with ``params``; stops when ``deadline`` passes (checked each iteration)."""
    from threadpoolctl import threadpool_limits

    users, videos, matrix = confidence_matrix(inter, params, now_epoch)
    deadline.check(what)
    started = time.monotonic()
    # On a small matrix implicit's OpenMP threads cost more than they bring (4x slower
    # measured on 2 busy cores for 30k pairs); from a million pairs on, all cores.
    threads = 1 if matrix.nnz < PARALLEL_FROM_PAIRS else 0
    with threadpool_limits(limits=1, user_api="blas"):
        from implicit.cpu.als import AlternatingLeastSquares

        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=1.0,  # the confidence is already in the matrix (c = 1 + alpha · ...)
            iterations=params.iterations,
            random_state=SEED,
            num_threads=threads,
        )
        model.fit(matrix, show_progress=False, callback=lambda *_: deadline.check(what))
    return Factors(
        users=users,
        videos=videos,
        matrix=matrix,
        user_factors=np.asarray(model.user_factors, dtype=np.float32),
        item_factors=np.asarray(model.item_factors, dtype=np.float32),
        fit_sec=time.monotonic() - started,
    )


def light_rows(factors: Factors) -> np.ndarray:
    """Rows (users) of ``factors`` with at most :data:`LIGHT_MAX_PAIRS` pairs."""
    return np.flatnonzero(np.diff(factors.matrix.indptr) <= LIGHT_MAX_PAIRS)


def user_vectors(factors: Factors, light_users: LightUsers) -> np.ndarray:
    """Every user's ALS vector: ALS's own, or for light users with ``item_mean`` the
    confidence-weighted mean of their videos' vectors (a fold-in from what they watched),
    with ``popular`` and ``global`` none (a zero vector: the prior alone, or the global order)."""
    vectors = factors.user_factors.copy()
    if light_users in ("popular", "global"):
        vectors[light_rows(factors)] = 0.0
    elif light_users == "item_mean":
        rows = light_rows(factors)
        sub = factors.matrix[rows]
        totals = np.asarray(sub.sum(axis=1)).ravel()
        mean = sparse.diags(1.0 / np.maximum(totals, 1e-12)) @ sub @ factors.item_factors
        vectors[rows] = np.asarray(mean, dtype=np.float32)
    return vectors


def with_prior(
    factors: Factors, users: np.ndarray, params: ModelParams
) -> tuple[np.ndarray, np.ndarray]:
    """User and video vectors with the popularity dimension appended (module docstring);
    ``popular`` light users get the prior alone (their ALS part is zero)."""
    popularity = np.log1p(np.bincount(factors.matrix.indices, minlength=len(factors.videos)))
    prior = popularity / max(float(popularity.max()), 1e-12)
    item_scale = float(np.sqrt(np.mean(np.sum(factors.item_factors**2, axis=1))))
    user_prior = params.popularity_prior * np.linalg.norm(users, axis=1) * item_scale
    if params.light_users == "popular":
        user_prior[light_rows(factors)] = 1.0
    return (
        np.column_stack([users, user_prior]).astype(np.float32),
        np.column_stack([factors.item_factors, prior]).astype(np.float32),
    )


def embedding_set(
    factors: Factors, params: ModelParams, inter: Interactions, metadata: dict[str, Any]
) -> EmbeddingSet:
    """The vectors of ``factors`` served with ``params`` (its light users' rule and prior) as
    an :class:`EmbeddingSet` (zero vectors left out: they have no direction, so those users
    keep the global order)."""
    users = user_vectors(factors, params.light_users)
    videos = factors.item_factors
    if params.has_prior:
        users, videos = with_prior(factors, users, params)
    keep_u = np.linalg.norm(users, axis=1) > 1e-9
    keep_v = np.linalg.norm(videos, axis=1) > 1e-9
    return EmbeddingSet(
        users=factors.users[keep_u].tolist(),
        user_vectors=users[keep_u],
        videos=factors.videos[keep_v].tolist(),
        video_vectors=videos[keep_v],
        watched=inter.watched,
        metadata={"method": "als", "pairs": int(factors.matrix.nnz), **metadata},
    )


def train(
    inter: Interactions,
    params: ModelParams,
    deadline: Deadline,
    now_epoch: float | None = None,
    what: str = "training",
) -> EmbeddingSet:
    """Embeddings of ``inter`` trained with ``params`` (no tuning)."""
    factors = fit(inter, params.als, deadline, now_epoch, what)
    return embedding_set(factors, params, inter, {"fit_sec": factors.fit_sec})
