"""Building snapshots and tokens for the serving tests."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import jwt
import redis

from hot.snapshot import Snapshot, SnapshotItem, new_snapshot_id, publish_snapshot

SECRET = "test-secret-" + "x" * 32
FLAG_ON = {"X-Feature-Flag": "hot_enabled=1"}
SPLIT = {"likes": 0.137, "comments": 0.291, "watch": 0.402, "shares": 0.17}
"""How :func:`item` splits a score into per-signal parts (uneven, so rounding matters)."""


def item(
    video_id: str, creator_id: str, score: float, parts: dict[str, float] | None = None
) -> SnapshotItem:
    """A snapshot item with a payload shaped like the pipeline's: ``parts`` are its score's
    per-signal contributions (by default the score split as ``SPLIT`` says)."""
    if parts is None:
        parts = {signal: score * share for signal, share in SPLIT.items()}
    return SnapshotItem(
        video_id=video_id,
        score=score,
        payload={
            "videoId": video_id,
            "title": f"Title of {video_id}",
            "thumbnailUrl": f"https://cdn.example/thumbs/{video_id}.jpg",
            "creator": {
                "id": creator_id,
                "name": f"Name of {creator_id}",
                "avatarUrl": f"https://cdn.example/avatars/{creator_id}.png",
            },
            "stats": {"likes": 5, "comments": 2, "watchTimeSec": 310, "shares": 1},
            "contributions": parts,
        },
    )


def random_items(count: int, creators: int, seed: int) -> list[SnapshotItem]:
    """``count`` items over ``creators`` creators with random scores (many tied)."""
    rng = random.Random(seed)
    return [
        item(f"v{seed}_{i:04d}", f"c{rng.randrange(creators):03d}", rng.randrange(40) / 4)
        for i in range(count)
    ]


def publish(client: redis.Redis, items: Sequence[SnapshotItem], retain: int = 3) -> str:
    """Publish a snapshot of ``items`` exactly as the pipeline does; returns its id."""
    now = datetime.now(UTC)
    snapshot = Snapshot(snapshot_id=new_snapshot_id(now), generated_at=now, items=list(items))
    publish_snapshot(client, snapshot, retain=retain)
    return snapshot.snapshot_id


def token(key: Any = SECRET, alg: str = "HS256", ttl: int = 600, **claims: Any) -> str:
    """A signed token for user ``u1`` (claims override the defaults; None drops one)."""
    now = int(time.time())
    body: dict[str, Any] = {"sub": "u1", "roles": [], "iat": now, "exp": now + ttl}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg)


# Module-level headers are built at collection time and used minutes later, when the
# whole suite runs (11+ min); a day's validity keeps them from expiring mid-suite.
SUITE_TTL = 24 * 3600


def bearer(value: str) -> dict[str, str]:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {value}"}


def expected_feed(
    items: Sequence[SnapshotItem], cap: int, excluded: frozenset[str] = frozenset()
) -> list[str]:
    """Reference for the served order: score desc, ties by id, takedowns out, cap per creator."""
    ordered = sorted(
        (i for i in items if i.video_id not in excluded), key=lambda i: (-i.score, i.video_id)
    )
    seen: dict[str, int] = {}
    served = []
    for entry in ordered:
        creator = entry.payload["creator"]["id"]
        if seen.get(creator, 0) < cap:
            seen[creator] = seen.get(creator, 0) + 1
            served.append(entry.video_id)
    return served


def walk_pages(client: Any, limit: int, headers: dict[str, str]) -> tuple[list[dict], set[int]]:
    """All items of the current snapshot, paging it pinned; also the totals seen."""
    items: list[dict] = []
    totals: set[int] = set()
    params: dict[str, Any] = {"type": "global", "limit": limit, "offset": 0}
    while True:
        response = client.get("/api/v1/hot", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        params["snapshot"] = body["snapshotId"]
        assert body["paging"]["limit"] == limit
        assert body["paging"]["offset"] == params["offset"]
        totals.add(body["paging"]["total"])
        items.extend(body["items"])
        params["offset"] += limit
        if params["offset"] >= body["paging"]["total"]:
            return items, totals
