"""A generated site with planted rings and near-misses (SPEC §3b), for the ring bench and tests.

Organic traffic: users who each engage with several videos over two days (likes, comments,
watches, a few shares), plus one-time visitors (a minority) who like a single video at a random
time. Planted on their own videos, each at a random minute of the two days:

- ``ring``: 20-60 fresh accounts like (some also share) one video within 2-30 minutes, with
  fewer organic likes than theirs: held;
- ``near_19``: 19 fresh accounts within 10 minutes: not a ring;
- ``near_31min``: 20 fresh accounts spread evenly over 31 minutes (any 30-minute window holds
  19): not a ring;
- ``near_elsewhere``: 24 fresh accounts within 10 minutes, 5 of which later comment on another
  video (no longer single-purpose, 19 left): not a ring;
- ``near_share``: 25 fresh accounts like a video within 10 minutes, and 30 organic likes
  (up to 30 regular users: their 25 are under half of its likes and shares): not a ring.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PLANTS = ("ring", "near_19", "near_31min", "near_elsewhere", "near_share")
"""The kinds of planted burst; only ``ring`` is one."""


@dataclass
class RingSite:
    """The catalogue, moderation and events of a generated site, and what was planted where."""

    videos: list[dict[str, Any]]
    creators: list[dict[str, Any]]
    moderation: list[dict[str, Any]]
    events: list[dict[str, Any]]
    planted: dict[str, str] = field(default_factory=dict)
    """video id -> kind of the burst planted on it (``PLANTS``)."""

    def videos_of(self, kind: str) -> set[str]:
        """The videos a burst of ``kind`` was planted on."""
        return {vid for vid, k in self.planted.items() if k == kind}


def build_ring_site(
    n_videos: int = 300,
    n_users: int = 3000,
    organic_events: int = 60_000,
    rings: int = 12,
    near_misses: int = 4,
    start: datetime = datetime(2026, 4, 10, tzinfo=UTC),
    seed: int = 5,
) -> RingSite:
    """A site of ``n_videos`` organic videos and ``n_users`` regular users (each on several
    videos), ``organic_events`` organic events over two days from ``start`` (10% of them by
    one-time visitors), and ``rings`` planted rings plus ``near_misses`` of each near-miss kind
    on videos of their own. Every video is approved a day before ``start``."""
    rng = random.Random(seed)
    span = 48 * 3600
    creators = [{"creator_id": f"c{c:03d}", "name": f"Creator {c}"} for c in range(30)]
    videos: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    seq = iter(range(10**9))

    def video(kind: str) -> str:
        vid = f"v{len(videos):04d}" if kind == "organic" else f"p{len(videos):04d}"
        videos.append(
            {
                "video_id": vid,
                "title": f"{kind} {vid}",
                "creator_id": rng.choice(creators)["creator_id"],
            }
        )
        return vid

    def event(etype: str, vid: str, uid: str, at: datetime) -> None:
        e = {
            "event_id": f"e{next(seq):09d}",
            "type": etype,
            "video_id": vid,
            "user_id": uid,
            "occurred_at": at,
        }
        if etype == "watch":
            e["watch_time_sec"] = round(rng.expovariate(1 / 240), 1)
        events.append(e)

    organic = [video("organic") for _ in range(n_videos)]
    weights = [1.0 / (i + 1) ** 0.9 for i in range(n_videos)]
    users = [f"u{u:05d}" for u in range(n_users)]
    for _ in range(organic_events):
        at = start + timedelta(seconds=rng.uniform(0, span))
        vid = rng.choices(organic, weights)[0]
        if rng.random() < 0.1:  # a one-time visitor
            event("like", vid, f"once{next(seq):09d}", at)
            continue
        etype = rng.choices(["like", "comment", "watch", "share"], [5, 2, 4, 1])[0]
        event(etype, vid, rng.choice(users), at)

    planted: dict[str, str] = {}

    def burst(
        kind: str, accounts: int, spread_sec: float, organic_likes: int, share_rate: float = 0.3
    ) -> list[str]:
        vid = video(kind)
        planted[vid] = kind
        t0 = start + timedelta(seconds=rng.uniform(0, span - 3600))
        members = [f"{kind}_{vid}_{a:03d}" for a in range(accounts)]
        for a, uid in enumerate(members):
            # near_31min: evenly spread, so the first and last are exactly spread_sec apart
            offset = spread_sec * a / (accounts - 1) if kind == "near_31min" else None
            at = t0 + timedelta(seconds=rng.uniform(0, spread_sec) if offset is None else offset)
            event("like", vid, uid, at)
            if rng.random() < share_rate:
                event("share", vid, uid, at + timedelta(seconds=rng.uniform(0, 60)))
        for _ in range(organic_likes):
            event("like", vid, rng.choice(users), start + timedelta(seconds=rng.uniform(0, span)))
        return members

    for _ in range(rings):
        accounts = rng.randint(20, 60)
        burst("ring", accounts, rng.uniform(120, 1800), rng.randint(0, accounts // 2))
    for _ in range(near_misses):
        burst("near_19", 19, 600, 3)
        burst("near_31min", 20, 31 * 60, 3)
        members = burst("near_elsewhere", 24, 600, 3)
        for uid in members[:5]:
            later = start + timedelta(seconds=span + rng.uniform(60, 3600))
            event("comment", rng.choice(organic), uid, later)
        burst("near_share", 25, 600, 30, share_rate=0.0)

    approved = (start - timedelta(days=1)).isoformat()
    moderation = [
        {"video_id": v["video_id"], "status": "approved", "decided_at": approved, "reason": "ok"}
        for v in videos
    ]
    rng.shuffle(events)
    return RingSite(videos, creators, moderation, events, planted)
