"""Offline evaluation of ``type=personal`` against the global order (recall@K, NDCG@K).

Synthetic traffic with planted tastes (``hot.local.simulate``: each user favours 1-2 topics, a
video's topic is its creator's) and a time-based split: the training hours go through the
real pipeline (ingest → dbt → snapshot) and the real embeddings asset; the hours after the
split are held out. For every user with a held-out interaction on a served candidate, the
snapshot's served list (takedowns out, creator cap applied) is ranked twice — global order,
and the real :class:`~serving.domain.feed.services.personal.PersonalReranker` (users
without a vector keep the global order) — and scored against the videos the user engaged
with in the held-out hours.

    python bench/personal_eval.py [--users 2000] [--train-hours 24] [--test-hours 6]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from redis.asyncio import Redis

if TYPE_CHECKING:
    from hot.local.simulate import Simulator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def recall_ndcg(ranked: list[str], relevant: set[str], k: int) -> tuple[float, float]:
    """Recall@k and binary NDCG@k of one ranked list."""
    hits = [1.0 if v in relevant else 0.0 for v in ranked[:k]]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return sum(hits) / len(relevant), dcg / ideal


def held_out(sim: Simulator, start: datetime, hours: int, events: int) -> dict[str, set[str]]:
    """The videos each user engages with in the held-out hours (not ingested)."""
    by_user: dict[str, set[str]] = defaultdict(set)
    for hour in range(1, hours + 1):
        for line in sim.events(events, start + timedelta(hours=hour)):
            try:
                event = orjson.loads(line)
                by_user[event["user_id"]].add(event["video_id"])
            except (orjson.JSONDecodeError, TypeError, KeyError):
                continue  # the simulator's malformed lines
    return by_user


async def evaluate(test: dict[str, set[str]], seen: dict[str, set[str]], k: int) -> None:
    """Rank the current snapshot for every test user, both ways, and print the metrics."""
    from hot import keys
    from hot.settings import get_settings
    from serving.core.auth import Principal
    from serving.domain.feed.services.personal import PersonalReranker
    from serving.domain.feed.services.snapshots import load_snapshot
    from serving.domain.feed.services.view import FeedView

    settings = get_settings()
    redis = Redis.from_url(settings.redis_url or "")
    snapshot_id = (await redis.get(keys.CURRENT)).decode()
    snapshot = await load_snapshot(redis, snapshot_id)
    await redis.aclose()
    assert snapshot is not None
    view = FeedView(snapshot, 0, frozenset(), settings.creator_cap)
    ids = [e.video_id for e in view.entries]
    reranker = PersonalReranker(settings)
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    personalized = 0
    for user, videos in sorted(test.items()):
        ranking = await reranker.rerank(Principal(user, frozenset(), {}), view)
        personalized += ranking.personalized
        personal = [ids[i] for i in ranking.order] if ranking.order is not None else ids
        for subset, relevant in (
            ("all held-out", videos),
            ("new to the user", videos - seen.get(user, set())),
        ):
            relevant &= set(ids)
            if not relevant:
                continue
            for arm, ranked in (("global", ids), ("personal", personal)):
                recall, ndcg = recall_ndcg(ranked, relevant, k)
                acc = sums[(subset, arm)]
                acc[0] += recall
                acc[1] += ndcg
                acc[2] += 1
    await reranker.aclose()
    print(
        f"candidates (served list): {len(ids)}; test users: {len(test)}, "
        f"{personalized} with a vector; blend {settings.personal_blend}, "
        f"demote watched x{settings.personal_demote_watched}"
    )
    print(f"{'held-out set':<18}{'arm':<10}{'users':>7}{f'recall@{k}':>11}{f'NDCG@{k}':>10}")
    for subset in ("all held-out", "new to the user"):
        rows = {arm: sums[(subset, arm)] for arm in ("global", "personal")}
        for arm, (recall, ndcg, n) in rows.items():
            print(f"{subset:<18}{arm:<10}{int(n):>7}{recall / n:>11.4f}{ndcg / n:>10.4f}")
        (gr, gn, _), (pr, pn, _) = rows["global"], rows["personal"]
        print(f"{subset:<18}{'lift':<10}{'':>7}{(pr / gr - 1):>+11.1%}{(pn / gn - 1):>+10.1%}")


def main(argv: list[str] | None = None) -> int:
    """Simulate, train on the first hours, evaluate on the next ones."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--creators", type=int, default=40)
    parser.add_argument("--train-hours", type=int, default=24)
    parser.add_argument("--test-hours", type=int, default=6)
    parser.add_argument("--events", type=int, default=2000, help="events per hour")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="hot-personal-eval-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, data_dir: Path) -> int:
    """The evaluation in ``data_dir`` (an embedded Redis lives for its duration)."""
    os.environ.update(
        HOT_DATA_DIR=str(data_dir),
        DAGSTER_HOME=str(data_dir / "dagster_home"),
        DO_NOT_TRACK="1",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    from hot.local.redis_server import EmbeddedRedis

    server = EmbeddedRedis(data_dir / "redis", persist=False).start()
    os.environ["HOT_REDIS_URL"] = server.url
    try:
        from dagster_project.runner import ensure_dagster_home, run_embed, run_pipeline
        from hot.local.simulate import Simulator, build_world

        world = build_world(n_creators=args.creators, n_users=args.users, seed=args.seed)
        sim = Simulator(data_dir / "landing", world, seed=args.seed + 1)
        sim.write_catalogue()
        split = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=args.test_hours)
        seen: dict[str, set[str]] = defaultdict(set)
        for hour in range(args.train_hours - 1, -1, -1):
            path = sim.write_events(args.events, split - timedelta(hours=hour))
            for line in path.read_bytes().splitlines():
                try:
                    event = orjson.loads(line)
                    seen[event["user_id"]].add(event["video_id"])
                except (orjson.JSONDecodeError, TypeError, KeyError):
                    continue
        test = held_out(sim, split, args.test_hours, args.events)
        ensure_dagster_home()
        print(
            f"pipeline: {args.train_hours} h x {args.events} events, {args.users} users, "
            f"{len(world.videos)} videos; split at {split.isoformat()}",
            flush=True,
        )
        result = run_pipeline(now_epoch=split.timestamp())
        if not result.success:
            print(f"pipeline failed: {result.error}", file=sys.stderr)
            return 1
        embed = run_embed()
        if not embed.success:
            print(f"embeddings failed: {embed.error}", file=sys.stderr)
            return 1
        meta = embed.metadata
        print(
            f"embeddings: {meta['users']} users, {meta['videos']} videos, dim "
            f"{meta['dimension']}, explained variance {meta['explained_variance']:.3f}"
        )
        asyncio.run(evaluate(test, seen, args.k))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
