"""The personal model without services: the served formula, the time split, the metrics and
the data-chosen tuning (``hot.personal_scoring``, ``dagster_project.embeddings``).

Worlds here are small planted-taste interaction sets built in memory; the asset, LanceDB and
Dagster around them are tested in ``test_embeddings.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dagster_project.embeddings.als import (
    Deadline,
    ModelParams,
    TrainingBudgetExceeded,
    embedding_set,
    fit,
)
from dagster_project.embeddings.evaluation import EvalSet, evaluate, time_split
from dagster_project.embeddings.interactions import Interactions
from dagster_project.embeddings.tuning import (
    EDGE_STEPS,
    GRID,
    MADE_LIGHT_SHARE,
    MAX_EDGE_STEPS,
    _light_fit,
    _Search,
    tune,
    tune_and_train,
)
from hot.embedding_store import EmbeddingSet
from hot.personal_scoring import ScoringParams, normalised_hot, prepare_vectors, scores, top_k


def planted(users: int = 240, videos: int = 40, topics: int = 4, seed: int = 0) -> Interactions:
    """Users engaging mostly with their topic's videos (video ``v`` is of topic ``v % topics``);
    every fifth user is light (2 to 4 pairs)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, float, float]] = []
    for u in range(users):
        topic = u % topics
        own = [v for v in range(videos) if v % topics == topic]
        n = 2 + u % 3 if u % 5 == 0 else 8
        picks = set(rng.choice(own, size=n, replace=False).tolist())
        picks.add(int(rng.integers(videos)))
        for v in sorted(picks):
            rows.append((f"u{u:04d}", f"v{v:03d}", float(rng.integers(1, 5)), 1e9 + rng.random()))
    return Interactions(
        user_ids=np.array([r[0] for r in rows]),
        video_ids=np.array([r[1] for r in rows]),
        weight=np.array([r[2] for r in rows]),
        watch_sec=np.zeros(len(rows)),
        last_epoch=np.array([r[3] for r in rows]) * 1e3,
        first_epoch=np.array([r[3] for r in rows]) * 1e3,
        known_videos=frozenset(f"v{v:03d}" for v in range(videos)),
    )


@given(
    st.lists(st.lists(st.integers(-2, 3), min_size=6, max_size=6), min_size=1, max_size=5),
    st.integers(0, 8),
)
def test_top_k_is_a_full_sort_cut_at_k_with_ties_in_column_order(
    rows: list[list[int]], k: int
) -> None:
    values = np.array(rows, dtype=float)
    values[values == -2] = -np.inf  # what an evaluation's "already seen" looks like
    for row, top in zip(values, top_k(values, k), strict=True):
        full = np.lexsort((np.arange(len(row)), -row))[:k]
        assert top.tolist() == full.tolist()
        assert top_k(row, k).tolist() == full.tolist()  # one row: the serving path


def test_scores_of_one_user_and_of_many_are_the_same_formula() -> None:
    rng = np.random.default_rng(3)
    params = ScoringParams(blend=0.7, cosine=False, hot_norm="rank")
    items = prepare_vectors(rng.normal(size=(9, 4)), params)
    hot = normalised_hot(rng.random(9), params)
    users = prepare_vectors(rng.normal(size=(5, 4)), params)
    many = scores(items, hot, users, params.blend)
    for user, row in zip(users, many, strict=True):
        assert np.allclose(scores(items, hot, user, params.blend), row)
    dots = users @ items.T
    sim = 0.5 + 0.5 * dots / np.abs(dots).max(axis=1, keepdims=True)
    assert np.allclose(many, 0.7 * sim + 0.3 * hot, atol=1e-6)
    # blend 0: the hot term alone, so the order is the global one
    assert np.allclose(scores(items, hot, users[0], 0.0), hot)


def test_hot_by_rank_is_evenly_spaced_with_ties_in_videoid_order() -> None:
    params = ScoringParams(hot_norm="rank")
    assert normalised_hot(np.array([1.0, 5.0, 5.0, 0.0]), params).tolist() == [
        pytest.approx(1 / 3),
        1.0,
        pytest.approx(2 / 3),
        0.0,
    ]
    assert normalised_hot(np.array([2.0, 4.0]), ScoringParams()).tolist() == [0.5, 1.0]


def test_time_split_holds_out_the_pairs_each_user_came_to_last() -> None:
    first = np.array([1, 6, 2, 5, 3, 4, 9, 8, 1], dtype=float)
    inter = Interactions(
        user_ids=np.array(["a"] * 6 + ["b"] * 2 + ["c"]),
        video_ids=np.array(["v1", "v2", "v3", "v4", "v5", "v6", "v1", "v2", "v1"]),
        weight=np.ones(9),
        watch_sec=np.zeros(9),
        # a came back to v1 and v3 last: by its latest event v1 would be held out.
        last_epoch=first + np.array([9, 0, 7, 0, 0, 0, 0, 0, 0]),
        first_epoch=first,
    )
    train, holdout = time_split(inter)
    held = sorted(zip(holdout.user_ids.tolist(), holdout.video_ids.tolist(), strict=True))
    assert held == [("a", "v2"), ("a", "v4"), ("b", "v1")]  # ceil(20 %): 2 of 6, 1 of 2
    assert len(train.user_ids) == 6 and "c" in train.user_ids  # one pair: nothing held out
    assert train.codes.users.tolist() == ["a", "b", "c"]  # the parent's vocabulary


def test_metrics_of_a_perfect_model_and_of_the_baselines() -> None:
    inter = planted()
    train, holdout = time_split(inter)
    ev = EvalSet.build(train, holdout)
    # Vectors that know every user's topic exactly.
    topic_of = {u: int(u[1:]) % 4 for u in np.unique(inter.user_ids).tolist()}
    videos = sorted(set(inter.video_ids.tolist()))
    oracle = EmbeddingSet(
        users=list(topic_of),
        user_vectors=np.eye(4, dtype=np.float32)[list(topic_of.values())],
        videos=videos,
        video_vectors=np.eye(4, dtype=np.float32)[[int(v[1:]) % 4 for v in videos]],
        watched={},
        metadata={},
    )
    metrics = evaluate(oracle, ScoringParams(blend=1.0), ev)
    assert metrics["users"] == len(set(holdout.user_ids.tolist()))
    assert metrics["light_users"] > 0
    for method in ("personal", "global", "popular"):
        for prefix in ("", "light/"):
            for metric in ("recall@20", "ndcg@20"):
                assert 0.0 <= metrics[f"{prefix}{method}/{metric}"] <= 1.0
    # 10 videos per topic, fewer than 20 slots: every held-out video of the topic is found.
    topical = [
        int(v[1:]) % 4 == topic_of[u]
        for u, v in zip(holdout.user_ids.tolist(), holdout.video_ids.tolist(), strict=True)
    ]
    assert metrics["personal/recall@20"] >= np.mean(topical) - 1e-9
    assert metrics["personal/recall@20"] > metrics["global/recall@20"]
    nobody = evaluate(None, ScoringParams(), ev)  # no vectors: personal is the global order
    assert nobody["personal/recall@20"] == nobody["global/recall@20"]
    assert not math.isnan(nobody["popular/ndcg@20"])


def test_tuning_chooses_values_on_validation_and_beats_the_baselines() -> None:
    inter = planted()
    train, holdout = time_split(inter)
    model = tune_and_train(train, budget_sec=60)
    als = model.tuned.params.als
    for name, values in GRID.items():
        if name in EDGE_STEPS:  # the grid, or up to MAX_EDGE_STEPS steps past an edge
            reach = EDGE_STEPS[name] ** MAX_EDGE_STEPS
            assert min(values) / reach <= getattr(als, name) <= max(values) * reach
        else:
            assert getattr(als, name) in values
    assert 0.0 <= model.tuned.params.scoring.blend <= 1.0
    assert model.tuned.trials >= 1 and model.tuned.stopped in ("converged", "budget")
    assert model.tuned.validation["personal/recall@20"] > model.tuned.validation["global/recall@20"]
    record = model.record()
    # One more dimension when the vectors carry the popularity prior.
    assert record["params"]["als"]["factors"] == als.factors
    assert model.embeddings.dim == als.factors + model.tuned.params.has_prior
    test = evaluate(model.embeddings, model.tuned.params.scoring, EvalSet.build(train, holdout))
    assert test["personal/recall@20"] > test["global/recall@20"]
    assert test["personal/recall@20"] > test["popular/recall@20"]


def test_tune_chooses_on_the_given_hold_out_and_returns_the_model_it_measured() -> None:
    # The check's path: values chosen on its own hold-out, the model of them on the rest.
    train, holdout = time_split(planted())
    ev = EvalSet.build(train, holdout)
    tuned = tune(train, ev, Deadline(60))
    assert tuned.embeddings is not None and tuned.trials >= 1
    measured = evaluate(tuned.embeddings, tuned.params.scoring, ev)
    # Validation ranks the same users (all of them: fewer than TUNE_USERS) with the same model.
    for key in ("personal/recall@20", "personal/ndcg@20", "global/recall@20"):
        assert measured[key] == pytest.approx(tuned.validation[key])
    assert measured["personal/recall@20"] > measured["global/recall@20"]


class _AlmostSpent(Deadline):
    """A budget that never runs out but leaves no room for another trial."""

    @property
    def remaining(self) -> float:
        return 1e-3


def test_a_search_cut_short_by_its_budget_says_so() -> None:
    train, holdout = time_split(planted())
    tuned = tune(train, EvalSet.build(train, holdout), _AlmostSpent(60))
    assert tuned.trials == 1  # the starting point, which is always fitted
    assert tuned.stopped == "budget"


def test_a_sample_of_a_hold_out_keeps_its_users_rows() -> None:
    train, holdout = time_split(planted())
    ev = EvalSet.build(train, holdout)
    assert ev.sample(len(ev.users)) is ev
    part = ev.sample(50, seed=1)
    rows = np.searchsorted(ev.users, part.users)
    assert len(part.users) == 50 and np.array_equal(ev.users[rows], part.users)
    assert np.array_equal(part.relevant, ev.relevant[rows])
    assert (part.seen != ev.seen[rows]).nnz == 0
    assert np.array_equal(part.light, ev.light[rows])
    assert np.array_equal(part.hot, ev.hot)


def test_overrides_fix_factors_and_blend() -> None:
    model = tune_and_train(planted(), budget_sec=60, factors=8, blend=0.25)
    assert model.tuned.params.als.factors == 8
    assert model.embeddings.dim == 8 + model.tuned.params.has_prior
    assert model.tuned.params.scoring.blend == 0.25


def test_a_budget_too_small_for_one_model_raises() -> None:
    with pytest.raises(TrainingBudgetExceeded, match="did not finish within the training budget"):
        tune_and_train(planted(), budget_sec=1e-9)


def test_the_popularity_prior_is_one_more_dimension_of_plain_vectors() -> None:
    inter = planted()
    factors = fit(inter, ModelParams().als, Deadline(60))
    plain = embedding_set(factors, ModelParams(), inter, {})
    prior = embedding_set(factors, ModelParams(popularity_prior=0.5), inter, {})
    assert prior.dim == plain.dim + 1 and prior.videos == plain.videos
    # The dot product is ALS's score plus the weighted prior: log-popularity in [0, 1].
    users = np.unique(inter.user_ids).tolist()
    pop = np.log1p(
        np.array([np.unique(inter.user_ids[inter.video_ids == v]).size for v in plain.videos])
    )
    assert np.allclose(prior.video_vectors[:, -1], pop / pop.max(), atol=1e-6)
    row = users.index(plain.users[0])
    extra = prior.user_vectors[row, -1]
    assert extra > 0
    assert np.allclose(
        prior.user_vectors[row] @ prior.video_vectors.T,
        plain.user_vectors[row] @ plain.video_vectors.T + extra * prior.video_vectors[:, -1],
        atol=1e-4,
    )
    # Light users with "popular": the prior alone, so the most popular videos first.
    popular = embedding_set(factors, ModelParams(light_users="popular"), inter, {})
    light = next(u for u in users if (inter.user_ids == u).sum() <= 3)
    vector = popular.user_vectors[popular.users.index(light)]
    assert np.allclose(vector[:-1], 0.0) and vector[-1] == 1.0


def test_the_light_users_rule_is_chosen_with_users_made_light_by_a_fit_without_their_past() -> None:
    inter = planted()
    train, holdout = time_split(inter)
    ev = EvalSet.build(train, holdout)
    search = _Search(train, ev, Deadline(60), ScoringParams(), None, (1.0,))
    search.trial(ModelParams().als)
    assert search.best is not None
    refit, light_ev = _light_fit(search, 0, 0)
    made = light_ev.light & ~ev.light
    assert made.sum() == int(MADE_LIGHT_SHARE * len(ev.users)) > 0  # few light users here
    rows = np.searchsorted(refit.users, ev.users)
    before = np.diff(search.best[1].matrix.indptr)[rows]
    after = np.diff(refit.matrix.indptr)[rows]
    assert (before[made] > 3).all() and ((after[made] >= 1) & (after[made] <= 3)).all()
    assert np.array_equal(after[~made], before[~made])  # everybody else is fitted as before
    # A user made light keeps the videos they came to last; the others never happened: no
    # longer left out of their ranking.
    user = ev.users[np.flatnonzero(made)[0]]
    mine = train.user_ids == user
    by_first = train.video_ids[mine][np.argsort(train.first_epoch[mine])].tolist()
    kept = refit.matrix[np.searchsorted(refit.users, user)].indices
    assert sorted(refit.videos[kept].tolist()) == sorted(by_first[-len(kept) :])
    row = np.searchsorted(ev.users, user)
    seen = set(ev.candidates[light_ev.seen[row].indices].tolist())
    assert seen == set(ev.candidates[ev.seen[row].indices].tolist()) & set(by_first[-len(kept) :])
    assert (light_ev.seen[~made] != ev.seen[~made]).nnz == 0
    assert np.array_equal(light_ev.relevant, ev.relevant)
