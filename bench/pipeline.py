"""Pipeline benchmark: throughput, incremental cost against history, landing-to-Redis latency.

Prints, measured in one run:
  1. events/s through ingest + dbt (+ publish) for one big batch (default 1M events);
  2. (time for a 100k batch on top of a 10M-event history) / (same batch on an empty
     history) — the incremental models should make this close to 1 (goal <= 1.3);
  3. seconds from a file landing to its snapshot in Redis with the sensor running under
     `dagster dev` (goal <= 15 s).

Usage: python bench/pipeline.py [--big 1000000] [--history 10000000] [--batch 100000]
The history is inserted straight into raw.events with SQL (the ingest path is what (1)
measures); dbt then builds its ledger once, untimed, before the timed batch.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dagster_project.runner import deployment, run_pipeline  # noqa: E402
from hot import keys  # noqa: E402
from hot.landing import write_atomic  # noqa: E402
from hot.local.redis_server import EmbeddedRedis, free_port  # noqa: E402
from hot.local.simulate import Simulator, World, build_world  # noqa: E402
from hot.settings import get_settings  # noqa: E402
from hot.warehouse import connect  # noqa: E402

WORLD_ARGS = {"n_creators": 400, "videos_per_creator": 6, "n_users": 50_000, "seed": 3}


@contextmanager
def fresh_deployment(root: Path, redis_url: str) -> Iterator[Path]:
    """A fresh data dir and an empty Redis db for one measurement."""
    with deployment(root, redis_url) as landing:
        redis.Redis.from_url(redis_url).flushdb()
        yield landing


def write_batch(sim: Simulator, n: int, chunk: int = 200_000) -> float:
    """Write ``n`` events as one landing file; returns the seconds spent generating."""
    started = time.perf_counter()
    lines: list[bytes] = []
    while len(lines) < n:
        lines.extend(sim.events(min(chunk, n - len(lines)), bad_rate=0.001, replay_rate=0.0))
    write_atomic(sim.landing_dir / "events", f"{time.time_ns():020d}-batch.jsonl", lines)
    return time.perf_counter() - started


def timed_pass(label: str) -> float:
    """One pipeline pass; returns its wall-clock seconds."""
    result = run_pipeline()
    if not result.success:
        raise SystemExit(f"{label}: pipeline failed: {result.error}")
    print(
        f"  {label}: {result.seconds:.2f} s (snapshot {result.snapshot_id}, {result.items} items)",
        flush=True,
    )
    return result.seconds


def seed_history(db: Path, world: World, n: int, batches: int = 100) -> None:
    """Insert ``n`` synthetic accepted events over the last week straight into raw.events."""
    con = connect(db)
    try:
        con.execute(
            "create temp table vids as select unnest(?) as video_id, "
            "generate_subscripts(?, 1) - 1 as ix",
            [[v["video_id"] for v in world.videos]] * 2,
        )
        nv = len(world.videos)
        con.execute(f"""
            insert into raw.events
            select 'h' || i::varchar,
                   case i % 20 when 0 then 'share' when 1 then 'comment' when 2 then 'comment'
                        when 3 then 'like' when 4 then 'like' when 5 then 'like'
                        when 6 then 'like' else 'watch' end,
                   v.video_id,
                   'u_' || lpad(((i * 7919) % 200000)::varchar, 6, '0'),
                   now()::timestamp - to_seconds(((i * 104729) % 604800)::bigint),
                   case when i % 20 >= 7 then ((i * 31) % 900)::double end,
                   1 + i % {batches}, 'events/history.jsonl', 1, now()::timestamp
            from range({n}) t(i)
            join vids v on v.ix = floor(pow(((i * 2654435761) % 1000003) / 1000003.0, 3)
                                        * {nv})::bigint
        """)
        con.execute(f"""
            insert into raw.ingested_files
            select 'events/history-' || b::varchar || '.jsonl', 'events', b, 0, 0, 0, 0,
                   now()::timestamp
            from range(1, {batches} + 1) t(b)
        """)
        count = con.execute("select count(*) from raw.events").fetchone()
        print(f"  history: {count[0] if count else 0:,} events in raw.events", flush=True)
    finally:
        con.close()


def bench_big_batch(base: Path, redis_url: str, n: int) -> float:
    """Events/s through ingest + dbt + publish for one batch of ``n`` events."""
    print(f"[1] one batch of {n:,} events on an empty history", flush=True)
    with fresh_deployment(base / "big", redis_url) as landing:
        sim = Simulator(landing, build_world(**WORLD_ARGS))
        sim.write_catalogue()
        timed_pass("catalogue only")
        gen = write_batch(sim, n)
        print(f"  (generated the file in {gen:.1f} s, untimed)", flush=True)
        seconds = timed_pass(f"{n:,}-event batch")
    return n / seconds


def bench_history_ratio(
    base: Path, redis_url: str, history: int, batch: int
) -> tuple[float, float]:
    """Seconds for the same ``batch`` on an empty history and on a ``history``-event one."""
    world = build_world(**WORLD_ARGS)
    times: dict[str, float] = {}
    for label, size in (("empty", 0), ("history", history)):
        print(f"[2] {batch:,}-event batch on {label} history ({size:,} events)", flush=True)
        with fresh_deployment(base / label, redis_url) as landing:
            sim = Simulator(landing, world, seed=5)
            sim.write_catalogue()
            if size:
                seed_history(get_settings().duckdb_path, world, size)
            started = time.perf_counter()
            timed_pass("catalogue + history build (untimed)")
            print(f"  (history build took {time.perf_counter() - started:.1f} s)", flush=True)
            sim = Simulator(landing, world, seed=99)  # the same batch in both cases
            write_batch(sim, batch)
            times[label] = timed_pass(f"timed {batch:,}-event batch")
    return times["empty"], times["history"]


def bench_sensor_latency(base: Path, redis_url: str, rounds: int) -> list[float]:
    """Seconds from a file's rename into landing/ to a new ``hot:current`` under dagster dev."""
    print(f"[3] landing → snapshot latency with the sensor running ({rounds} files)", flush=True)
    client = redis.Redis.from_url(redis_url)
    with fresh_deployment(base / "sensor", redis_url) as landing:
        sim = Simulator(landing, build_world(**WORLD_ARGS))
        sim.write_catalogue()
        sim.write_events(2000)
        env = dict(os.environ)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(ROOT / "workspace.yaml"),
                "-p",
                str(free_port()),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: client.get(keys.CURRENT) is not None, 180, "first snapshot")
            latencies = []
            for _ in range(rounds):
                before = client.get(keys.CURRENT)
                time.sleep(2)
                landed = time.perf_counter()
                sim.write_events(2000)
                wait_for(lambda b=before: client.get(keys.CURRENT) != b, 120, "new snapshot")
                latencies.append(time.perf_counter() - landed)
                print(f"  file → snapshot: {latencies[-1]:.2f} s", flush=True)
        finally:
            proc.send_signal(signal.SIGINT)  # dagster dev shuts its daemon and servers down
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return latencies


def wait_for(check: object, timeout: float, what: str) -> None:
    """Poll ``check`` every 50 ms until true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    """Run the three measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--latency-rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hot-bench-", ignore_cleanup_errors=True) as tmp:
        base = Path(tmp)
        server = EmbeddedRedis(base / "redis", persist=False).start()
        try:
            eps = bench_big_batch(base, server.url, args.big)
            empty, history = bench_history_ratio(base, server.url, args.history, args.batch)
            latencies = bench_sensor_latency(base, server.url, args.latency_rounds)
        finally:
            server.stop()
    print("\n== pipeline benchmark ==")
    print(
        f"throughput: {eps:,.0f} events/s through ingest + dbt + publish ({args.big:,}-event batch)"
    )
    print(
        f"incremental: {args.batch:,} batch on {args.history:,} history {history:.2f} s / "
        f"on empty {empty:.2f} s = ratio {history / empty:.2f} (goal <= 1.3)"
    )
    print(
        f"latency: file landing → snapshot in Redis, median {statistics.median(latencies):.2f} s "
        f"(max {max(latencies):.2f} s over {len(latencies)}; goal <= 15 s)"
    )


if __name__ == "__main__":
    main()
