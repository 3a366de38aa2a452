"""The personal bench's own pieces: the dataset format, the split rules, the metrics, EASE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bench.recsys import baselines, data
from bench.recsys.metrics import paired_bootstrap, score_users


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_load_reads_the_documented_columns_and_drops_non_positive_weights(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "d.tsv",
        "item\tuser\tweight\ttime\textra\n"
        "007\ta\t2\t100\tx\n007\tb\t0\t101\tx\n008\ta\t1.5\t102\tx\n",
    )
    ds = data.load(path)
    assert ds.name == "d" and ds.n_users == 1 and ds.n_items == 2
    assert list(ds.item_names) == ["007", "008"]  # ids stay strings (leading zeros kept)
    assert ds.weight.tolist() == [2.0, 1.5]
    assert ds.time is not None and ds.time.tolist() == [100.0, 102.0]


def test_load_without_times_and_missing_columns(tmp_path: Path) -> None:
    ds = data.load(_write(tmp_path / "d.csv", "user,item,weight\nu,i,1\n"))
    assert ds.time is None
    with pytest.raises(ValueError, match="weight"):
        data.load(_write(tmp_path / "bad.csv", "user,item\nu,i\n"))


def test_holdout_keeps_out_each_users_latest_fifth(tmp_path: Path) -> None:
    lines = ["user,item,weight,time"]
    lines += [f"a,i{n},1,{1000 - n}" for n in range(10)]  # file order is newest first
    lines += ["b,i0,1,5", "c,i1,1,7", "c,i2,1,6"]
    ds = data.load(_write(tmp_path / "d.csv", "\n".join(lines) + "\n"))
    kept, held = data.holdout(ds, np.arange(len(ds.users)))
    held_a = sorted(ds.time[held][ds.users[held] == 0].tolist())
    assert held_a == [999.0, 1000.0]  # 20 % of 10, the latest
    assert 1 not in ds.users[held].tolist()  # a single row stays in training
    c_held = ds.time[held][ds.users[held] == 2].tolist()
    assert c_held == [7.0]  # two rows: one held out, the later
    assert len(kept) + len(held) == len(ds.users)


def test_split_makes_light_users_and_never_validates_on_test_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lines = ["user,item,weight,time"]
    for u in range(50):
        lines += [f"u{u},i{rng.integers(30)},1,{t}" for t in range(12)]
    ds = data.load(_write(tmp_path / "d.csv", "\n".join(lines) + "\n"))
    s = data.split(ds, light_share=0.2, seed=1)
    assert set(s.fit) | set(s.valid) == set(s.train)
    assert not set(s.train) & set(s.test)
    per_user = np.bincount(ds.users[s.train], minlength=ds.n_users)
    assert len(s.light) == 10
    assert all(1 <= per_user[u] <= data.LIGHT_MAX for u in s.light)


def test_metrics_drop_seen_items_and_break_ties_by_candidate_order() -> None:
    candidates = np.array([10, 11, 12, 13])
    scores = np.array([[5.0, 5.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    out = score_users(scores, candidates, [0, 1], {0: {12}, 1: {11, 13}}, {0: {10, 11}}, k=1)
    assert out[0].tolist() == [1.0, 1.0]  # 10 and 11 seen: 12 is first
    assert out[1].tolist() == [0.0, 0.0]  # all tied: candidate order, 10 first, not relevant
    out = score_users(scores[1:], candidates, [1], {1: {11, 13}}, {}, k=4)
    assert out[0, 0] == pytest.approx(1.0)
    assert out[0, 1] == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / (1 + 1 / np.log2(3)))


def test_ease_matches_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((40, 12)) < 0.3).astype(np.float64))
    candidates = np.array([1, 4, 7])
    lam = 5.0
    p = np.linalg.inv((x.T @ x).toarray() + lam * np.eye(12))
    b = p / -np.diag(p)
    np.fill_diagonal(b, 0.0)
    expected = (x @ b)[:, candidates]
    got = baselines.Ease(x, candidates).scorer(lam)(np.arange(40))
    np.testing.assert_allclose(got, expected, atol=1e-8)


def test_paired_bootstrap_verdicts_are_deterministic_given_the_seed() -> None:
    rng = np.random.default_rng(1)
    base = rng.random(300)
    same = paired_bootstrap(base, base.copy(), resamples=500, seed=7)
    assert same.verdict == "tie" and same.low <= 1.0 <= same.high and same.ratio == 1.0
    better = base + 0.1 + 0.01 * rng.random(300)
    above = paired_bootstrap(better, base, resamples=500, seed=7)
    assert above.verdict == "above" and 1.0 < above.low <= above.ratio <= above.high
    assert paired_bootstrap(base, better, resamples=500, seed=7).verdict == "below"
    noisy = base + rng.normal(0, 0.2, 300)
    assert paired_bootstrap(noisy, base, seed=3) == paired_bootstrap(noisy, base, seed=3)
