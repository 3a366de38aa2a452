"""Time-split hold-outs and ranking metrics: personal vs the global order vs most popular.

Public API (the embeddings job's tuning and asset check, and ``bench/personal_eval.py``):

- :func:`time_split` — per user, the pairs they came to last held out;
- :class:`EvalSet` (:meth:`EvalSet.build`) — what is ranked for whom: the candidates (the
  served list, or the ``top_n`` hottest by :func:`hot_proxy` of the training pairs), their
  hot scores and training popularity, each evaluated user's relevant (held-out) candidates
  and the candidates they already engaged with in training (left out of every ranking);
- :func:`evaluate` — recall@k and NDCG@k of every method, as one flat mapping
  (``personal/recall@20``, ``global/ndcg@20``, ``light/personal/recall@20``, ...).

The personal ranking is the served one (:mod:`hot.personal_scoring`): the same vectors
(float32), the same formula, the same tie rule; a user without a vector gets the global
order, as served. Recall@k is ``hits / min(|relevant|, k)`` (1 is reachable); NDCG@k is
binary. Users whose held-out videos are not among the candidates are not counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse

from dagster_project.embeddings.als import LIGHT_MAX_PAIRS
from dagster_project.embeddings.interactions import Interactions
from hot.embedding_store import EmbeddingSet
from hot.personal_scoring import ScoringParams, normalised_hot, prepare_vectors, scores, top_k

K = 20
HOLDOUT_FRACTION = 0.2
"""Share of each user's pairs held out (the latest they came to; at least one, none for
one-pair users)."""
HOT_HALF_LIFE_HOURS = 6.0
"""Half-life of :func:`hot_proxy` — the dbt var ``half_life_hours`` of the served score."""
MAX_EVAL_USERS = 20_000
"""Users evaluated at most (a seeded sample beyond): enough for stable means at any scale."""
CHUNK_USERS = 4_096
"""Users scored per matrix product (bounds memory to ``chunk x candidates``)."""

Metrics = dict[str, float]
METHODS = ("personal", "global", "popular")


def time_split(
    inter: Interactions, fraction: float = HOLDOUT_FRACTION
) -> tuple[Interactions, Interactions]:
    """``(train, holdout)``: of each user with 2+ pairs, the ``ceil(fraction · n)`` pairs they
    came to last (by the pair's first event; ties by video id) held out.

    By the first event, not the latest: a hold-out asks what the user comes to next. A pair
    the user came back to (a like or a comment after the watch) is no new video to guess, yet
    by its latest event it would be held out, and the videos users come back to are the hot
    ones: such a split overrates the hot order (on the simulated site, global recall@20 0.46
    against 0.22 on a split of the events)."""
    order, count, from_end = arrival_order(inter)
    held = np.where(count >= 2, np.ceil(fraction * count).astype(np.int64), 0)
    holdout = np.zeros(len(order), dtype=bool)
    holdout[order] = from_end <= held
    return inter.subset(~holdout), inter.subset(holdout)


def arrival_order(
    inter: Interactions, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs ``rows`` (all by default) by user, each user's in the order they came to them
    (the pair's first event; ties by video id): those rows in that order, the number of the
    user's pairs among them, and each one's place from the end (1: the pair came to last)."""
    codes = inter.codes  # integers sort much faster than strings, in the same order
    rows = np.arange(len(inter.user_ids)) if rows is None else rows
    order = rows[np.lexsort((codes.video_idx[rows], inter.first_epoch[rows], codes.user_idx[rows]))]
    users = codes.user_idx[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, len(users)])
    count = np.repeat(counts, counts)
    return order, count, count - (np.arange(len(users)) - np.repeat(starts, counts))


def hot_proxy(
    inter: Interactions, half_life_hours: float = HOT_HALF_LIFE_HOURS
) -> dict[str, float]:
    """Per video, its pairs' weights decayed to the latest event (what was hot then): the
    global order of an evaluation that must not see the held-out period's hotness."""
    if len(inter.video_ids) == 0:
        return {}
    now = float(inter.last_epoch.max())
    decayed = inter.weight * np.exp2(-(now - inter.last_epoch) / (half_life_hours * 3600.0))
    codes = inter.codes
    mass = np.bincount(codes.video_idx, weights=decayed, minlength=len(codes.videos))
    return {v: m for v, m in zip(codes.videos.tolist(), mass.tolist(), strict=True) if m > 0}


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions of ``ids`` in ``sorted_ids`` (-1 where absent)."""
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1)


@dataclass(frozen=True)
class EvalSet:
    """A hold-out, ready to rank: rows are evaluated users, columns candidates (id order)."""

    candidates: np.ndarray
    hot: np.ndarray
    popularity: np.ndarray
    """Training users per candidate (the most-popular baseline)."""
    users: np.ndarray
    relevant: np.ndarray
    """``users x candidates`` bool: held out."""
    seen: sparse.csr_matrix
    """``users x candidates``: engaged with in training (left out of the rankings)."""
    light: np.ndarray
    """Per user: 1 to ``LIGHT_MAX_PAIRS`` training pairs."""

    @classmethod
    def build(
        cls,
        train: Interactions,
        holdout: Interactions,
        hot: Mapping[str, float] | None = None,
        top_n: int = 1000,
        max_users: int = MAX_EVAL_USERS,
        seed: int = 0,
    ) -> EvalSet:
        """The evaluation of ``holdout`` for a model trained on ``train``.

        ``hot``: the candidates and their hot scores (e.g. a served snapshot); default the
        ``top_n`` videos by :func:`hot_proxy` of ``train``.
        """
        hot = dict(hot) if hot is not None else _top(hot_proxy(train), top_n)
        candidates = np.array(sorted(hot), dtype=str)
        hot_scores = np.array([hot[v] for v in candidates.tolist()], dtype=np.float64)
        n = len(candidates)
        train_cols = _lookup(candidates, train.codes.videos)[train.codes.video_idx]
        popularity = np.bincount(train_cols[train_cols >= 0], minlength=n).astype(np.float64)
        hold_cols = _lookup(candidates, holdout.codes.videos)[holdout.codes.video_idx]
        in_cands = hold_cols >= 0
        users = np.unique(holdout.codes.users[holdout.codes.user_idx[in_cands]])
        if len(users) > max_users:
            rng = np.random.default_rng(seed)
            users = np.sort(rng.choice(users, size=max_users, replace=False))
        # Ids looked up once per vocabulary entry, not per pair (millions of strings).
        rows = _lookup(users, holdout.codes.users)[holdout.codes.user_idx]
        keep = in_cands & (rows >= 0)
        relevant = np.zeros((len(users), n), dtype=bool)
        relevant[rows[keep], hold_cols[keep]] = True
        train_rows = _lookup(users, train.codes.users)[train.codes.user_idx]
        both = (train_rows >= 0) & (train_cols >= 0)
        seen = sparse.csr_matrix(
            (np.ones(int(both.sum()), dtype=np.float32), (train_rows[both], train_cols[both])),
            shape=(len(users), n),
        )
        counts = np.bincount(train_rows[train_rows >= 0], minlength=len(users))
        light = (counts >= 1) & (counts <= LIGHT_MAX_PAIRS)
        return cls(candidates, hot_scores, popularity, users, relevant, seen, light)

    def sample(self, max_users: int, seed: int = 0) -> EvalSet:
        """At most ``max_users`` of these users (seeded; all of them when fewer): the same
        hold-out, cheaper to score many times (a search)."""
        if len(self.users) <= max_users:
            return self
        rows = np.sort(np.random.default_rng(seed).choice(len(self.users), max_users, False))
        return EvalSet(
            self.candidates,
            self.hot,
            self.popularity,
            self.users[rows],
            self.relevant[rows],
            self.seen[rows],
            self.light[rows],
        )

    def made_light(self, users: np.ndarray, videos: np.ndarray, light: np.ndarray) -> EvalSet:
        """This hold-out with ``light`` (per user) as its light users, and the training pairs
        (``users[i]``, ``videos[i]``) no longer seen: users made light, whose earlier pairs
        never happened (their videos are candidates again, as for a new user)."""
        rows = _lookup(self.users, users)
        cols = _lookup(self.candidates, videos)
        both = (rows >= 0) & (cols >= 0)
        forget = sparse.csr_matrix(
            (np.ones(int(both.sum()), dtype=np.float32), (rows[both], cols[both])),
            shape=self.seen.shape,
        )
        seen = (self.seen - self.seen.multiply(forget)).tocsr()
        seen.eliminate_zeros()
        return replace(self, seen=seen, light=light)


def _top(hot: dict[str, float], top_n: int) -> dict[str, float]:
    ranked = sorted(hot.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
    return dict(ranked)


_DISCOUNT = 1.0 / np.log2(np.arange(2, K + 2))


def _per_user(ev: EvalSet, rows: slice, ranked: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Recall@k and NDCG@k of each user of ``rows`` for their ranked candidate columns."""
    relevant = ev.relevant[rows]
    hits = np.take_along_axis(relevant, ranked, axis=1).astype(np.float64)
    n_rel = np.minimum(relevant.sum(axis=1), k)
    discount = _DISCOUNT[:k] if k <= K else 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.maximum(n_rel, 1) - 1]
    width = hits.shape[1]
    return hits.sum(axis=1) / n_rel, (hits * discount[:width]).sum(axis=1) / ideal


def _ranked(values: np.ndarray, seen: sparse.csr_matrix, k: int) -> np.ndarray:
    """The top ``k`` columns of each row, what the user already engaged with left out."""
    values = np.array(values, dtype=np.float64, copy=True)
    coo = seen.tocoo()
    values[coo.row, coo.col] = -np.inf
    return top_k(values, k)


def per_user_metrics(
    ev: EvalSet,
    embeddings: EmbeddingSet | None,
    scoring: ScoringParams,
    k: int = K,
    baselines: bool = True,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per method, each evaluated user's (recall@k, NDCG@k) arrays; ``baselines`` False:
    personal only (a search scoring many variants). ``embeddings`` ``None``: nobody has a
    vector, so personal is the global order."""
    m = len(ev.users)
    methods = METHODS if baselines else METHODS[:1]
    out = {method: (np.zeros(m), np.zeros(m)) for method in methods}
    if m == 0:
        return out
    hot_term = normalised_hot(ev.hot, scoring)
    user_rows = np.full(m, -1)
    items = np.zeros((len(ev.candidates), 1), dtype=np.float32)
    if embeddings is not None and embeddings.users:
        user_ids = np.array(embeddings.users, dtype=str)
        by_id = np.argsort(user_ids)
        found = _lookup(user_ids[by_id], ev.users)
        user_rows = np.where(found >= 0, by_id[np.maximum(found, 0)], -1)
        video_ids = np.array(embeddings.videos, dtype=str)
        v_by_id = np.argsort(video_ids)
        v_found = _lookup(video_ids[v_by_id], ev.candidates)
        items = np.zeros((len(ev.candidates), embeddings.dim), dtype=np.float32)
        items[v_found >= 0] = embeddings.video_vectors[v_by_id[v_found[v_found >= 0]]]
        items = prepare_vectors(items, scoring)
    for start in range(0, m, CHUNK_USERS):
        rows = slice(start, min(start + CHUNK_USERS, m))
        seen = ev.seen[rows]
        size = seen.shape[0]
        if baselines:
            for method, base in (("global", ev.hot), ("popular", ev.popularity)):
                ranked = _ranked(np.broadcast_to(base, (size, len(base))), seen, k)
                recall, ndcg = _per_user(ev, rows, ranked, k)
                out[method][0][rows], out[method][1][rows] = recall, ndcg
        chunk_rows = user_rows[rows]
        personal = np.broadcast_to(ev.hot, (size, len(ev.hot))).copy()
        has = chunk_rows >= 0
        if has.any():
            vectors = prepare_vectors(
                np.asarray(embeddings.user_vectors)[chunk_rows[has]],  # type: ignore[union-attr]
                scoring,
            )
            personal[has] = scores(items, hot_term, vectors, scoring.blend)
        recall, ndcg = _per_user(ev, rows, _ranked(personal, seen, k), k)
        out["personal"][0][rows], out["personal"][1][rows] = recall, ndcg
    return out


def summarize(
    ev: EvalSet, per_user: dict[str, tuple[np.ndarray, np.ndarray]], k: int = K
) -> Metrics:
    """Mean metrics per method, over all evaluated users and over light users (keys only
    for a non-empty group: no NaN)."""
    metrics: Metrics = {
        "users": float(len(ev.users)),
        "light_users": float(ev.light.sum()),
        "candidates": float(len(ev.candidates)),
    }
    subsets = [("", np.ones(len(ev.users), dtype=bool))]
    if ev.light.any():
        subsets.append(("light/", ev.light))
    for prefix, mask in subsets:
        for method, (recall, ndcg) in per_user.items():
            if mask.any():
                metrics[f"{prefix}{method}/recall@{k}"] = float(recall[mask].mean())
                metrics[f"{prefix}{method}/ndcg@{k}"] = float(ndcg[mask].mean())
    return metrics


def evaluate(
    embeddings: EmbeddingSet | None, scoring: ScoringParams, ev: EvalSet, k: int = K
) -> Metrics:
    """Recall@k and NDCG@k of personal (``embeddings`` ranked by ``scoring``, as served),
    the global order and most popular on ``ev``; the same for light users (``light/...``)."""
    metrics = summarize(ev, per_user_metrics(ev, embeddings, scoring, k), k)
    if embeddings is not None:
        known = set(embeddings.users)
        metrics["personalized_users"] = float(sum(1 for u in ev.users.tolist() if u in known))
    return metrics
