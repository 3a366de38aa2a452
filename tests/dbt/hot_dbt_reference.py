"""Independent Python oracle for the dbt project's outputs (SPEC §3), plus a test dataset.

Written from the definition only: no ledger, no forward decay, no incremental state.
hotScore(v, now) = sum over v's counted events of weight * 2^(-(now - t) / half_life).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.score_reference import DEFAULTS

EPOCH = datetime(1970, 1, 1)
PARAMS = DEFAULTS  # the score defaults of SPEC §3, shared with the end-to-end oracle


def epoch_seconds(ts: datetime) -> float:
    """Seconds since the epoch of a naive UTC timestamp, from its exact microsecond count."""
    return ((ts - EPOCH) // timedelta(microseconds=1)) / 1_000_000


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


@dataclass
class Video:
    """Reference state of one video with counted events."""

    terms: list[tuple[float, float]] = field(default_factory=list)  # (weight, t)
    likes: int = 0
    comments: int = 0
    shares: int = 0
    watches: int = 0
    watch_sec: float = 0.0

    def score(self, now: float, half_life: float) -> float:
        return math.fsum(w * 2.0 ** (-(now - t) / half_life) for w, t in self.terms)

    def score_log2(self, half_life: float) -> float | None:
        """log2(score(now)) + now / half_life, computed without underflow."""
        top = max(t for _, t in self.terms)
        mass = math.fsum(w * 2.0 ** ((t - top) / half_life) for w, t in self.terms)
        return math.log2(mass) + top / half_life if mass > 0 else None


@dataclass
class Reference:
    videos: dict[str, Video]
    creator_of: dict[str, str]
    status_of: dict[str, str]
    pairs: dict[tuple[str, str], dict[str, Any]]


def latest_by(rows: Iterable[Mapping[str, Any]], key: str, order: tuple[str, ...]) -> dict:
    out: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        cur = out.get(r[key])
        if cur is None or tuple(r[k] for k in order) > tuple(cur[k] for k in order):
            out[r[key]] = r
    return out


def compute(
    events: list[dict],
    videos: list[dict],
    moderation: list[dict],
    params: Mapping[str, float] = PARAMS,
) -> Reference:
    catalogue = latest_by(videos, "video_id", ("batch_id", "line_no"))
    creator_of = {vid: r["creator_id"] for vid, r in catalogue.items()}
    decisions = latest_by(moderation, "video_id", ("decided_at", "batch_id", "line_no"))
    status_of = {vid: r["status"] for vid, r in decisions.items()}

    first: dict[tuple[str, str, str], dict] = {}
    counted: list[dict] = []
    for e in events:
        if e["type"] in ("like", "share"):
            k = (e["video_id"], e["user_id"], e["type"])
            if k not in first or (e["occurred_at"], e["event_id"]) < (
                first[k]["occurred_at"],
                first[k]["event_id"],
            ):
                first[k] = e
        elif e["type"] in ("comment", "watch"):
            counted.append(e)
    counted.extend(first.values())

    out: dict[str, Video] = {}
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for e in counted:
        vid, uid = e["video_id"], e["user_id"]
        pair = pairs.setdefault(
            (uid, vid),
            {
                "likes": 0,
                "comments": 0,
                "shares": 0,
                "watches": 0,
                "watch_sec": 0.0,
                "weight": [],
                "last": None,
                "is_creator": creator_of.get(vid) == uid,
            },
        )
        if creator_of.get(vid) == uid:
            continue
        v = out.setdefault(vid, Video())
        t = epoch_seconds(e["occurred_at"])
        if e["type"] == "watch":
            sec = min(max(float(e["watch_time_sec"]), 0.0), params["watch_cap_sec"])
            w = sec / 60.0 * params["watch_per_minute"]
            v.watches += 1
            v.watch_sec += sec
            pair["watches"] += 1
            pair["watch_sec"] += sec
        else:
            w = params[e["type"]]
            attr = {"like": "likes", "comment": "comments", "share": "shares"}[e["type"]]
            setattr(v, attr, getattr(v, attr) + 1)
            pair[attr] += 1
        v.terms.append((w, t))
        pair["weight"].append(w)
        pair["last"] = t if pair["last"] is None else max(pair["last"], t)
    return Reference(out, creator_of, status_of, pairs)


def ranked(ref: Reference, statuses: set[str], half_life: float) -> list[tuple[str, float | None]]:
    """Catalogue videos with counted events and a status in ``statuses``, best first."""
    rows = [
        (vid, v.score_log2(half_life))
        for vid, v in ref.videos.items()
        if vid in ref.creator_of and ref.status_of.get(vid, "undecided") in statuses
    ]
    rows.sort(key=lambda r: (r[1] is None, -(r[1] or 0.0), r[0]))
    return rows


def feed_and_queue(ref: Reference, top_n: int, half_life: float):
    """(feed video ids in rank order, {queue video id: would-be rank}) per SPEC §3 / §6."""
    eligible = ranked(ref, {"approved"}, half_life)
    feed = eligible[:top_n]
    queue: list[tuple[str, int]] = []
    for vid, key in ranked(ref, {"undecided", "pending_review"}, half_life):
        better = sum(
            1
            for fvid, fkey in feed
            if (fkey is not None and (key is None or fkey > key or (fkey == key and fvid < vid)))
            or (fkey is None and key is None and fvid < vid)
        )
        if better + 1 <= top_n:
            queue.append((vid, better + 1))
    return [vid for vid, _ in feed], queue


# --------------------------------------------------------------------------- dataset

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
