"""API benchmark: GET /api/v1/hot against a bare endpoint returning the same bytes.

Starts its own Redis, publishes a 1,000-item snapshot, starts the API (``serve()``, uvicorn)
with ``HOT_BENCH_ENDPOINTS=1``, then loads, with ``wrk`` in a separate process at 64
connections,

  1. ``GET /api/v1/hot?type=global&limit=20`` with a bearer token and the feature flag;
  2. ``GET /bench/bare``: the same app and middleware returning the identical bytes from
     memory (no auth, flag, Redis round trip or paging);
  3. ``GET /api/v1/hot?type=personal&limit=20`` for ``PERSONAL_USERS`` users in turn (wrk Lua
     script), with LanceDB embeddings published for the snapshot (10% of users have none);

alternating the two for ``--rounds`` rounds, and prints requests/s and p50/p99 latency
(median over rounds) of each and the ratio hot/bare. Goals: ratio >= 0.8, p99 <= 10 ms;
personal/global requests/s >= 0.5, personal p99 <= 20 ms.

Usage: python bench/api.py [--workers 1] [--duration 8] [--connections 64] [--rounds 3]
Needs ``wrk`` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import redis
from tenacity import (
    RetryError,
    retry_if_exception_type,
    retry_if_result,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hot import embedding_store  # noqa: E402
from hot.embedding_store import EmbeddingSet  # noqa: E402
from hot.local.processes import while_starting  # noqa: E402
from hot.local.redis_server import EmbeddedRedis, free_port  # noqa: E402
from hot.settings import get_settings  # noqa: E402
from hot.snapshot import Snapshot, SnapshotItem, new_snapshot_id, publish_snapshot  # noqa: E402
from serving.core.auth import mint_token  # noqa: E402

HOT_PATH = "/api/v1/hot?type=global&limit=20"
BARE_PATH = "/bench/bare"
PERSONAL_PATH = "/api/v1/hot?type=personal&limit=20"
PERSONAL_USERS = 1000
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Result:
    """One wrk run."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float
    """CPU of the API processes and Redis per request: robust to other load on the machine."""


def snapshot_items(count: int = 1000, creators: int = 300, seed: int = 1) -> list[SnapshotItem]:
    """A snapshot shaped like the pipeline's: ``count`` videos over ``creators`` creators."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        video_id, creator_id = f"v_{i:05d}", f"c_{rng.randrange(creators):04d}"
        payload = {
            "videoId": video_id,
            "title": f"Video number {i} with a typical title",
            "thumbnailUrl": f"https://cdn.imoutotv.com/thumbs/{video_id}.jpg",
            "creator": {
                "id": creator_id,
                "name": f"Creator {creator_id}",
                "avatarUrl": f"https://cdn.imoutotv.com/avatars/{creator_id}.png",
            },
            "stats": {
                "likes": rng.randrange(10_000),
                "comments": rng.randrange(1_000),
                "watchTimeSec": rng.randrange(100_000),
                "shares": rng.randrange(500),
            },
        }
        items.append(SnapshotItem(video_id, rng.uniform(0, 5_000), payload))
    return items


def publish_embeddings(data_dir: Path, redis_url: str, items: list[SnapshotItem]) -> None:
    """Random 16-d vectors for the snapshot's videos and 90% of ``PERSONAL_USERS`` users."""
    rng = np.random.default_rng(3)
    users = [f"bench_u{i:04d}" for i in range(PERSONAL_USERS * 9 // 10)]
    videos = [i.video_id for i in items]
    embeddings = EmbeddingSet(
        users=users,
        user_vectors=rng.normal(size=(len(users), 16)).astype(np.float32),
        videos=videos,
        video_vectors=rng.normal(size=(len(videos), 16)).astype(np.float32),
        watched={u: list(rng.choice(videos, size=5)) for u in users},
        metadata={},
    )
    version = embedding_store.new_version()
    embedding_store.write_version(data_dir / "lancedb", version, embeddings)
    embedding_store.flip(redis.Redis.from_url(redis_url), version)


def personal_script(workdir: Path, tokens: list[str]) -> Path:
    """A wrk Lua script sending ``PERSONAL_PATH`` with each token in turn."""
    quoted = ",".join(f'"{t}"' for t in tokens)
    script = workdir / "personal.lua"
    script.write_text(
        f"local tokens = {{{quoted}}}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n"
        f'  return wrk.format("GET", "{PERSONAL_PATH}", {{["X-Feature-Flag"] = "hot_enabled=1",'
        ' ["Authorization"] = "Bearer " .. tokens[i % #tokens + 1]})\nend\n'
    )
    return script


def start_api(workdir: Path, redis_url: str, workers: int, secret: str) -> tuple:
    """Start ``serve()`` in a child process; returns (process, base URL)."""
    port = free_port()
    env = {
        **os.environ,
        "HOT_DATA_DIR": str(workdir / "data"),
        "HOT_REDIS_URL": redis_url,
        "HOT_JWT_SECRET": secret,
        "HOT_BENCH_ENDPOINTS": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    code = f"from serving.server import serve; serve('127.0.0.1', {port}, {workers})"
    log = (workdir / "api.log").open("wb")
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        while_starting(
            process,
            retry_if_exception_type(httpx.HTTPError) | retry_if_result(lambda ok: not ok),
            120,
            0.2,
        )(lambda: httpx.get(f"{url}/readyz", timeout=1).status_code == 200)
    except RetryError:
        process.kill()
        raise SystemExit(
            "the API did not start:\n" + (workdir / "api.log").read_text()[-3000:]
        ) from None
    return process, url


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def server_cpu_seconds(roots: tuple[int, ...]) -> float:
    """User + system CPU of ``roots`` and their live children (uvicorn workers), in seconds."""
    pids = list(roots)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) in roots:
            pids.append(int(stat.parent.name))
    ticks = 0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_wrk(
    url: str,
    headers: dict[str, str],
    seconds: int,
    connections: int,
    server_pids: tuple[int, ...],
    script: Path | None = None,
) -> Result:
    """Load ``url`` with wrk (one thread, optional Lua ``script``), parse its --latency report."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    args += ["-s", str(script)] if script else []
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    cpu_before = server_cpu_seconds(server_pids)
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True).stdout
    cpu = server_cpu_seconds(server_pids) - cpu_before
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Result(
        rps, p50, p99, int(errors.group(1)) if errors else 0, cpu * 1e6 / max(requests, 1)
    )


def _median(results: list[Result]) -> Result:
    return Result(
        rps=statistics.median(r.rps for r in results),
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
        cpu_us=statistics.median(r.cpu_us for r in results),
    )


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")

    secret = "bench-" + os.urandom(24).hex()
    with tempfile.TemporaryDirectory(prefix="hot-bench-") as tmp:
        workdir = Path(tmp)
        store = EmbeddedRedis(workdir / "redis", persist=False).start()
        process = None
        try:
            now = datetime.now(UTC)
            snapshot = Snapshot(new_snapshot_id(now), now, snapshot_items())
            publish_snapshot(redis.Redis.from_url(store.url), snapshot)
            publish_embeddings(workdir / "data", store.url, snapshot.items)
            process, url = start_api(workdir, store.url, args.workers, secret)
            os.environ.update(HOT_JWT_SECRET=secret, HOT_DATA_DIR=str(workdir / "data"))
            get_settings.cache_clear()
            hot_headers = {
                "Authorization": f"Bearer {mint_token(get_settings(), sub='bench', ttl=3600)}",
                "X-Feature-Flag": "hot_enabled=1",
            }
            hot_body = httpx.get(url + HOT_PATH, headers=hot_headers).content
            bare_body = httpx.get(url + BARE_PATH).content
            if hot_body != bare_body:
                raise SystemExit("the bare endpoint does not return the hot endpoint's bytes")
            pid = (process.pid, store._proc.pid)  # type: ignore[union-attr]  # API + Redis
            run_wrk(url + HOT_PATH, hot_headers, 2, args.connections, pid)  # warm-up
            run_wrk(url + BARE_PATH, {}, 2, args.connections, pid)
            script = personal_script(
                workdir,
                [
                    mint_token(get_settings(), sub=f"bench_u{i:04d}", ttl=3600)
                    for i in range(PERSONAL_USERS)
                ],
            )
            personal_body = httpx.get(
                url + PERSONAL_PATH,
                headers={
                    **hot_headers,
                    "Authorization": f"Bearer {mint_token(get_settings(), sub='bench_u0000')}",
                },
            ).json()
            if not personal_body.get("personalized"):
                raise SystemExit("type=personal is not personalized: embeddings not served")
            hot, bare, personal = [], [], []
            for _ in range(args.rounds):
                hot.append(
                    run_wrk(url + HOT_PATH, hot_headers, args.duration, args.connections, pid)
                )
                bare.append(run_wrk(url + BARE_PATH, {}, args.duration, args.connections, pid))
                personal.append(
                    run_wrk(url + PERSONAL_PATH, {}, args.duration, args.connections, pid, script)
                )
        finally:
            if process is not None:
                process.terminate()
                process.wait(timeout=15)
            store.stop()

    hot_m, bare_m, personal_m = _median(hot), _median(bare), _median(personal)
    print(
        f"snapshot: 1000 items; body {len(hot_body)} bytes; workers={args.workers}; "
        f"wrk -t1 -c{args.connections}, {args.rounds} x {args.duration}s each (median); "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{'endpoint':<36}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}{'CPU us/req':>12}"
    )
    for name, result in ((HOT_PATH, hot_m), (BARE_PATH, bare_m), (PERSONAL_PATH, personal_m)):
        print(
            f"{name:<36}{result.rps:>10.0f}{result.p50_ms:>10.2f}{result.p99_ms:>10.2f}"
            f"{result.errors:>9}{result.cpu_us:>12.0f}"
        )
    ratio = hot_m.rps / bare_m.rps
    print(
        f"ratio hot/bare requests/s: {ratio:.2f} (goal >= 0.80); "
        f"CPU per request (API + Redis) bare/hot: {bare_m.cpu_us / hot_m.cpu_us:.2f}"
    )
    print(f"hot p99: {hot_m.p99_ms:.2f} ms (goal <= 10 ms)")
    print(
        f"ratio personal/global requests/s: {personal_m.rps / hot_m.rps:.2f} (goal >= 0.50); "
        f"personal p99: {personal_m.p99_ms:.2f} ms (goal <= 20 ms); "
        f"{PERSONAL_USERS} users in turn, 10% without a vector"
    )
    print(
        "per round (hot req/s / bare req/s): "
        + ", ".join(f"{h.rps:.0f}/{b.rps:.0f}" for h, b in zip(hot, bare, strict=True))
    )


if __name__ == "__main__":
    main()
