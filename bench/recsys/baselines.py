"""The field's baselines on the served candidates: most-popular, implicit ALS and EASE.

ALS and EASE are tuned on the validation split (:func:`bench.recsys.data.split`): each grid
point is trained on the ``fit`` rows and scored on the ``valid`` rows over the same
candidates; the best (recall@k, then NDCG@k) is trained again on all training rows and only
then scored on the test rows. The test rows are never looked at while choosing.

- **ALS**: ``implicit``'s conjugate-gradient ALS (Hu, Koren & Volinsky 2008) on the summed
  weights, :data:`ALS_GRID` searched in stages (27 trainings + edge steps, not 75): every
  regularization x alpha (the confidence weight) at :data:`ALS_FIRST_FACTORS` factors, then
  the other factor counts at the best pair. The best point moves a lot between datasets
  (regularization 0.01 to 100 seen best): while the best pair is on an edge of what was
  tried, one more step past it is trained (regularization x10, alpha x4; at most
  :data:`ALS_EDGE_STEPS` rounds), so no dataset's optimum is cut off by the grid.
- **EASE** (Steck 2019): ``B = P / -diag(P)``, ``P = (X'X + λI)^-1``, zero diagonal, on the
  binary user x item matrix; λ from :data:`EASE_LAMBDAS`. One eigendecomposition of ``X'X``
  serves every λ (``P = Q diag(1 / (e + λ)) Q'``), and only the candidates' columns of ``P``
  are formed. Its items are the :data:`EASE_MAX_ITEMS` most popular training items plus every
  candidate, so a catalogue of 10^4+ items still fits in minutes on 2 cores.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from bench.recsys.metrics import score_users

ALS_GRID: dict[str, tuple[float, ...]] = {
    "factors": (32, 64, 128),
    "regularization": (0.01, 0.1, 1.0, 10.0, 100.0),
    "alpha": (0.25, 1.0, 5.0, 20.0, 80.0),
}
ALS_FIRST_FACTORS = 64
ALS_EDGE_STEP = {"regularization": 10.0, "alpha": 4.0}
"""How far past the grid a best point on its edge is followed (a factor per step)."""
ALS_EDGE_STEPS = 3
ALS_ITERATIONS = 15
EASE_LAMBDAS = (1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 3000.0)
EASE_MAX_ITEMS = 3000

Scorer = Callable[[np.ndarray], np.ndarray]
"""Users (codes) → their scores over the candidates (``m x n``)."""


@dataclass(frozen=True)
class Target:
    """Whom to score and against what: users, their relevant and seen items."""

    users: Sequence[int]
    relevant: Mapping[int, set[int]]
    seen: Mapping[int, set[int]]

    def per_user(self, scorer: Scorer, candidates: np.ndarray, k: int) -> np.ndarray:
        """``[recall@k, NDCG@k]`` of ``scorer`` per user, in the order of ``users`` (``m x 2``)."""
        users = np.asarray(self.users, dtype=np.int64)
        return score_users(scorer(users), candidates, self.users, self.relevant, self.seen, k)

    def mean(self, scorer: Scorer, candidates: np.ndarray, k: int) -> np.ndarray:
        """Mean ``[recall@k, NDCG@k]`` of ``scorer`` over these users."""
        return self.per_user(scorer, candidates, k).mean(axis=0)


def popularity(matrix: sp.csr_matrix, candidates: np.ndarray) -> Scorer:
    """Most-popular: the number of distinct users of each candidate, the same for everyone."""
    counts = np.diff(matrix.tocsc().indptr)[candidates].astype(np.float64)
    return lambda users: np.broadcast_to(counts, (len(users), len(candidates)))


def als(matrix: sp.csr_matrix, candidates: np.ndarray, seed: int, **params: float) -> Scorer:
    """implicit's ALS trained on ``matrix`` (user x item weights) with ``params``."""
    from implicit.cpu.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=int(params["factors"]),
        regularization=float(params["regularization"]),
        alpha=float(params["alpha"]),
        iterations=ALS_ITERATIONS,
        random_state=seed,
        num_threads=min(2, os.cpu_count() or 1),
    )
    model.fit(matrix.astype(np.float32).tocsr(), show_progress=False)
    items = np.asarray(model.item_factors)[candidates]
    users_f = np.asarray(model.user_factors)
    return lambda users: users_f[users] @ items.T


class Ease:
    """EASE for every λ from one eigendecomposition of the item Gram matrix."""

    def __init__(self, matrix: sp.csr_matrix, candidates: np.ndarray) -> None:
        binary = (matrix > 0).astype(np.float64).tocsr()
        users_per_item = np.diff(binary.tocsc().indptr)
        popular = np.argsort(-users_per_item, kind="stable")[:EASE_MAX_ITEMS]
        popular = popular[users_per_item[popular] > 0]
        self.items = np.union1d(popular, candidates)
        self.x = binary[:, self.items].tocsr()
        gram = (self.x.T @ self.x).toarray()
        self.eigenvalues, self.q = np.linalg.eigh(gram)
        self.cand_cols = np.searchsorted(self.items, candidates)

    def scorer(self, lam: float) -> Scorer:
        """Scores of EASE with regularisation ``lam``."""
        inv = 1.0 / (self.eigenvalues + lam)
        q_cand = self.q[self.cand_cols]
        p_cols = (self.q * inv) @ q_cand.T  # P[:, candidates]
        p_diag = (q_cand**2) @ inv  # diag(P) at the candidates
        b = p_cols / -p_diag
        b[self.cand_cols, np.arange(len(self.cand_cols))] = 0.0
        return lambda users: np.asarray(self.x[users] @ b)


@dataclass(frozen=True)
class Tuned:
    """A baseline's chosen parameters, its validation metrics, and its test scorer."""

    params: dict[str, Any]
    valid: tuple[float, float]
    grid: list[dict[str, Any]]
    scorer: Scorer


def _best(results: list[tuple[dict[str, Any], np.ndarray]]) -> tuple[dict[str, Any], np.ndarray]:
    return max(results, key=lambda r: (round(float(r[1][0]), 6), float(r[1][1])))


def tune_als(
    fit: sp.csr_matrix,
    train: sp.csr_matrix,
    candidates: np.ndarray,
    valid: Target,
    k: int,
    seed: int,
    grid: Mapping[str, Sequence[float]] = ALS_GRID,
) -> Tuned:
    """The ALS point best on ``valid`` (trained on ``fit``; module docstring), retrained on
    ``train``."""
    first = grid["factors"][0] if len(grid["factors"]) == 1 else ALS_FIRST_FACTORS
    results: list[tuple[dict[str, Any], np.ndarray]] = []

    def trial(params: dict[str, Any]) -> None:
        results.append((params, valid.mean(als(fit, candidates, seed, **params), candidates, k)))

    for reg, alpha in itertools.product(grid["regularization"], grid["alpha"]):
        trial({"factors": first, "regularization": reg, "alpha": alpha})
    # Past the grid's edge while an edge is best: one step at a time, a few steps at most.
    for _ in range(ALS_EDGE_STEPS if len(grid["factors"]) > 1 else 0):
        best, _ = _best(results)
        tried = len(results)
        for name, step in ALS_EDGE_STEP.items():
            values = sorted({p[name] for p, _ in results})
            for edge, beyond in ((values[-1], best[name] * step), (values[0], best[name] / step)):
                if best[name] == edge:
                    trial({**best, name: beyond})
        if len(results) == tried:
            break
    best, _ = _best(results)
    for factors in grid["factors"]:
        if factors != first:
            trial({**best, "factors": factors})
    params, metric = _best(results)
    return Tuned(
        params=params,
        valid=(float(metric[0]), float(metric[1])),
        grid=[{**p, "recall": float(m[0]), "ndcg": float(m[1])} for p, m in results],
        scorer=als(train, candidates, seed, **params),
    )


def tune_ease(
    fit: sp.csr_matrix,
    train: sp.csr_matrix,
    candidates: np.ndarray,
    valid: Target,
    k: int,
    lambdas: Sequence[float] = EASE_LAMBDAS,
) -> Tuned:
    """The EASE λ best on ``valid`` (trained on ``fit``), retrained on ``train``."""
    on_fit = Ease(fit, candidates)
    results = [({"lambda": lam}, valid.mean(on_fit.scorer(lam), candidates, k)) for lam in lambdas]
    params, metric = _best(results)
    return Tuned(
        params=params,
        valid=(float(metric[0]), float(metric[1])),
        grid=[{**p, "recall": float(m[0]), "ndcg": float(m[1])} for p, m in results],
        scorer=Ease(train, candidates).scorer(params["lambda"]),
    )
