"""Chaos soak: the feed under steady load while files land and Redis is wiped.

Stands up what production runs, on this machine: `dagster dev` (its landing sensor and the
snapshot watch), `hot serve`, and a Redis without persistence. A steady request loop walks
the feed (global and personal, three pages each, pinned to the first page's snapshot) while
the simulator lands new event files, and Redis is shut down without saving and started again
empty (a restart without persistence, a failover to an empty replica).

Prints the number of requests and every status seen, then one ``CHAOS {json}`` line. Exits 1
on anything but a 200, on a page that disagrees with another page of the same snapshot (two
snapshots mixed), or on ``hot:global`` not back within 60 s of a wipe.

Usage: python bench/chaos.py [--seconds 90] [--wipes 1] [--land-every 6]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hot import keys  # noqa: E402
from hot.local.redis_server import EmbeddedRedis, free_port  # noqa: E402
from hot.local.simulate import Simulator, build_world  # noqa: E402
from hot.settings import get_settings  # noqa: E402
from serving.core.auth import mint_token  # noqa: E402

RECOVERY_LIMIT_SEC = 60.0
"""SPEC §5: the pipeline publishes the latest scores again within a minute."""
PAGES, PAGE_SIZE = 3, 10
USERS = [f"u{n:05d}" for n in range(0, 400, 7)]


@dataclass
class Tally:
    """What the request loop saw (shared by its threads under one lock)."""

    statuses: Counter[str] = field(default_factory=Counter)
    stale: int = 0
    snapshots: set[str] = field(default_factory=set)
    ranks: dict[tuple[str, ...], dict[int, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        """Requests answered or failed so far."""
        return sum(self.statuses.values())

    def record(self, view: tuple[str, ...], response: httpx.Response, offset: int) -> str | None:
        """Count ``response``; check it against every page of the same snapshot seen before.

        ``view`` names what must rank identically across requests: the snapshot, and for
        ``type=personal`` the user and whether the order was personalized. Returns the
        snapshot id of a 200, else None.
        """
        with self.lock:
            self.statuses[str(response.status_code)] += 1
            if response.status_code != 200:
                self.problems.append(f"{response.status_code}: {response.text[:200]}")
                return None
            body = response.json()
            sid = body["snapshotId"]
            self.snapshots.add(sid)
            self.stale += response.headers.get("x-hot-stale") == "1"
            key = (sid, *view, str(body.get("personalized", "")))
            seen = self.ranks.setdefault(key, {})
            for expected_rank, item in enumerate(body["items"], start=offset + 1):
                if item["rank"] != expected_rank:
                    self.problems.append(f"{key}: rank {item['rank']} at {expected_rank}")
                if seen.setdefault(item["rank"], item["videoId"]) != item["videoId"]:
                    self.problems.append(f"{key}: rank {item['rank']} is two videos (mixed)")
            return sid


def walk(client: httpx.Client, tally: Tally, kind: str, user: str, headers: dict) -> None:
    """Page 1 of the feed, then the next pages pinned to page 1's snapshot."""
    sid: str | None = None
    view = (kind, user if kind == "personal" else "")
    for page in range(PAGES):
        params = {"type": kind, "limit": PAGE_SIZE, "offset": page * PAGE_SIZE}
        if sid:
            params["snapshot"] = sid
        try:
            response = client.get("/api/v1/hot", params=params, headers=headers)
        except httpx.HTTPError as exc:
            with tally.lock:
                tally.statuses[type(exc).__name__] += 1
                tally.problems.append(f"{type(exc).__name__}: {exc}")
            return
        got = tally.record(view, response, page * PAGE_SIZE)
        if got is None:
            return
        if sid and got != sid:
            with tally.lock:
                tally.problems.append(f"pinned {sid} answered {got}")
        sid = got


def request_loop(url: str, secret_env: dict[str, str], tally: Tally, stop: threading.Event) -> None:
    """Walk the feed as the users in turn, global then personal, until ``stop``."""
    settings = get_settings()
    tokens = {u: mint_token(settings, sub=u, ttl=3600) for u in USERS}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        n = 0
        while not stop.is_set():
            user = USERS[n % len(USERS)]
            headers = {"Authorization": f"Bearer {tokens[user]}", **secret_env}
            walk(client, tally, "global" if n % 2 == 0 else "personal", user, headers)
            n += 1
            time.sleep(0.01)


@contextmanager
def process(argv: list[str], env: dict[str, str], log: Path, stop: int) -> Iterator[None]:
    """A child in its own process group, stopped with ``stop`` (then SIGKILL) on exit."""
    with log.open("wb") as out:
        child = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield
        finally:
            if child.poll() is None:
                os.killpg(child.pid, stop)
                try:
                    child.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()


def wait_for(check: object, timeout: float, what: str) -> float:
    """Poll ``check`` until true; the seconds it took. Raises SystemExit after ``timeout``."""
    started = time.monotonic()
    try:
        Retrying(
            retry=retry_if_exception_type((redis.RedisError, httpx.HTTPError))
            | retry_if_result(lambda ok: not ok),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.25),
        )(check)
    except RetryError:
        raise SystemExit(f"chaos: timed out after {timeout:.0f} s waiting for {what}") from None
    return time.monotonic() - started


def _has_global(client: redis.Redis) -> bool:
    try:
        return bool(client.exists(keys.GLOBAL))
    except redis.RedisError:
        return False


def wipe(store: EmbeddedRedis, directory: Path) -> EmbeddedRedis:
    """Shut Redis down without saving and start it again, empty, on the same port."""
    store.kill()
    return EmbeddedRedis(directory, port=store.port, persist=False).start()


def run(seconds: float, wipes: int, land_every: float, work: Path) -> dict[str, object]:
    """The soak; returns its summary."""
    redis_dir = work / "redis"
    store = EmbeddedRedis(redis_dir, persist=False).start()
    data = work / "hot"
    env = {
        **os.environ,
        "HOT_DATA_DIR": str(data),
        "HOT_REDIS_URL": store.url,
        "HOT_JWT_SECRET": "chaos-" + "s" * 32,
        "DAGSTER_HOME": str(data / "dagster_home"),
        # One embeddings version for the whole soak, so a personal order changes only with
        # the snapshot (what the mixing check keys on).
        "HOT_EMBED_EVERY_BATCHES": "1000000",
    }
    os.environ.update({k: env[k] for k in ("HOT_DATA_DIR", "HOT_REDIS_URL", "HOT_JWT_SECRET")})
    get_settings.cache_clear()
    hot = [sys.executable, "-m", "hot.cli"]
    sim = Simulator(data / "landing", build_world(n_creators=40, videos_per_creator=5, n_users=400))
    sim.write_catalogue()
    sim.write_events(3000)
    print("chaos: first pass and embeddings", flush=True)
    for command in ("run", "embed"):
        done = subprocess.run([*hot, command], env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"chaos: `hot {command}` failed:\n{done.stdout}{done.stderr}")
    api_port, ui_port = free_port(), free_port()
    url = f"http://127.0.0.1:{api_port}"
    client = redis.Redis.from_url(store.url)
    tally, stop = Tally(), threading.Event()
    recoveries: list[float] = []
    published_before = 0
    dagster = [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-p", str(ui_port)]
    with (
        process(dagster, env, work / "dagster.log", signal.SIGINT),
        process([*hot, "serve", "--port", str(api_port)], env, work / "api.log", signal.SIGTERM),
    ):
        wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200, 120, "the API")
        # The clock starts once the daemon runs passes: a landed file becomes a snapshot.
        first = client.get(keys.CURRENT)
        sim.write_events(500)
        warmup = wait_for(lambda: client.get(keys.CURRENT) != first, 600, "the sensor's first pass")
        print(
            f"chaos: dagster dev up, first sensor pass published after {warmup:.0f} s", flush=True
        )
        loop = threading.Thread(
            target=request_loop, args=(url, {"X-Feature-Flag": "hot_enabled=1"}, tally, stop)
        )
        loop.start()
        started = time.monotonic()
        wipe_at = [seconds * (i + 1) / (wipes + 1) for i in range(wipes)]
        next_land, wiped_at = 0.0, None
        try:
            while (elapsed := time.monotonic() - started) < seconds or wiped_at is not None:
                if elapsed >= next_land:  # files keep landing, during recovery too
                    sim.write_events(500)
                    next_land = elapsed + land_every
                if wiped_at is not None and _has_global(client):
                    recoveries.append(elapsed - wiped_at)
                    print(f"chaos: hot:global back after {recoveries[-1]:.1f} s", flush=True)
                    wiped_at = None
                elif wiped_at is not None and elapsed - wiped_at > RECOVERY_LIMIT_SEC:
                    raise SystemExit(
                        f"chaos: hot:global not back {RECOVERY_LIMIT_SEC:.0f} s after a wipe"
                    )
                if wipe_at and elapsed >= wipe_at[0] and wiped_at is None:
                    wipe_at.pop(0)
                    published_before = len(tally.snapshots)
                    store = wipe(store, redis_dir)
                    client = redis.Redis.from_url(store.url)
                    wiped_at = elapsed
                    print(f"chaos: Redis wiped at {elapsed:.0f} s", flush=True)
                time.sleep(0.2)
        finally:
            stop.set()
            loop.join()
    store.stop()
    return {
        "requests": tally.requests,
        "statuses": dict(tally.statuses),
        "stale_responses": tally.stale,
        "snapshots_served": len(tally.snapshots),
        "snapshots_after_last_wipe": len(tally.snapshots) - published_before,
        "wipes": len(recoveries),
        "recovery_sec": [round(r, 1) for r in recoveries],
        "problems": tally.problems[:20],
    }


def main() -> None:
    """Run the soak and exit 1 on any failure of its contract."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="length of the request loop")
    parser.add_argument("--wipes", type=int, default=1, help="Redis wipes during the loop")
    parser.add_argument("--land-every", type=float, default=6.0, help="seconds between files")
    parser.add_argument(
        "--keep", type=Path, help="work here and keep the logs (default: a temp dir)"
    )
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        summary = run(args.seconds, args.wipes, args.land_every, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="hot-chaos-") as tmp:
            summary = run(args.seconds, args.wipes, args.land_every, Path(tmp))
    print(
        f"chaos: {summary['requests']} requests, statuses {summary['statuses']}, "
        f"{summary['stale_responses']} stale, {summary['snapshots_served']} snapshots served, "
        f"{summary['wipes']} Redis wipes survived (back after {summary['recovery_sec']} s)"
    )
    print("CHAOS " + json.dumps(summary), flush=True)
    ok = not summary["problems"] and set(summary["statuses"]) == {"200"}
    sys.exit(0 if ok and summary["requests"] else 1)


if __name__ == "__main__":
    main()
