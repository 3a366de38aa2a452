"""The one test oracle of SPEC §2-§3 (and the review queue of §6), shared by every test suite.

Written from the contract, not from the dbt models: no ledger, no forward decay, no incremental
state, no SQL — each definition evaluated as it reads, every sum taken with ``math.fsum``. The dbt
tests compare the marts with it, the pipeline and end-to-end tests the snapshot in Redis.

- ``landing_oracle``: the oracle of what §2 accepts from a landing zone (read independently
  of the ingest);
- ``latest_state``: the latest catalogue (creator per video) and moderation status per video;
- ``Oracle.build``: the counted events of §3, per video and per (user, video) pair, from which
  ``score`` (hotScore at ``now``), ``parts`` (its per-signal decomposition, §5 explain),
  ``stats``, ``feed`` (the moderation-filtered, ranked top N) and ``queue`` (the review queue)
  follow;
- ``assert_published``: a published Redis snapshot equals the oracle at its ``generatedAt``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import redis

from hot import keys

REL = 1e-9
"""The invariant's tolerance: scores agree to 1e-9 relative."""

EPOCH = datetime(1970, 1, 1)

# §2, written down again from the contract rather than imported from the ingest.
EVENT_TYPES = ("like", "watch", "comment", "share")
SOURCES = ("videos", "creators", "moderation", "events")  # catalogue before events
UNDECIDED = "undecided"  # the status of a catalogue video with no moderation decision
SIGNALS = ("likes", "comments", "watch", "shares")  # §5 explain: the parts of hotScore
SIGNAL_OF = {"like": "likes", "comment": "comments", "watch": "watch", "share": "shares"}


@dataclass(frozen=True)
class Params:
    """The score parameters of SPEC §3; the defaults are the contract's."""

    like: float = 1.0
    comment: float = 3.0
    share: float = 5.0
    watch_per_minute: float = 1.0
    watch_cap_sec: float = 3600.0
    half_life_hours: float = 6.0
    ring_window_min: float = 30.0
    ring_min_accounts: int = 20
    ring_share: float = 0.5

    @property
    def half_life_sec(self) -> float:
        """The half-life in seconds."""
        return self.half_life_hours * 3600.0


DEFAULTS = Params()


def epoch_seconds(ts: datetime) -> float:
    """Seconds since the epoch from the exact microsecond count (naive timestamps are UTC)."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ((ts - EPOCH) // timedelta(microseconds=1)) / 1_000_000


def round_half_up(x: float) -> int:
    """Round a non-negative number to an integer, halves up (SQL ``round`` on doubles)."""
    return math.floor(x + 0.5)


def rel_close(a: float, b: float, rel: float = REL) -> bool:
    """Equal to ``rel`` relative tolerance (exact zero only equals a tiny value)."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)


# --------------------------------------------------------------------------- §2 input


def latest_by(
    rows: Iterable[Mapping[str, Any]], key: str, order: tuple[str, ...]
) -> dict[str, Mapping[str, Any]]:
    """Per ``key``, the row that is greatest by the fields ``order`` (ties: the first seen)."""
    out: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        cur = out.get(r[key])
        if cur is None or tuple(r[k] for k in order) > tuple(cur[k] for k in order):
            out[r[key]] = r
    return out


def latest_state(
    videos: Iterable[Mapping[str, Any]], moderation: Iterable[Mapping[str, Any]]
) -> tuple[dict[str, str], dict[str, str]]:
    """(video → creator, video → status) of the latest catalogue and moderation state.

    Rows carry ``batch_id`` and ``line_no`` (their file's processing order and line): the latest
    file wins per video; the decision with the latest ``decided_at`` wins, then the later line.
    """
    catalogue = latest_by(videos, "video_id", ("batch_id", "line_no"))
    decisions = latest_by(moderation, "video_id", ("decided_at", "batch_id", "line_no"))
    return (
        {vid: r["creator_id"] for vid, r in catalogue.items()},
        {vid: r["status"] for vid, r in decisions.items()},
    )


def parse_ts(text: str) -> datetime:
    """An RFC 3339 timestamp (``Z`` or an offset) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _objects(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    for line_no, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(obj, dict):
            yield line_no, obj


def landing_files(landing: Path) -> list[Path]:
    """Landing files in processing order (catalogue first, by name within a folder)."""
    order = {s: i for i, s in enumerate(SOURCES)}
    files = [p for s in SOURCES for p in (landing / s).glob("*.jsonl")]
    return sorted(files, key=lambda p: (order[p.parent.name], p.name))


def landing_oracle(landing: Path, params: Params = DEFAULTS) -> Oracle:
    """The oracle of what SPEC §2 accepts from the JSON Lines files of ``landing``.

    Read independently of the ingest: events of a known type with a parseable time, the first
    seen of each ``event_id``; catalogue rows with a creator and a title.
    """
    events: dict[str, dict[str, Any]] = {}
    videos: list[dict[str, Any]] = []
    moderation: list[dict[str, Any]] = []
    for batch_id, path in enumerate(landing_files(landing)):
        source = path.parent.name
        for line_no, obj in _objects(path):
            order = {"batch_id": batch_id, "line_no": line_no}
            if source == "videos" and obj.get("creator_id") and obj.get("title"):
                videos.append({**obj, **order})
            elif source == "moderation":
                moderation.append({**obj, **order, "decided_at": parse_ts(obj["decided_at"])})
            elif source == "events" and obj.get("type") in EVENT_TYPES:
                try:
                    obj["occurred_at"] = parse_ts(obj["occurred_at"])
                except (ValueError, TypeError):
                    continue
                events.setdefault(obj["event_id"], obj)  # first seen wins
    creator_of, status_of = latest_state(videos, moderation)
    decided_at_of = {
        vid: r["decided_at"]
        for vid, r in latest_by(
            moderation, "video_id", ("decided_at", "batch_id", "line_no")
        ).items()
    }
    return Oracle.build(events.values(), creator_of, status_of, params, decided_at_of)


# --------------------------------------------------------------------------- §3 score


class Term(NamedTuple):
    """One counted event's weight, time (epoch) and signal (``SIGNALS``)."""

    weight: float
    t: float
    signal: str


@dataclass
class Counts:
    """Counted events of one video or one (user, video) pair."""

    likes: int = 0
    comments: int = 0
    shares: int = 0
    watches: int = 0
    watch_secs: list[float] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)

    @property
    def watch_sec(self) -> float:
        """Counted watch seconds (each event capped)."""
        return math.fsum(self.watch_secs)

    def add(self, event_type: str, weight: float, t: float, seconds: float) -> None:
        """Count one event of ``event_type`` of ``weight`` that occurred at epoch ``t``."""
        if event_type == "watch":
            self.watches += 1
            self.watch_secs.append(seconds)
        elif event_type == "like":
            self.likes += 1
        elif event_type == "comment":
            self.comments += 1
        else:
            self.shares += 1
        self.terms.append(Term(weight, t, SIGNAL_OF[event_type]))


@dataclass
class Video(Counts):
    """A video with counted events, and its score."""

    def score(self, now: float, half_life: float) -> float:
        """hotScore at epoch ``now``: Σ weight · 2^(-(now - t) / half_life)."""
        return math.fsum(w * 2.0 ** (-(now - t) / half_life) for w, t, _ in self.terms)

    def parts(self, now: float, half_life: float) -> dict[str, float]:
        """hotScore at ``now`` split by signal (``SIGNALS``): each the Σ over that signal's
        counted events, so the four add up to ``score``."""
        return {
            signal: math.fsum(
                w * 2.0 ** (-(now - t) / half_life) for w, t, s in self.terms if s == signal
            )
            for signal in SIGNALS
        }

    def score_log2(self, half_life: float) -> float | None:
        """log2(score(now)) + now / half_life (independent of ``now``), free of underflow."""
        top = max(term.t for term in self.terms)
        mass = math.fsum(w * 2.0 ** ((t - top) / half_life) for w, t, _ in self.terms)
        return math.log2(mass) + top / half_life if mass > 0 else None

    def stats(self) -> dict[str, int]:
        """The lifetime ``stats`` of the API: the counted events, undecayed."""
        return {
            "likes": self.likes,
            "comments": self.comments,
            "watchTimeSec": round_half_up(self.watch_sec),
            "shares": self.shares,
        }


@dataclass
class Pair(Counts):
    """One (user, video) pair's counted events; a creator's own pair counts nothing."""

    is_creator: bool = False

    @property
    def weight(self) -> float:
        """Σ of the pair's counted weights, undecayed."""
        return math.fsum(term.weight for term in self.terms)

    @property
    def first(self) -> float | None:
        """Epoch of the pair's earliest counted event."""
        return min((term.t for term in self.terms), default=None)

    @property
    def last(self) -> float | None:
        """Epoch of the pair's latest counted event."""
        return max((term.t for term in self.terms), default=None)


def countable(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The events §3 counts, before the creator rule: every comment and watch, and per
    (user, video) the like and the share with the earliest (``occurred_at``, ``event_id``)."""
    first: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    out: list[Mapping[str, Any]] = []
    for e in events:
        if e["type"] in ("like", "share"):
            k = (e["video_id"], e["user_id"], e["type"])
            best = first.get(k)
            if best is None or (e["occurred_at"], e["event_id"]) < (
                best["occurred_at"],
                best["event_id"],
            ):
                first[k] = e
        elif e["type"] in ("comment", "watch"):
            out.append(e)
    return out + list(first.values())


@dataclass(frozen=True)
class Ring:
    """A ring of §3b: its accounts and the first and last of their join times (epoch)."""

    accounts: frozenset[str]
    start: float
    end: float


def find_rings(
    joins: Mapping[str, Mapping[str, list[float]]],
    pairs: Mapping[tuple[str, str], Pair],
    params: Params = DEFAULTS,
) -> dict[str, Ring]:
    """§3b as it reads: per video, its single-purpose accounts (every counted-before-the-creator-
    rule event of theirs on this video: ``pairs`` holds each account's videos) that liked or
    shared it; each joins at its first counted like or share. A window of ``ring_window_min``
    minutes starting at a join (both ends in) qualifies with at least ``ring_min_accounts``
    accounts holding at least ``ring_share`` of the video's counted likes and shares; the
    ring is every account of a qualifying window. Times compare in whole microseconds."""
    videos_of: dict[str, set[str]] = {}
    for uid, vid in pairs:
        videos_of.setdefault(uid, set()).add(vid)
    window = round(params.ring_window_min * 60 * 1_000_000)
    rings: dict[str, Ring] = {}
    for vid, by_user in joins.items():
        total = sum(len(times) for times in by_user.values())
        members = [
            (round(min(times) * 1_000_000), uid, len(times))
            for uid, times in by_user.items()
            if videos_of[uid] == {vid}
        ]
        ring: set[tuple[int, str]] = set()
        for start, _, _ in members:
            inside = [(t, uid, n) for t, uid, n in members if start <= t <= start + window]
            if (
                len(inside) >= params.ring_min_accounts
                and sum(n for _, _, n in inside) >= params.ring_share * total
            ):
                ring |= {(t, uid) for t, uid, _ in inside}
        if ring:
            rings[vid] = Ring(
                frozenset(uid for _, uid in ring),
                min(t for t, _ in ring) / 1e6,
                max(t for t, _ in ring) / 1e6,
            )
    return rings


@dataclass
class Oracle:
    """SPEC §3 over one set of accepted events and the latest catalogue and moderation."""

    videos: dict[str, Video]
    pairs: dict[tuple[str, str], Pair]
    creator_of: Mapping[str, str]
    status_of: Mapping[str, str]
    params: Params = DEFAULTS
    rings: dict[str, Ring] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)

    @classmethod
    def build(
        cls,
        events: Iterable[Mapping[str, Any]],
        creator_of: Mapping[str, str],
        status_of: Mapping[str, str],
        params: Params = DEFAULTS,
        decided_at_of: Mapping[str, datetime] | None = None,
    ) -> Oracle:
        """Count ``events`` (accepted, de-duplicated; ``occurred_at`` datetimes).

        ``creator_of``: video → current creator (the catalogue); ``status_of``: video → latest
        moderation status; ``decided_at_of``: when that decision was taken (a video without
        one is taken as decided before any ring). Events of a video not in the catalogue
        count, but it is never ranked.
        """
        videos: dict[str, Video] = {}
        pairs: dict[tuple[str, str], Pair] = {}
        joins: dict[str, dict[str, list[float]]] = {}  # video -> user -> counted like/share times
        for e in countable(events):
            vid, uid, etype = e["video_id"], e["user_id"], e["type"]
            is_creator = creator_of.get(vid) == uid
            pair = pairs.setdefault((uid, vid), Pair(is_creator=is_creator))
            if is_creator:
                continue
            if etype in ("like", "share"):
                joins.setdefault(vid, {}).setdefault(uid, []).append(
                    epoch_seconds(e["occurred_at"])
                )
            seconds = 0.0
            if etype == "watch":
                seconds = min(max(float(e["watch_time_sec"]), 0.0), params.watch_cap_sec)
                weight = seconds / 60.0 * params.watch_per_minute
            else:
                weight = getattr(params, etype)
            t = epoch_seconds(e["occurred_at"])
            videos.setdefault(vid, Video()).add(etype, weight, t, seconds)
            pair.add(etype, weight, t, seconds)
        rings = find_rings(joins, pairs, params)
        decided = decided_at_of or {}
        held = {
            vid
            for vid, ring in rings.items()
            if status_of.get(vid, UNDECIDED) not in ("removed", "restricted")
            and not (
                status_of.get(vid) == "approved"
                and vid in decided
                and epoch_seconds(decided[vid]) > ring.end
            )
        }
        return cls(videos, pairs, dict(creator_of), dict(status_of), params, rings, held)

    def score(self, video_id: str, now: float) -> float:
        """hotScore of ``video_id`` at epoch ``now`` (0 without counted events)."""
        v = self.videos.get(video_id)
        return v.score(now, self.params.half_life_sec) if v else 0.0

    def parts(self, video_id: str, now: float) -> dict[str, float]:
        """hotScore of ``video_id`` at epoch ``now`` by signal (all 0 without counted events)."""
        v = self.videos.get(video_id)
        return v.parts(now, self.params.half_life_sec) if v else dict.fromkeys(SIGNALS, 0.0)

    def status(self, video_id: str) -> str:
        """The moderation status of a catalogue video (``undecided`` without a decision)."""
        return self.status_of.get(video_id, UNDECIDED)

    def _ranked(self, statuses: set[str], held: bool = False) -> list[tuple[str, float | None]]:
        """Catalogue videos with counted events and a status in ``statuses`` that no ring holds
        (with ``held``: those too, whatever their status), best first.

        Ranked by log2 of the score, which orders as the score does at any ``now`` and keeps
        the order where the scores themselves underflow; ties break by video id.
        """
        half_life = self.params.half_life_sec
        rows = [
            (vid, v.score_log2(half_life))
            for vid, v in self.videos.items()
            if vid in self.creator_of
            and (
                (self.status(vid) in statuses and vid not in self.held)
                or (held and vid in self.held)
            )
        ]
        rows.sort(key=lambda r: (r[1] is None, -(r[1] or 0.0), r[0]))
        return rows

    def feed(self, top_n: int) -> list[str]:
        """The moderation-filtered top N (only ``approved`` videos no ring holds), in rank
        order."""
        return [vid for vid, _ in self._ranked({"approved"})[:top_n]]

    def queue(self, top_n: int) -> list[tuple[str, int]]:
        """The review queue: (video, would-be rank) of the undecided and ``pending_review``
        videos that would rank in the top N if approved, and of every video a ring holds
        (§3b, whatever its would-be rank), best first."""
        half_life = self.params.half_life_sec
        feed = [(vid, self.videos[vid].score_log2(half_life)) for vid in self.feed(top_n)]
        queue: list[tuple[str, int]] = []
        for vid, key in self._ranked({UNDECIDED, "pending_review"}, held=True):
            better = sum(
                1
                for fvid, fkey in feed
                if (
                    fkey is not None and (key is None or fkey > key or (fkey == key and fvid < vid))
                )
                or (fkey is None and key is None and fvid < vid)
            )
            if better + 1 <= top_n or vid in self.held:
                queue.append((vid, better + 1))
        return queue

    def queue_reason(self, video_id: str) -> str:
        """Why a queued video is in the queue (§3b, §6)."""
        return "coordinated_engagement" if video_id in self.held else "would_trend"


# --------------------------------------------------------------------------- §4 snapshot


@dataclass(frozen=True)
class Published:
    """The current snapshot in Redis: ``hot:global``, the review queue and their payloads."""

    generated_at: float  # epoch seconds
    feed: dict[str, float]
    items: dict[str, dict[str, Any]]
    queue: dict[str, float]
    queue_items: dict[str, dict[str, Any]]


def _hash_json(client: redis.Redis, key: str) -> dict[str, dict[str, Any]]:
    return {k.decode(): json.loads(v) for k, v in client.hgetall(key).items()}


def published(client: redis.Redis) -> Published:
    """Read the current snapshot (``hot:global`` and the keys of ``{hot:global}:current``)."""
    sid_raw = client.get(keys.CURRENT)
    assert sid_raw is not None, "no snapshot published"
    sid = sid_raw.decode()
    meta = client.hgetall(keys.snapshot_meta(sid))
    return Published(
        generated_at=epoch_seconds(parse_ts(meta[b"generatedAt"].decode())),
        feed={m.decode(): s for m, s in client.zrange(keys.GLOBAL, 0, -1, withscores=True)},
        items=_hash_json(client, keys.snapshot_items(sid)),
        queue={
            m.decode(): s
            for m, s in client.zrange(keys.snapshot_queue(sid), 0, -1, withscores=True)
        },
        queue_items=_hash_json(client, keys.snapshot_queue_items(sid)),
    )


def assert_parts(parts: Mapping[str, float], score: float, expected: Mapping[str, float]) -> None:
    """Per-signal parts of ``score`` equal the oracle's ``expected`` to 1e-9 of the score
    (a part may be a tiny fraction of it) and add up to ``score`` to 1e-9 relative."""
    assert set(parts) == set(SIGNALS), parts
    for signal in SIGNALS:
        assert abs(parts[signal] - expected[signal]) <= REL * score + 1e-300, (signal, parts)
    assert rel_close(math.fsum(parts.values()), score), (parts, score)


def assert_published(client: redis.Redis, oracle: Oracle, top_n: int) -> Published:
    """Assert that the current snapshot is the oracle's feed and review queue at its
    ``generatedAt``: the same videos, scores to 1e-9 relative, each score's per-signal parts
    (``contributions``), stats and creators."""
    pub = published(client)
    now = pub.generated_at
    expected = oracle.feed(top_n)
    assert set(pub.feed) == set(expected), (sorted(pub.feed), expected)
    for vid in expected:
        score, ref = oracle.score(vid, now), oracle.videos[vid]
        assert rel_close(pub.feed[vid], score), (vid, pub.feed[vid], score)
        assert_parts(pub.items[vid]["contributions"], pub.feed[vid], oracle.parts(vid, now))
        stats = pub.items[vid]["stats"]
        assert (stats["likes"], stats["comments"], stats["shares"]) == (
            ref.likes,
            ref.comments,
            ref.shares,
        ), vid
        # Rounded to an integer; float summation order may tip an exact .5 either way.
        assert abs(stats["watchTimeSec"] - ref.watch_sec) <= 0.5 + 1e-6, vid
        assert pub.items[vid]["creator"]["id"] == oracle.creator_of[vid], vid
    queue = [vid for vid, _ in oracle.queue(top_n)]
    assert set(pub.queue) == set(queue), (sorted(pub.queue), queue)
    for vid in queue:
        assert rel_close(pub.queue[vid], oracle.score(vid, now)), vid
        assert pub.queue_items[vid]["moderationStatus"] == oracle.status(vid), vid
        assert pub.queue_items[vid]["reason"] == oracle.queue_reason(vid), vid
        ring = oracle.rings.get(vid) if vid in oracle.held else None
        if ring is None:
            assert pub.queue_items[vid]["ring"] is None, vid
        else:
            published_ring = pub.queue_items[vid]["ring"]
            assert published_ring["accounts"] == len(ring.accounts), vid
            assert set(published_ring["sampleAccounts"]) <= ring.accounts, vid
            assert epoch_seconds(parse_ts(published_ring["windowStart"])) == ring.start, vid
            assert epoch_seconds(parse_ts(published_ring["windowEnd"])) == ring.end, vid
    return pub
