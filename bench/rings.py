"""Ring-hold benchmark (SPEC §3b): what is held on a site with planted rings, and what it costs.

A generated site (hot/local/rings.py): organic traffic of regular users and one-time visitors,
planted rings of 20-60 fresh accounts, and near-misses of each kind (19 accounts; 20 accounts
over 31 minutes; 24 accounts of which 5 later engage elsewhere; 25 accounts under half of the
likes). Its events go through the real pipeline (landing files -> Dagster -> dbt -> Redis) in
event-time order, one file per pass, so the near-miss whose accounts engage elsewhere later
is held first and released when they do. Prints, from the published review queue after the
last pass: planted rings held, near-misses held, organic videos held by mistake; and per pass:
the pass's time, its dbt time and the dbt time of the ring models (int_ring_accounts,
int_ring_videos, int_ring_holds), from the durations dbt reports in their materializations.

Usage: python bench/rings.py [--quick] [--passes N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dagster_project.runner import PassResult, run_pipeline  # noqa: E402
from hot import keys  # noqa: E402
from hot.landing import format_ts, write_atomic  # noqa: E402
from hot.local.deployment import deployment  # noqa: E402
from hot.local.redis_server import EmbeddedRedis  # noqa: E402
from hot.local.rings import PLANTS, RingSite, build_ring_site  # noqa: E402

FULL = {
    "n_videos": 2000,
    "n_users": 40_000,
    "organic_events": 400_000,
    "rings": 40,
    "near_misses": 10,
}
QUICK = {"n_videos": 300, "n_users": 3000, "organic_events": 40_000, "rings": 12, "near_misses": 4}
RING_MODELS = ("int_ring_accounts", "int_ring_videos", "int_ring_holds")


def _line(event: dict) -> bytes:
    out = {**event, "occurred_at": format_ts(event["occurred_at"])}
    return json.dumps(out, separators=(",", ":")).encode()


def _write_catalogue(landing: Path, site: RingSite) -> None:
    dump = lambda rows: [json.dumps(r).encode() for r in rows]  # noqa: E731
    write_atomic(landing / "creators", "0000.jsonl", dump(site.creators))
    write_atomic(landing / "videos", "0000.jsonl", dump(site.videos))
    write_atomic(landing / "moderation", "0000.jsonl", dump(site.moderation))


def _dbt_seconds(result: PassResult) -> tuple[float, float]:
    """(the dbt step, the ring models) seconds of a pass: the models' own durations are in
    their materializations' metadata (their data tests run in the full-scan job, not here)."""
    ring = sum(
        float(result.materialized(f"intermediate/{model}")["Execution Duration"])
        for model in RING_MODELS
    )
    dbt_step = next(s.seconds for s in result.steps if s.step == "hot_dbt_assets")
    return dbt_step, ring


def _held(client: redis.Redis) -> set[str]:
    """The videos the current snapshot's review queue lists as held for a ring."""
    sid = client.get(keys.CURRENT).decode()
    items = client.hgetall(keys.snapshot_queue_items(sid))
    return {
        vid.decode()
        for vid, payload in items.items()
        if json.loads(payload).get("reason") == "coordinated_engagement"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small site for a first look")
    parser.add_argument("--passes", type=int, default=8, help="event files, one pass each")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    site = build_ring_site(**size)
    events = sorted(site.events, key=lambda e: e["occurred_at"])
    now = max(e["occurred_at"] for e in events).timestamp() + 60
    print(
        f"site: {size} -> {len(events):,} events, planted "
        + ", ".join(f"{k} {len(site.videos_of(k))}" for k in PLANTS)
    )

    with tempfile.TemporaryDirectory(prefix="hot-rings-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False).start()
        try:
            with deployment(Path(tmp) / "hot", server.url) as landing:
                _write_catalogue(landing, site)
                client = redis.Redis.from_url(server.url)
                rows = []
                per = -(-len(events) // args.passes)
                for p in range(args.passes):
                    chunk = events[p * per : (p + 1) * per]
                    write_atomic(landing / "events", f"{p:04d}.jsonl", map(_line, chunk))
                    started = time.perf_counter()
                    result = run_pipeline(now_epoch=now, quiet=True)
                    wall = time.perf_counter() - started
                    assert result.success, result.error
                    dbt_total, ring = _dbt_seconds(result)
                    held = _held(client)
                    rows.append((p + 1, len(chunk), wall, dbt_total, ring, held))
                    print(
                        f"pass {p + 1}: {len(chunk):,} events, pass {wall:.2f} s, dbt "
                        f"{dbt_total:.2f} s, ring models {ring:.3f} s "
                        f"({100 * ring / wall:.1f}% of the pass), held {len(held)}"
                    )
                held = rows[-1][5]
        finally:
            server.stop()

    planted_rings = site.videos_of("ring")
    print()
    print(f"rings held: {len(held & planted_rings)} of {len(planted_rings)} planted")
    for kind in PLANTS[1:]:
        print(
            f"near-misses held ({kind}): {len(held & site.videos_of(kind))} of "
            f"{len(site.videos_of(kind))}"
        )
    organic = held - set(site.planted)
    print(f"organic videos held by mistake: {len(organic)}")
    elsewhere = site.videos_of("near_elsewhere")
    held_then = [len(r[5] & elsewhere) for r in rows]
    print(
        f"near_elsewhere held after each pass: {held_then} (released once 5 accounts engage "
        "elsewhere)"
    )
    ring_share = [r[4] / r[2] for r in rows]
    print(
        f"ring models per pass: median {statistics.median(r[4] for r in rows):.3f} s, "
        f"{100 * statistics.median(ring_share):.1f}% of the pass (median), "
        f"{100 * statistics.median(r[4] / r[3] for r in rows):.1f}% of dbt"
    )
    print(f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
