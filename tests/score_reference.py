"""An independent, straightforward Python computation of SPEC §3 (the test oracle).

Deliberately written from the spec, not from the dbt models: no forward decay, no
incremental state — just the definition, evaluated with math.fsum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULTS = {
    "like": 1.0,
    "comment": 3.0,
    "share": 5.0,
    "watch_per_minute": 1.0,
    "watch_cap_sec": 3600.0,
    "half_life_hours": 6.0,
}


@dataclass
class VideoScore:
    """Reference score and lifetime stats of one video."""

    score: float = 0.0
    terms: list[float] = field(default_factory=list)
    likes: int = 0
    comments: int = 0
    shares: int = 0
    watch_sec: float = 0.0


def _epoch(ts: datetime) -> float:
    return ts.timestamp()


def reference_scores(
    events: Iterable[Mapping[str, Any]],
    creators: Mapping[str, str],
    now: datetime,
    params: Mapping[str, float] = DEFAULTS,
) -> dict[str, VideoScore]:
    """Scores of every video with counted events.

    ``events``: accepted, de-duplicated events (``occurred_at`` aware datetimes);
    ``creators``: video id → current creator id (videos absent have no known creator).
    """
    half_life = params["half_life_hours"] * 3600.0
    first: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    counted: list[Mapping[str, Any]] = []
    for e in events:
        if e["type"] in ("like", "share"):
            key = (e["video_id"], e["user_id"], e["type"])
            best = first.get(key)
            if best is None or (e["occurred_at"], e["event_id"]) < (
                best["occurred_at"],
                best["event_id"],
            ):
                first[key] = e
        else:
            counted.append(e)
    counted.extend(first.values())
    out: dict[str, VideoScore] = {}
    for e in counted:
        if creators.get(e["video_id"]) == e["user_id"]:
            continue
        v = out.setdefault(e["video_id"], VideoScore())
        etype = e["type"]
        if etype == "watch":
            seconds = min(float(e["watch_time_sec"]), params["watch_cap_sec"])
            weight = seconds / 60.0 * params["watch_per_minute"]
            v.watch_sec += seconds
        else:
            weight = params[etype]
            if etype == "like":
                v.likes += 1
            elif etype == "comment":
                v.comments += 1
            else:
                v.shares += 1
        age = _epoch(now) - _epoch(e["occurred_at"])
        v.terms.append(weight * 2.0 ** (-age / half_life))
    for v in out.values():
        v.score = math.fsum(v.terms)
    return out


def reference_feed(
    scores: Mapping[str, VideoScore],
    statuses: Mapping[str, str],
    catalogue: Iterable[str],
    top_n: int,
) -> list[tuple[str, float]]:
    """The expected ``hot:global``: approved catalogue videos, score desc then id, top N."""
    known = set(catalogue)
    eligible = [
        (vid, s.score)
        for vid, s in scores.items()
        if vid in known and statuses.get(vid) == "approved"
    ]
    eligible.sort(key=lambda p: (-p[1], p[0]))
    return eligible[:top_n]


def rel_close(a: float, b: float, rel: float = 1e-9) -> bool:
    """Equal to ``rel`` relative tolerance (exact zero only equals a tiny value)."""
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)
