"""The dbt tests' dataset: a small catalogue, moderation history and events for SPEC §3.

Built to exercise every score rule: replayed and displaced likes and shares, ties on
``occurred_at``, creators' own events and creator changes, moderation reversals, an uncatalogued
video and years of event time.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tests.oracle import epoch_seconds

T0 = datetime(2026, 4, 12, 8, 0, 0)
NOW = epoch_seconds(T0 + timedelta(minutes=30))


def dataset(seed: int = 20260412) -> dict[str, list[dict]]:
    """A small catalogue, moderation history and ~500 events exercising every score rule.

    Catalogue/moderation rows carry batch ids 1, 3, 5; events are split over parts 0, 1, 2
    (loaded as batches 2, 4, 6), so a later part brings earlier likes of already-counted pairs.
    """
    rng = random.Random(seed)
    ts = datetime(2026, 1, 1)
    vids = [f"v{i:02d}" for i in range(16)]
    users = [f"u{i:02d}" for i in range(24)]
    creators = ["c0", "c1", "c2", "c3", "c4"]
    line = iter(range(1, 10_000))

    def video(vid: str, creator: str, batch: int) -> dict:
        return {
            "video_id": vid,
            "title": f"Title {vid}",
            "thumbnail_url": f"/t/{vid}.svg",
            "creator_id": creator,
            "published_at": ts,
            "batch_id": batch,
            "line_no": next(line),
        }

    videos = [video(v, creators[i % 4], 1) for i, v in enumerate(vids) if v not in ("v13", "v14")]
    # batch 3: v05 moves to a creator (u05) who engaged with it; v13's catalogue row arrives
    # after its events (its creator u13 engaged too); v01 gets a new title; v14 never arrives.
    videos.append(video("v05", "u05", 3))
    videos.append(video("v13", "u13", 3))
    videos.append({**video("v01", "c1", 3), "title": "Renamed v01"})
    # v07 moves to u07 (batch 3) and back to c3 (batch 5): two creator changes
    videos.append(video("v07", "u07", 3))
    videos.append(video("v07", "c3", 5))

    creator_rows = [
        {
            "creator_id": c,
            "name": f"Creator {c}",
            "avatar_url": f"/a/{c}.svg",
            "batch_id": 1,
            "line_no": next(line),
        }
        for c in creators[:4]
    ] + [
        {
            "creator_id": "u05",
            "name": "Five",
            "avatar_url": None,
            "batch_id": 3,
            "line_no": next(line),
        }
    ]

    def decision(vid: str, status: str, hours: float, batch: int) -> dict:
        return {
            "video_id": vid,
            "status": status,
            "decided_at": T0 - timedelta(hours=hours),
            "reason": "test",
            "batch_id": batch,
            "line_no": next(line),
        }

    moderation = [decision(v, "approved", 50, 1) for v in vids if v not in ("v02", "v04", "v09")]
    moderation += [
        decision("v02", "pending_review", 50, 1),
        decision("v03", "restricted", 40, 1),  # v03: restricted, then approved later
        decision("v03", "approved", 30, 3),
        decision("v06", "removed", 20, 3),  # v06: approved, then removed
        decision("v07", "removed", 60, 3),  # older than v07's approval: loses
        decision("v08", "pending_review", 10, 5),  # v08: back to review
        decision("v09", "approved", 5, 5),  # v09: undecided until batch 5
        decision("v09", "restricted", 5, 5),  # same decided_at, later line wins
    ]

    events: list[dict] = []
    n = iter(range(1, 100_000))

    def event(etype: str, vid: str, uid: str, at: datetime, part: int, watch=None) -> None:
        events.append(
            {
                "event_id": f"e{next(n):05d}",
                "type": etype,
                "video_id": vid,
                "user_id": uid,
                "occurred_at": at,
                "watch_time_sec": watch,
                "part": part,
            }
        )

    def when() -> datetime:
        return T0 - timedelta(
            seconds=rng.uniform(0, 48 * 3600), microseconds=rng.randrange(1_000_000)
        )

    active = [v for v in vids if v not in ("v12", "v14")]
    hot_weights = [rng.uniform(0.2, 3.0) for _ in active]
    for _ in range(420):
        vid = rng.choices(active, weights=hot_weights)[0]
        etype = rng.choices(["like", "comment", "share", "watch"], [5, 2, 1, 3])[0]
        uid = rng.choice(users + creators)
        watch = None
        if etype == "watch":
            watch = rng.choice([0.0, 12.5, rng.uniform(1, 600), rng.uniform(3000, 9000)])
        event(etype, vid, uid, when(), rng.randrange(3), watch)
    # duplicate likes/shares of a pair spread over parts (later part brings an earlier one)
    for k in range(12):
        vid, uid = vids[k % 12], users[k]
        etype = "share" if k % 4 == 0 else "like"
        base = when()
        event(etype, vid, uid, base, 0)
        event(etype, vid, uid, base - timedelta(hours=rng.uniform(0.5, 20)), 1 + k % 2)
        event(etype, vid, uid, base + timedelta(hours=1), 2)
    # equal occurred_at: the smaller event_id wins (ids e9xxxx sort after e0xxxx)
    tie = when()
    events.append(
        {
            "event_id": "e90001",
            "type": "like",
            "video_id": "v01",
            "user_id": "u20",
            "occurred_at": tie,
            "watch_time_sec": None,
            "part": 0,
        }
    )
    events.append(
        {
            "event_id": "e00000",
            "type": "like",
            "video_id": "v01",
            "user_id": "u20",
            "occurred_at": tie,
            "watch_time_sec": None,
            "part": 2,
        }
    )
    # a late displacement that cancels almost all of a video's mass (20 half-lives back)
    event("like", "v15", "u21", T0, 0)
    event("like", "v15", "u21", T0 - timedelta(hours=120), 2)
    # creators' own events (v05 old and new creator, v07, v13's future creator)
    for vid, uid in [
        ("v05", "c1"),
        ("v05", "u05"),
        ("v07", "c3"),
        ("v07", "u07"),
        ("v13", "u13"),
        ("v00", "c0"),
    ]:
        for part in range(3):
            event(rng.choice(["like", "comment", "watch"]), vid, uid, when(), part, 120.0)
    # three years of event time: v10 gets old events, v12 only old ones
    for part in range(3):
        event("comment", "v10", "u01", T0 - timedelta(days=3 * 365, hours=part), part)
        event("like", "v12", f"u1{part}", T0 - timedelta(days=3 * 365 + part), part)
    # an event of a video that never reaches the catalogue
    event("like", "v14", "u02", when(), 1)
    rng.shuffle(events)
    return {"videos": videos, "creators": creator_rows, "moderation": moderation, "events": events}
