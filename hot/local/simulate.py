"""Synthetic traffic for the landing zone: a catalogue, moderation and engagement batches.

The traffic looks like a video site's: Zipf-like popularity, creators with many videos,
users with a taste for a few topics, bursts (a video suddenly trending), late and
out-of-order events, replays of already-sent events and a sprinkle of malformed lines.
Every file is written atomically (temp name, then rename), as producers must.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from hot.landing import format_ts, write_atomic

TOPICS = ("gaming", "music", "cooking", "anime", "sports", "science", "travel", "comedy")
_ADJECTIVES = (
    "Epic",
    "Tiny",
    "Midnight",
    "Ultimate",
    "Secret",
    "Chaotic",
    "Cozy",
    "Legendary",
    "Speedrun",
    "Hidden",
    "Golden",
    "Neon",
    "Silent",
    "Wild",
    "Lazy",
    "Cosmic",
)
_NOUNS = {
    "gaming": ("Sword Battle", "Boss Rush", "Pixel Quest", "Dungeon Run", "Raid Night"),
    "music": ("Piano Cover", "Live Session", "Beat Drop", "Guitar Solo", "Choir Jam"),
    "cooking": ("Ramen Recipe", "Bento Box", "Street Food", "Mochi Magic", "Curry Night"),
    "anime": ("Opening Cover", "Cosplay Walk", "Figure Review", "Sakuga Study", "Fan Edit"),
    "sports": ("Final Lap", "Dunk Reel", "Goal Rush", "Climb Day", "Skate Line"),
    "science": ("Lab Trick", "Star Map", "Robot Build", "Rocket Test", "Tiny Atoms"),
    "travel": ("Tokyo Walk", "Island Hop", "Night Train", "Mountain Hut", "Temple Run"),
    "comedy": ("Cat Prank", "Office Skit", "Fail Reel", "Dad Jokes", "Roast Battle"),
}
_NAME_PARTS = ("Neko", "Kitsune", "Sora", "Yuki", "Hana", "Kage", "Ryu", "Mochi", "Tora", "Aki")
_NAME_TAILS = ("Blade", "Beats", "Chef", "Lab", "Trips", "Plays", "Sketch", "Wave", "Fox", "Byte")
EVENT_MIX = (("watch", 0.55), ("like", 0.28), ("comment", 0.10), ("share", 0.07))
BAD_LINES = (
    b'{"event_id": "truncated", "type": "li',
    b'["not", "an", "object"]',
    b'{"event_id": "x", "type": "dislike", "video_id": "v", "user_id": "u", '
    b'"occurred_at": "2026-01-01T00:00:00Z"}',
    b'{"event_id": "y", "type": "watch", "video_id": "v", "user_id": "u", '
    b'"occurred_at": "yesterday", "watch_time_sec": 10}',
    b"\xff\xfe not utf-8",
    b"",
)


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass
class World:
    """The synthetic catalogue and audience the traffic is drawn from."""

    creators: list[dict[str, Any]]
    videos: list[dict[str, Any]]
    video_topic: dict[str, str]
    users: list[str]
    user_topics: dict[str, tuple[str, ...]]
    popularity: np.ndarray = field(repr=False)


def build_world(
    n_creators: int = 40, videos_per_creator: int = 6, n_users: int = 2000, seed: int = 7
) -> World:
    """A deterministic catalogue (creators with many videos) and users with planted tastes."""
    rng = random.Random(seed)
    creators, videos, video_topic = [], [], {}
    for c in range(n_creators):
        cid = f"c_{c:04d}"
        topic = TOPICS[c % len(TOPICS)]
        name = f"{rng.choice(_NAME_PARTS)}{rng.choice(_NAME_TAILS)}{c}"
        creators.append(
            {"creator_id": cid, "name": name, "avatar_url": f"/media/avatars/{cid}.svg"}
        )
        for _ in range(max(1, int(rng.paretovariate(1.5) * videos_per_creator / 2))):
            vid = f"v_{len(videos):05d}"
            videos.append(
                {
                    "video_id": vid,
                    "title": f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS[topic])}",
                    "thumbnail_url": f"/media/thumbnails/{vid}.svg",
                    "creator_id": cid,
                    "published_at": format_ts(
                        datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(500_000))
                    ),
                }
            )
            video_topic[vid] = topic
    users = [f"u_{u:05d}" for u in range(n_users)]
    user_topics = {u: tuple(rng.sample(TOPICS, rng.choice((1, 2)))) for u in users}
    ranks = np.arange(1, len(videos) + 1, dtype=float)
    np_rng = np.random.default_rng(seed)
    popularity = 1.0 / ranks**1.1
    np_rng.shuffle(popularity)
    return World(creators, videos, video_topic, users, user_topics, popularity / popularity.sum())


class Simulator:
    """Writes catalogue, moderation and event micro-batches into a landing zone."""

    def __init__(self, landing_dir: Path, world: World | None = None, seed: int = 11) -> None:
        self.landing_dir = landing_dir
        self.world = world or build_world()
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self._seq = 0
        self._recent: list[bytes] = []
        by_topic: dict[str, list[int]] = {}
        for i, v in enumerate(self.world.videos):
            by_topic.setdefault(self.world.video_topic[v["video_id"]], []).append(i)
        self._by_topic = {t: np.array(ix) for t, ix in by_topic.items()}

    def _name(self) -> str:
        self._seq += 1
        return f"{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}.jsonl"

    def write_catalogue(self) -> list[Path]:
        """Creators, videos and their moderation decisions (mostly approved)."""
        now = datetime.now(UTC)
        decisions = []
        for v in self.world.videos:
            roll = self.rng.random()
            if roll < 0.06:
                continue  # never reviewed: not eligible until a moderator decides
            status = (
                "pending_review"
                if roll < 0.12
                else "removed"
                if roll < 0.14
                else "restricted"
                if roll < 0.15
                else "approved"
            )
            decisions.append(
                {
                    "video_id": v["video_id"],
                    "status": status,
                    "decided_at": format_ts(now - timedelta(hours=1)),
                    "reason": "auto-review" if status == "approved" else "policy",
                }
            )
        return [
            write_atomic(
                self.landing_dir / "creators", self._name(), (_dump(c) for c in self.world.creators)
            ),
            write_atomic(
                self.landing_dir / "videos", self._name(), (_dump(v) for v in self.world.videos)
            ),
            write_atomic(
                self.landing_dir / "moderation", self._name(), (_dump(d) for d in decisions)
            ),
        ]

    def _pick_videos(self, users: list[str], burst: int | None) -> np.ndarray:
        n = len(users)
        picks = self.np_rng.choice(len(self.world.videos), size=n, p=self.world.popularity)
        for i, user in enumerate(users):
            if self.rng.random() < 0.7:
                topic = self.rng.choice(self.world.user_topics[user])
                pool = self._by_topic[topic]
                weights = self.world.popularity[pool]
                picks[i] = pool[self.np_rng.choice(len(pool), p=weights / weights.sum())]
            elif burst is not None and self.rng.random() < 0.3:
                picks[i] = burst
        return picks

    def events(
        self,
        n: int,
        now: datetime | None = None,
        bad_rate: float = 0.005,
        late_rate: float = 0.03,
        replay_rate: float = 0.01,
    ) -> list[bytes]:
        """``n`` event lines around ``now`` (with late, replayed and malformed ones mixed in)."""
        now = now or datetime.now(UTC)
        users = self.rng.choices(self.world.users, k=n)
        burst = self.rng.randrange(len(self.world.videos)) if self.rng.random() < 0.3 else None
        picks = self._pick_videos(users, burst)
        types = self.rng.choices([t for t, _ in EVENT_MIX], [w for _, w in EVENT_MIX], k=n)
        lines: list[bytes] = []
        for user, vi, etype in zip(users, picks, types, strict=True):
            roll = self.rng.random()
            if roll < bad_rate:
                lines.append(self.rng.choice(BAD_LINES))
                continue
            if roll < bad_rate + replay_rate and self._recent:
                lines.append(self.rng.choice(self._recent))
                continue
            lag = (
                self.rng.uniform(60, 7200)
                if self.rng.random() < late_rate
                else self.rng.uniform(0, 30)
            )
            event: dict[str, Any] = {
                "event_id": f"e_{self.rng.getrandbits(64):016x}",
                "type": etype,
                "video_id": self.world.videos[int(vi)]["video_id"],
                "user_id": user,
                "occurred_at": format_ts(now - timedelta(seconds=lag)),
            }
            if etype == "watch":
                event["watch_time_sec"] = round(self.rng.expovariate(1 / 240), 1)
            lines.append(_dump(event))
        self._recent = lines[-200:]
        return lines

    def write_events(self, n: int, now: datetime | None = None) -> Path:
        """One atomically written micro-batch of ``n`` event lines."""
        return write_atomic(self.landing_dir / "events", self._name(), self.events(n, now))
