"""recall@k and NDCG@k of ranked candidate lists, with what each user has seen left out.

Every method scores the same candidates; a user's already-seen candidates are dropped before
the top ``k`` is taken, and only held-out items among the candidates count as relevant.
recall@k = hits / min(|relevant|, k), so a perfect list scores 1 whatever the number of
held-out items; NDCG@k is binary (gain 1 per hit, ideal = min(|relevant|, k) hits on top).
:func:`paired_bootstrap` compares two methods' per-user values on the same users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np


def score_users(
    scores: np.ndarray,
    candidates: np.ndarray,
    users: Sequence[int],
    relevant: Mapping[int, set[int]],
    seen: Mapping[int, set[int]],
    k: int,
) -> np.ndarray:
    """Per user (row of ``scores``, over ``candidates``): ``[recall@k, NDCG@k]`` → ``m x 2``.

    A user's seen candidates score -inf; a stable sort breaks ties by candidate order (the
    served hot order), so most-popular's many ties fall back on the global order.
    """
    m, n = len(users), len(candidates)
    column = {item: c for c, item in enumerate(candidates.tolist())}
    seen_mask = np.zeros((m, n), dtype=bool)
    rel_mask = np.zeros((m, n), dtype=bool)
    for row, user in enumerate(users):
        seen_mask[row, [column[i] for i in seen.get(user, ()) if i in column]] = True
        rel_mask[row, [column[i] for i in relevant[user] if i in column]] = True
    masked = np.where(seen_mask, -np.inf, np.asarray(scores, dtype=np.float64))
    top = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(rel_mask, top, axis=1) & ~np.take_along_axis(seen_mask, top, axis=1)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    best = np.minimum(rel_mask.sum(axis=1), k)
    ideal = np.cumsum(discount)[np.maximum(best, 1) - 1]
    out = np.zeros((m, 2))
    out[:, 0] = hits.sum(axis=1) / np.maximum(best, 1)
    out[:, 1] = (hits * discount[: hits.shape[1]]).sum(axis=1) / ideal
    return out


@dataclass(frozen=True)
class Paired:
    """``a`` against ``b`` over the same users: the ratio of the means, the 95 % interval of
    the difference of the means as a ratio (``1 + difference / mean(b)``), and the verdict."""

    ratio: float
    low: float
    high: float
    verdict: Literal["above", "tie", "below"]


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> Paired:
    """Paired bootstrap of ``mean(a) - mean(b)``: users (the positions of ``a`` and ``b``)
    are drawn with replacement, the same draw for both. The verdict is "above" when the
    interval is above 0, "below" when below, else "tie". Deterministic given ``seed``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = a - b
    draws = np.random.default_rng(seed).integers(0, len(diff), size=(resamples, len(diff)))
    low, high = np.quantile(diff[draws].mean(axis=1), [(1 - level) / 2, (1 + level) / 2])
    base = b.mean() or np.nan
    verdict = "above" if low > 0 else "below" if high < 0 else "tie"
    return Paired(float(a.mean() / base), float(1 + low / base), float(1 + high / base), verdict)
