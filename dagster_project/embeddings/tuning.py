"""Hyper-parameters chosen by the data, within a time budget, then a model trained on it all.

Public API (the embeddings asset's check, tests)::

    from dagster_project.embeddings.evaluation import EvalSet, evaluate, time_split
    train, holdout = time_split(inter)
    ev = EvalSet.build(train, holdout, hot=None)               # hot: candidates -> hot score
    tuned = tune(train, ev, Deadline(60))                      # -> Tuned
    tuned.params, tuned.validation, tuned.embeddings           # choices, their metrics, model
    model = tune_and_train(inter, budget_sec=60)               # the same split, then all pairs
    metrics = evaluate(model.embeddings, model.tuned.params.scoring, ev)
    # {"personal/recall@20", "global/ndcg@20", "popular/...", "light/personal/...", ...}

:func:`tune` fits on ``train`` and ranks ``ev`` (each user's later pairs among the candidates,
with what the user already saw left out, as served). It searches by coordinate descent over
:data:`GRID` — ALS factors, regularisation, confidence weight ``alpha``, weighting (log / BM25
/ raw) and recency half-life — starting from ``start`` (the served version's values, so a
search that finds nothing better keeps them): one value of one parameter changed at a time,
the best kept, until a full round improves nothing or the budget is spent. While the best
regularisation or alpha sits on an edge of the values tried, one step past it is tried too
(:data:`EDGE_STEPS`). Each trial is one ALS fit on ``train``, scored by :func:`_objective`
(validation recall@20, then NDCG@20) of the served formula (:mod:`hot.personal_scoring`) with
the best of :data:`SEARCH_BLENDS`, cosine or raw dot product. Then, on the best fit, the
scoring params (blend with hotness, cosine or raw dot product with a popularity prior of some
weight, hot normalisation) and the light users' vectors (ALS's, folded in from their videos,
the popularity prior alone, or none: the global order) are chosen on the same validation
users — the light users' rule on at least :data:`LIGHT_CHOICE_USERS` light ones where the
data allows, some made light when too few are (one more fit, when the budget holds it:
:func:`_light_fit`). :func:`tune_and_train` does the time split itself
(:func:`.evaluation.time_split`, candidates the hottest videos of the training part) and
trains the chosen values on all of ``inter``.

The budget covers all of it: a new trial starts only when it, choosing the serving params and
the ``reserve_fits`` fits the caller still runs (estimated from the trials, scaled by size)
still fit; any fit still running when the budget is spent raises
:class:`.TrainingBudgetExceeded` (the caller keeps the served model). Fits are seeded, so the
same data and budget give the same model unless the budget cuts the search short.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dagster_project.embeddings.als import (
    LIGHT_MAX_PAIRS,
    AlsParams,
    Deadline,
    Factors,
    LightUsers,
    ModelParams,
    embedding_set,
    fit,
)
from dagster_project.embeddings.als import (
    train as train_model,
)
from dagster_project.embeddings.evaluation import (
    EvalSet,
    Metrics,
    arrival_order,
    per_user_metrics,
    summarize,
    time_split,
)
from dagster_project.embeddings.interactions import Interactions
from hot.embedding_store import EmbeddingSet
from hot.personal_scoring import HOT_NORMS, ScoringParams

log = logging.getLogger(__name__)

GRID: dict[str, tuple[Any, ...]] = {
    "alpha": (0.25, 1.0, 5.0, 20.0, 80.0),
    "regularization": (0.01, 0.1, 1.0, 10.0, 100.0),
    "factors": (16, 32, 64, 128),
    "weighting": ("log", "bm25", "raw"),
    "half_life_days": (0.0, 3.0, 14.0, 60.0),
}
"""The values each tuned ALS parameter may take (searched one parameter at a time)."""
EDGE_STEPS: dict[str, float] = {"alpha": 4.0, "regularization": 10.0}
"""Factor of one step past an edge of :data:`GRID` (the best value on the edge is no sign
that it is the best there is: heavy regularisation wins on sparse real data)."""
MAX_EDGE_STEPS = 3
"""Steps past each edge at most."""
BLENDS = tuple(round(b * 0.1, 1) for b in range(11))
"""Blends with hotness tried on the best fit (0: the global order, 1: similarity only)."""
SEARCH_BLENDS = (0.2, 0.4, 0.6, 0.8, 1.0)
"""Blends each ALS trial is scored with (its best counts), a cheaper subset of ``BLENDS``."""
PRIORS = (0.0, 0.1, 0.3, 1.0, 3.0)
"""Weights of the popularity prior tried with the raw dot product (:mod:`.als`)."""
LIGHT_MODES: tuple[LightUsers, ...] = ("als", "item_mean", "popular", "global")
"""What light users may get: ALS's vector, the mean of their videos' vectors, the popularity
prior alone (raw dot product only), or none (the global order) — whichever ranks their
validation videos best."""
CHOICE_SCORINGS = len(BLENDS) * len(HOT_NORMS) * (1 + len(PRIORS)) + len(LIGHT_MODES) + 1
"""Scorings of the validation users that choosing the serving params takes (blends x hot
normalisation x (cosine, or each prior), the light users' options, the chosen model's
metrics)."""
TUNE_USERS = 5_000
"""Validation users a trial is scored on at most (a seeded sample beyond)."""
LIGHT_CHOICE_USERS = 1_000
"""Light validation users the light users' rule is chosen on, at least where it can be: when
fewer are light, others are made light (:func:`_light_fit`)."""
MADE_LIGHT_SHARE = 0.1
"""Share of the validation users made light at most (their earlier pairs leave that fit)."""


class _Search:
    """One coordinate-descent search: trials cached by params, the best so far."""

    def __init__(
        self,
        train: Interactions,
        ev: EvalSet,
        deadline: Deadline,
        scoring: ScoringParams,
        now_epoch: float | None,
        blends: tuple[float, ...],
    ) -> None:
        self.train, self.ev, self.deadline = train, ev, deadline
        self.scoring, self.now_epoch, self.blends = scoring, now_epoch, blends
        self.results: dict[AlsParams, tuple[float, float]] = {}
        self.best: tuple[AlsParams, Factors] | None = None
        self.best_score = (-1.0, -1.0)
        self.fit_cost = 0.0
        """Seconds per (pair x factor x iteration) of the slowest trial: the next fits'."""
        self.score_sec = 0.0
        """Seconds of the slowest scoring of the validation users (one set of params)."""

    def scorings(self) -> list[ScoringParams]:
        """What a trial is scored with (its best counts): each blend, cosine or raw dot
        product (which suits a fit best depends on its regularisation)."""
        return [
            replace(self.scoring, blend=b, cosine=c) for b in self.blends for c in (True, False)
        ]

    def estimate(self, params: AlsParams, pairs: int) -> float:
        """Seconds a fit of ``params`` on ``pairs`` pairs is expected to take."""
        return self.fit_cost * pairs * params.factors * params.iterations

    def trial(self, params: AlsParams) -> bool:
        """Fit and score ``params``; whether it is the new best."""
        if params in self.results:
            return False
        factors = fit(self.train, params, self.deadline, self.now_epoch, "tuning")
        work = max(factors.matrix.nnz * params.factors * params.iterations, 1)
        self.fit_cost = max(self.fit_cost, factors.fit_sec / work)
        embeddings = embedding_set(factors, ModelParams(), self.train, {})
        scoring_started = time.monotonic()
        scorings = self.scorings()
        score = max(
            _objective(per_user_metrics(self.ev, embeddings, s, baselines=False)) for s in scorings
        )
        self.score_sec = max(self.score_sec, (time.monotonic() - scoring_started) / len(scorings))
        self.results[params] = score
        log.info(
            "trial %d: %s -> recall@20 %.4f, ndcg@20 %.4f (fit %.1f s, at %.0f s of %.0f s)",
            len(self.results),
            params,
            *score,
            factors.fit_sec,
            self.deadline.elapsed,
            self.deadline.budget_sec,
        )
        if score > self.best_score:
            self.best_score, self.best = score, (params, factors)
            return True
        return False


def _objective(per_user: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """What the search maximises: personal recall@20, then NDCG@20."""
    recall, ndcg = per_user["personal"]
    return (float(recall.mean()), float(ndcg.mean())) if recall.size else (0.0, 0.0)


def _grid(factors: int | None) -> dict[str, tuple[Any, ...]]:
    return {**GRID, "factors": (factors,)} if factors else GRID


@dataclass(frozen=True)
class Tuned:
    """Values chosen on a validation split, and the model of them on its training part."""

    params: ModelParams
    embeddings: EmbeddingSet | None
    """The chosen model trained on the training part (``None``: nothing was validated)."""
    validation: Metrics
    """Metrics of the chosen values on the validation split (empty: nothing to validate)."""
    trials: int
    stopped: str
    """Why the search stopped: ``converged``, ``budget``, ``no validation users``."""

    def record(self, tuning_sec: float) -> dict[str, Any]:
        """What is stored with the LanceDB version: params, validation metrics, search."""
        return {
            "params": self.params.to_mapping(),
            "validation": self.validation,
            "trials": self.trials,
            "tuning_sec": round(tuning_sec, 3),
            "search": self.stopped,
        }


@dataclass(frozen=True)
class TrainedModel:
    """A model trained on all pairs with values chosen on a validation split."""

    embeddings: EmbeddingSet
    tuned: Tuned
    tuning_sec: float

    def record(self) -> dict[str, Any]:
        """What is stored with the LanceDB version (:meth:`Tuned.record`)."""
        return self.tuned.record(self.tuning_sec)


def tune(
    train: Interactions,
    ev: EvalSet,
    deadline: Deadline,
    now_epoch: float | None = None,
    *,
    start: ModelParams | None = None,
    factors: int | None = None,
    blend: float | None = None,
    reserve_pairs: int = 0,
    reserve_fits: int = 0,
) -> Tuned:
    """Values chosen by fitting ``train`` and ranking ``ev`` (its users' later pairs).

    ``start``: where the search starts (default :class:`.ModelParams`). ``factors`` /
    ``blend``: fixed instead of searched (``HOT_EMBED_DIM`` / ``HOT_PERSONAL_BLEND``).
    ``reserve_fits``: fits of ``reserve_pairs`` pairs the caller still runs within
    ``deadline`` (left room for). Validation users beyond :data:`TUNE_USERS` are sampled.
    """
    start = start or ModelParams()
    if factors:
        start = replace(start, als=replace(start.als, factors=factors))
    scoring = start.scoring.with_blend(blend)
    ev = ev.sample(TUNE_USERS)
    blends = (scoring.blend,) if blend is not None else SEARCH_BLENDS
    search = _Search(train, ev, deadline, scoring, now_epoch, blends)
    if not len(ev.users):
        return Tuned(replace(start, scoring=scoring), None, {}, 0, "no validation users")
    stopped = _descend(search, start.als, _grid(factors), reserve_pairs, reserve_fits)
    params, embeddings, metrics = _choose_serving(search, blend, reserve_pairs, reserve_fits)
    return Tuned(params, embeddings, metrics, len(search.results), stopped)


def tune_and_train(
    inter: Interactions,
    budget_sec: float,
    now_epoch: float | None = None,
    hot_scores: Mapping[str, float] | None = None,
    *,
    start: ModelParams | None = None,
    factors: int | None = None,
    blend: float | None = None,
) -> TrainedModel:
    """A model of ``inter`` with values chosen on its own time split (:func:`tune`), then
    trained on all of ``inter``, within ``budget_sec``.

    ``hot_scores``: candidates ranked in validation and their hot scores (default: the
    hottest videos of the training part, :func:`.evaluation.hot_proxy`). Raises
    :class:`.TrainingBudgetExceeded` when the budget cannot hold even one model.
    """
    deadline = Deadline(budget_sec)
    train, validation = time_split(inter)
    ev = EvalSet.build(train, validation, hot_scores, max_users=TUNE_USERS)
    tuned = tune(
        train,
        ev,
        deadline,
        now_epoch,
        start=start,
        factors=factors,
        blend=blend,
        reserve_pairs=len(inter.user_ids),
        reserve_fits=1,
    )
    embeddings = train_model(inter, tuned.params, deadline, now_epoch, "training on all pairs")
    return TrainedModel(embeddings, tuned, deadline.elapsed)


def _descend(
    search: _Search,
    start: AlsParams,
    grid: dict[str, tuple[Any, ...]],
    reserve_pairs: int,
    reserve_fits: int,
) -> str:
    """Coordinate descent from ``start`` while the budget allows; returns why it stopped
    (``budget`` when a candidate was skipped for want of time: cheaper ones are still tried)."""
    search.trial(start)  # always: the fallback the budget must hold
    grid = dict(grid)
    steps = dict.fromkeys(EDGE_STEPS, 0)
    skipped = False
    improved = True
    while improved:
        improved = False
        for name in grid:
            values = grid[name]
            while True:
                for value in values:
                    outcome = _try(
                        search, replace(_best(search), **{name: value}), reserve_pairs, reserve_fits
                    )
                    if outcome is None:
                        skipped = True
                        continue
                    improved |= outcome
                values = _past_edge(name, grid, getattr(_best(search), name), steps)
                if not values:
                    break
    return "budget" if skipped else "converged"


def _best(search: _Search) -> AlsParams:
    assert search.best is not None
    return search.best[0]


def _past_edge(
    name: str, grid: dict[str, tuple[Any, ...]], best: Any, steps: dict[str, int]
) -> tuple[Any, ...]:
    """The value one step past the edge of ``grid[name]`` that ``best`` sits on (added to the
    grid), or nothing: not on an edge, not a stepped parameter, or no steps left."""
    values = grid[name]
    if name not in EDGE_STEPS or steps[name] >= MAX_EDGE_STEPS or len(values) < 2:
        return ()
    if best == max(values):
        value = max(values) * EDGE_STEPS[name]
    elif best == min(values):
        value = min(values) / EDGE_STEPS[name]
    else:
        return ()
    steps[name] += 1
    grid[name] = tuple(sorted((*values, value)))
    return (value,)


def _try(
    search: _Search, candidate: AlsParams, reserve_pairs: int, reserve_fits: int
) -> bool | None:
    """Trial ``candidate`` unless tried already: whether it is the new best, ``None`` when the
    budget cannot hold it."""
    if candidate in search.results:
        return False
    pairs = len(search.train.user_ids)
    # This trial, choosing the serving params on the best fit and the caller's fits must
    # all still fit in the budget.
    room = (
        search.estimate(candidate, pairs)
        + search.score_sec * (2 * len(search.blends) + CHOICE_SCORINGS)
        + reserve_fits * search.estimate(candidate, reserve_pairs)
    )
    if room > search.deadline.remaining:
        return None
    return search.trial(candidate)


def _choose_serving(
    search: _Search, blend: float | None, reserve_pairs: int, reserve_fits: int
) -> tuple[ModelParams, EmbeddingSet, Metrics]:
    """On the best fit: the scoring params and the prior's weight, then the light users'
    vectors (on :func:`_light_fit`), by validation recall@20 (then NDCG@20)."""
    assert search.best is not None
    als, factors = search.best
    ev = search.ev
    # Cosine leaves no room for the prior (it would rescale it away): the raw dot product
    # with each weight of the prior, or cosine without it.
    variants = [(True, 0.0)] + [(False, w) for w in PRIORS]
    candidates = [
        ModelParams(
            als=als, scoring=ScoringParams(blend=b, cosine=c, hot_norm=h), popularity_prior=w
        )
        for c, w in variants
        for b in ((blend,) if blend is not None else BLENDS)
        for h in HOT_NORMS
    ]
    sets = {
        w: embedding_set(factors, replace(candidates[0], popularity_prior=w), search.train, {})
        for w in PRIORS
    }
    chosen = max(
        candidates,
        key=lambda m: _objective(
            per_user_metrics(ev, sets[m.popularity_prior], m.scoring, baselines=False)
        ),
    )
    light_factors, light_ev = _light_fit(search, reserve_pairs, reserve_fits)
    light_scores: dict[LightUsers, tuple[float, float]] = {}
    for mode in LIGHT_MODES:
        if mode == "popular" and chosen.scoring.cosine:
            continue
        embeddings = embedding_set(
            light_factors, replace(chosen, light_users=mode), search.train, {}
        )
        per_user = per_user_metrics(light_ev, embeddings, chosen.scoring, baselines=False)
        light_scores[mode] = _objective(
            {"personal": tuple(values[light_ev.light] for values in per_user["personal"])}
        )
    # Another way than ALS's own vector only when it measurably helps the light users.
    light = max(light_scores, key=lambda mode: (light_scores[mode], mode == "als"))
    chosen = replace(chosen, light_users=light)
    best = embedding_set(factors, chosen, search.train, {})
    metrics = summarize(ev, per_user_metrics(ev, best, chosen.scoring))
    return chosen, best, metrics


def _light_fit(search: _Search, reserve_pairs: int, reserve_fits: int) -> tuple[Factors, EvalSet]:
    """A fit to choose the light users' rule on, and the validation users as it sees them.

    A warehouse of long histories has few light users to choose on (a few dozen on a grocery
    dataset: the choice then turns on a handful of hits), though its new users are light. So
    while fewer than :data:`LIGHT_CHOICE_USERS` validation users are light, up to
    :data:`MADE_LIGHT_SHARE` of them (seeded) are made light: each keeps the last 1 to
    :data:`LIGHT_MAX_PAIRS` of their training pairs (the ones they came to last, as
    :func:`.evaluation.time_split` orders them), and the best params are fitted once more
    without the others: those never happened (their videos' vectors must not have learnt from
    them, and they are no longer left out of the user's ranking). Without users to make light,
    or without room in the budget for that fit, the best fit and the validation users as
    they are.
    """
    assert search.best is not None
    als, factors = search.best
    ev, train = search.ev, search.train
    rows = np.searchsorted(factors.users, ev.users)
    heavy = np.flatnonzero(np.diff(factors.matrix.indptr)[rows] > LIGHT_MAX_PAIRS)
    wanted = min(
        LIGHT_CHOICE_USERS - int(ev.light.sum()), int(MADE_LIGHT_SHARE * len(ev.users)), len(heavy)
    )
    pairs = len(train.user_ids)
    room = search.estimate(als, pairs) + reserve_fits * search.estimate(als, reserve_pairs)
    if wanted <= 0 or room > search.deadline.remaining:
        return factors, ev
    rng = np.random.default_rng(0)
    made = np.sort(rng.choice(heavy, size=wanted, replace=False))  # rows of ev
    keep = np.zeros(len(factors.users), dtype=np.int64)  # pairs kept per user (0: all)
    keep[rows[made]] = rng.integers(1, LIGHT_MAX_PAIRS + 1, size=wanted)
    codes = train.codes
    order, _, from_end = arrival_order(train, np.flatnonzero(keep[codes.user_idx] > 0))
    dropped = np.zeros(pairs, dtype=bool)
    dropped[order[from_end > keep[codes.user_idx[order]]]] = True
    refit = fit(train.subset(~dropped), als, search.deadline, search.now_epoch, "tuning")
    light = ev.light.copy()
    light[made] = True
    log.info("light users' rule chosen on %d light users (%d made light)", light.sum(), wanted)
    forgotten = codes.users[codes.user_idx[dropped]], codes.videos[codes.video_idx[dropped]]
    return refit, ev.made_light(*forgotten, light)
