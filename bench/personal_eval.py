"""Offline evaluation of ``type=personal`` against the field's baselines (recall@k, NDCG@k).

    python bench/datasets.py                     # fetch + convert the datasets (bench/data/)
    python bench/personal_eval.py                # every file in bench/data/
    python bench/personal_eval.py FILE [FILE ...] [--k 20] [--quick]

**A dataset is a file** (no code): CSV, TSV (``.tsv``) or Parquet with a header and the
columns ``user``, ``item``, ``weight`` (> 0) and optionally ``time`` (unix seconds); one row
per interaction, pairs may repeat. Details: :mod:`bench.recsys.data`, ``docs/benchmarks.md``.

For each dataset:

1. **Split** (:func:`bench.recsys.data.split`): each user's latest 20 % of rows held out for
   the test (by time; a seeded shuffle without times); a seeded 10 % of the test users made
   light (latest 1-3 training rows kept); the validation split is the same rule applied to
   the training rows.
2. **Candidates and personal** (:mod:`bench.recsys.replay`): the training rows are replayed
   through the real pipeline (landing files → ``hot run --now <split>`` → ``hot embed``, in a
   temp data dir with an embedded Redis). The candidates are the served list (top 1,000 of
   the hot order at the split), the same for every method; ``personal`` is the real
   serving reranker's order of it, so the bench measures whatever embeddings model is landed.
3. **Methods**, all ranking the same candidates with each user's already-seen items dropped:
   global (the served hot order), most-popular (training users per item), implicit ALS
   (grid tuned on validation), EASE (λ tuned on validation) and personal
   (:mod:`bench.recsys.baselines`).
4. **Table**: dataset x users (all test users; light users = 1-3 training rows) x method,
   recall@k and NDCG@k (:mod:`bench.recsys.metrics`); printed, and written as JSON to
   ``bench/out/personal_eval.json``.
5. **Personal vs the best baseline** (:func:`versus_best`): per row and metric, personal's
   ratio to the better of ALS and EASE, with a paired bootstrap over the row's users (the
   per-user values the means come from): its 95 % interval and a verdict (above, tie, below).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.recsys import baselines, data, replay  # noqa: E402
from bench.recsys.baselines import Scorer, Target  # noqa: E402
from bench.recsys.metrics import paired_bootstrap  # noqa: E402

DATA_DIR = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out" / "personal_eval.json"
METHODS = ("global", "most-popular", "ALS", "EASE", "personal")
QUICK_ALS = {"factors": (64,), "regularization": (0.1,), "alpha": (10.0,)}
METRICS = ("recall", "ndcg")
BOOTSTRAP_RESAMPLES = 2000


def restrict(relevant: dict[int, set[int]], candidates: set[int]) -> dict[int, set[int]]:
    """Relevant items among the candidates; users with none left out (nothing to find)."""
    kept = {u: items & candidates for u, items in relevant.items()}
    return {u: items for u, items in kept.items() if items}


def order_scorer(orders: dict[int, list[int]], candidates: np.ndarray) -> Scorer:
    """Scores that reproduce a given order per user (first = highest)."""
    position = {item: p for p, item in enumerate(candidates.tolist())}
    n = len(candidates)

    def score(users: np.ndarray) -> np.ndarray:
        out = np.zeros((len(users), n))
        for row, user in enumerate(users.tolist()):
            cols = [position[i] for i in orders[user]]
            out[row, cols] = np.arange(n, 0, -1)[: len(cols)]
        return out

    return score


def versus_best(per_user: dict[str, np.ndarray], seed: int) -> dict[str, dict[str, Any]]:
    """Per metric: personal against whichever of ALS and EASE has the higher mean on it, by a
    paired bootstrap over the users (``per_user``: method → ``m x 2``, the same users)."""
    out = {}
    for col, metric in enumerate(METRICS):
        best = max(("ALS", "EASE"), key=lambda m: per_user[m][:, col].mean())
        paired = paired_bootstrap(
            per_user["personal"][:, col], per_user[best][:, col], BOOTSTRAP_RESAMPLES, seed
        )
        out[metric] = {"baseline": best, **asdict(paired)}
    return out


def evaluate(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One dataset: split, replay, tune, score; returns its JSON record."""
    started = time.perf_counter()
    ds = data.load(path)
    sp = data.split(ds, light_share=args.light_share, seed=args.seed)
    print(
        f"{ds.name}: {len(ds.users)} rows, {ds.n_users} users, {ds.n_items} items, "
        f"{'times' if ds.time is not None else 'no times (random split)'}; train "
        f"{len(sp.train)}, test {len(sp.test)}, validation {len(sp.valid)} rows",
        flush=True,
    )
    relevant, seen = data.targets(ds, sp.train, sp.test)
    with tempfile.TemporaryDirectory(prefix="hot-personal-eval-") as tmp:
        served = replay.replay(ds, sp.train.tolist(), sorted(relevant), Path(tmp))
    candidates = np.asarray(served.candidates, dtype=np.int64)
    cand_set = set(served.candidates)
    relevant = restrict(relevant, cand_set)
    test = Target(sorted(relevant), relevant, seen)
    # Validation ranks the same served candidates: they come from the training rows only.
    valid_relevant, valid_seen = data.targets(ds, sp.fit, sp.valid)
    valid_relevant = restrict(valid_relevant, cand_set)
    valid = Target(sorted(valid_relevant), valid_relevant, valid_seen)
    fit_m, train_m = ds.matrix(sp.fit), ds.matrix(sp.train)

    t0 = time.perf_counter()
    als = baselines.tune_als(
        fit_m, train_m, candidates, valid, args.k, args.seed,
        **({"grid": QUICK_ALS} if args.quick else {}),
    )  # fmt: skip
    t_als = time.perf_counter() - t0
    t0 = time.perf_counter()
    ease = baselines.tune_ease(
        fit_m, train_m, candidates, valid, args.k, **({"lambdas": (250.0,)} if args.quick else {})
    )
    t_ease = time.perf_counter() - t0
    n = len(candidates)
    scorers: dict[str, Scorer] = {
        "global": lambda users: np.broadcast_to(np.arange(n, 0, -1.0), (len(users), n)),
        "most-popular": baselines.popularity(train_m, candidates),
        "ALS": als.scorer,
        "EASE": ease.scorer,
        "personal": order_scorer(served.personal, candidates),
    }
    light_users = [u for u in test.users if u in sp.light]
    cohorts = {"all": test.users, "light (1-3)": light_users}
    results: dict[str, dict[str, Any]] = {}
    for cohort, users in cohorts.items():
        target = Target(users, relevant, seen)
        per_user = {m: target.per_user(s, candidates, args.k) for m, s in scorers.items()}
        results[cohort] = {"users": len(users)}
        for method, values in per_user.items():
            recall, ndcg = values.mean(axis=0) if users else (np.nan,) * 2
            results[cohort][method] = {"recall": float(recall), "ndcg": float(ndcg)}
        results[cohort]["vs_best"] = versus_best(per_user, args.seed) if users else None
    return {
        "dataset": ds.name,
        "file": str(path),
        "rows": len(ds.users),
        "users": ds.n_users,
        "items": ds.n_items,
        "has_time": ds.time is not None,
        "split": {
            "train": len(sp.train),
            "test": len(sp.test),
            "fit": len(sp.fit),
            "valid": len(sp.valid),
            "light_users": len(sp.light),
            "valid_users": len(valid.users),
        },
        "candidates": n,
        "personalized_users": served.personalized,
        "k": args.k,
        "results": results,
        "als": {"chosen": als.params, "valid": als.valid, "grid": als.grid, "seconds": t_als},
        "ease": {"chosen": ease.params, "valid": ease.valid, "grid": ease.grid, "seconds": t_ease},
        "embeddings": served.embed,
        "seconds": {**served.seconds, "total": time.perf_counter() - started},
    }


def versus_text(vs: dict[str, Any] | None, metric: str) -> str:
    """One metric of :func:`versus_best` as ``1.01x [0.97x, 1.05x] tie (ALS)``."""
    if vs is None:
        return "n/a"
    v = vs[metric]
    return f"{v['ratio']:.2f}x [{v['low']:.2f}x, {v['high']:.2f}x] {v['verdict']} ({v['baseline']})"


def table(records: list[dict[str, Any]], k: int) -> str:
    """The printed table: one line per (dataset, cohort, method), then personal against the
    best of ALS and EASE per metric (ratio, bootstrap 95 % interval, verdict, baseline)."""
    head = f"{'dataset':<14}{'users':<18}{'method':<14}{f'recall@{k}':>10}{f'ndcg@{k}':>10}"
    lines = [head, "-" * len(head)]
    for rec in records:
        for cohort, res in rec["results"].items():
            label = f"{cohort} ({res['users']})"
            prefix = f"{rec['dataset']:<14}{label:<18}"
            for method in METHODS:
                m = res[method]
                lines.append(f"{prefix}{method:<14}{m['recall']:>10.4f}{m['ndcg']:>10.4f}")
            for metric in METRICS:
                vs = versus_text(res["vs_best"], metric)
                lines.append(f"{prefix}{f'vs best {metric}':<14}  {vs}")
    return "\n".join(lines)


def markdown(records: list[dict[str, Any]], k: int) -> str:
    """The table as docs/benchmarks.md shows it: a row per (dataset, users), a column pair
    per method, then personal against the best of ALS and EASE per metric (ratio, bootstrap
    95 % interval, verdict, baseline)."""
    head = (
        "| dataset | users | " + " | ".join(METHODS)
        + f" | personal ÷ best, recall@{k} | personal ÷ best, NDCG@{k} |"
    )  # fmt: skip
    lines = [f"recall@{k} / NDCG@{k}", "", head, "|" + "---|" * (len(METHODS) + 4)]
    for rec in records:
        for cohort, res in rec["results"].items():
            cells = [f"{res[m]['recall']:.4f} / {res[m]['ndcg']:.4f}" for m in METHODS]
            cells += [versus_text(res["vs_best"], metric) for metric in METRICS]
            row = f"| {rec['dataset']} | {cohort}: {res['users']} | " + " | ".join(cells)
            lines.append(row + " |")
    return "\n".join(lines)


def code_version() -> tuple[str, list[str]]:
    """The commit measured (``+dirty`` with uncommitted changes) and the changed files:
    personal is whatever embeddings model the working tree trains, so a figure names the
    code it came from."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        status = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown", []
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    return head + ("+dirty" if changed else ""), changed


def main(argv: list[str] | None = None) -> int:
    """Evaluate every dataset given (default: every file in bench/data/)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "datasets", nargs="*", type=Path, help="dataset files (default: bench/data/*)"
    )
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--light-share", type=float, default=0.1)
    parser.add_argument("--quick", action="store_true", help="one ALS and EASE point, no grid")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--markdown", type=Path, metavar="JSON", help="print a written report as markdown, only"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        report = orjson.loads(args.markdown.read_bytes())
        print(f"code {report['code']}\n\n" + markdown(report["datasets"], report["k"]))
        return 0
    paths = args.datasets or sorted(
        p for p in DATA_DIR.glob("*") if p.suffix.lower() in (".csv", ".tsv", ".tab", ".parquet")
    )
    if not paths:
        print("no datasets: run `python bench/datasets.py` first", file=sys.stderr)
        return 2
    # Taken before the runs: the model code is imported (and measured) as it is now, and a
    # commit landing during a run must not relabel its figures.
    code, changed = code_version()
    records = [evaluate(path, args) for path in paths]
    print(f"code: {code}")
    print(table(records, args.k))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"code": code, "changed": changed, "k": args.k, "seed": args.seed, "datasets": records}
    args.out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    status = main()
    # DuckDB's bindings print pages of "leaked instance" notes at interpreter teardown after
    # an in-process Dagster run; Redis is stopped and the temp dirs are gone by now, so the
    # teardown has nothing left to do.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
