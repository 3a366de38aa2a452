"""The embeddings job at scale: time and peak memory of tuning, the check and the final fit.

Synthetic engagement (no warehouse read: the job's own work is measured) with planted tastes:
each user favours one of ``--topics`` topics (a contiguous block of videos), 70 % of their
pairs within it, the rest from a Zipf popularity over all videos; user activity is
log-normal. The pairs go through exactly what the ``embeddings`` asset runs —
:func:`dagster_project.embeddings.check.build_checked` (time split, tuning within the budget,
the check's hold-out metrics, the final fit on all pairs) — then the version is written to a
scratch LanceDB. A thread samples the process's RSS every 0.2 s; each phase reports its wall
time, its CPU time and its peak RSS (on stderr as it ends, with each tuning trial; JSON on
stdout at the end).

    python bench/embed_scale.py [--users 1000000] [--videos 100000] [--pairs 20000000]
                                [--budget 3600] [--topics 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dagster_project.embeddings.interactions import Interactions  # noqa: E402


class Peak:
    """The process's peak RSS per phase, sampled in a thread."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.phase = "start"
        self.peaks: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        """CPU seconds (user + system, every thread): what the wall time would be on idle
        cores for single-threaded work, whatever else the machine runs."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self._record()

    def _record(self) -> None:
        rss = self.process.memory_info().rss / 2**30
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        """Attribute time and RSS to ``phase`` while the block runs."""
        self.phase = phase
        self._record()
        started, cpu = time.perf_counter(), self._cpu()
        try:
            yield
        finally:
            self.seconds[phase] = time.perf_counter() - started
            self.cpu[phase] = self._cpu() - cpu
            self._record()
            print(
                f"{phase}: {self.seconds[phase]:.1f} s wall, {self.cpu[phase]:.1f} s CPU, "
                f"peak RSS {self.peaks[phase]:.2f} GiB",
                file=sys.stderr,
                flush=True,
            )

    def _cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()


def synthetic(users: int, videos: int, pairs: int, topics: int, seed: int) -> Interactions:
    """``pairs`` distinct (user, video) pairs with planted tastes (see the module doc)."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.0, users)
    taste = rng.integers(topics, size=users)
    block = videos // topics
    popularity = 1.0 / np.arange(1, videos + 1) ** 0.8
    key = np.empty(0, dtype=np.int64)
    fresh = 1.0  # share of the last draw that was new pairs: draws repeat popular pairs
    while len(key) < pairs:
        draw = int((pairs - len(key)) / max(fresh, 0.02) * 1.2) + 1
        user = rng.choice(users, size=draw, p=activity / activity.sum())
        popular = rng.choice(videos, size=draw, p=popularity / popularity.sum())
        within = taste[user] * block + np.minimum(rng.zipf(1.3, size=draw) - 1, block - 1)
        video = np.where(rng.random(draw) < 0.7, within, popular)
        before = len(key)
        key = np.unique(np.concatenate([key, user.astype(np.int64) * videos + video]))
        fresh = (len(key) - before) / draw
    key = np.sort(rng.choice(key, size=pairs, replace=False))
    user, video = key // videos, key % videos
    n = len(key)
    now = 1_780_000_000.0
    last = now - rng.exponential(7 * 86_400.0, size=n)
    return Interactions(
        user_ids=(user + 10_000_000).astype(str),  # fixed width: "1xxxxxxx"
        video_ids=(video + 1_000_000).astype(str),
        weight=rng.integers(1, 10, size=n).astype(np.float64),
        watch_sec=rng.exponential(120.0, size=n),
        last_epoch=last,
        first_epoch=last - rng.exponential(2 * 86_400.0, size=n),  # came back to some
        known_videos=frozenset(),
    )


def main(argv: list[str] | None = None) -> int:
    """Generate, run the job's model building and check, write the version; print figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=20_000_000)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--budget", type=float, default=3600.0, help="training budget, s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from dagster_project.embeddings.check import build_checked
    from hot import embedding_store

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    peak = Peak()
    with peak.measure("generate"):
        inter = synthetic(args.users, args.videos, args.pairs, args.topics, args.seed)
    with peak.measure("encode ids"):
        codes = inter.codes
    print(
        f"{len(inter.user_ids):,} pairs, {len(codes.users):,} users, "
        f"{len(codes.videos):,} videos; budget {args.budget:g} s",
        flush=True,
    )
    outcome: dict[str, object] = {}
    try:
        with peak.measure("tune + check + final fit"):
            checked = build_checked(inter, args.budget, served=None)
        with (
            tempfile.TemporaryDirectory(prefix="hot-embed-scale-") as tmp,
            peak.measure("write LanceDB version"),
        ):
            version = embedding_store.new_version()
            embedding_store.write_version(Path(tmp), version, checked.embeddings, checked.record)
        outcome = {
            "passed": checked.passed,
            "reason": checked.reason,
            "params": checked.record["params"],
            "trials": checked.record["trials"],
            "search": checked.record["search"],
            "tuning_sec": checked.record["tuning_sec"],
            "check": {k: round(v, 4) for k, v in checked.metrics.items()},
        }
    except Exception as exc:  # the budget (or memory) not holding is a result too
        outcome = {"failed": f"{type(exc).__name__}: {exc}"}
    finally:
        peak.stop()
    print(
        json.dumps(
            {
                "pairs": len(inter.user_ids),
                "users": len(codes.users),
                "videos": len(codes.videos),
                "budget_sec": args.budget,
                "seconds": {k: round(v, 1) for k, v in peak.seconds.items()},
                "cpu_seconds": {k: round(v, 1) for k, v in peak.cpu.items()},
                "peak_rss_gib": {k: round(v, 2) for k, v in peak.peaks.items()},
                **outcome,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
