"""Why a video is hot (SPEC §5 explain): the answers of one served view, encoded once.

The pipeline publishes each feed item with ``contributions``, the parts of its score that each
signal (likes, comments, watch, shares) makes up at ``generatedAt``, taken from the same
forward-decayed state as the score. Here they are only rounded and encoded, once per view
(snapshot, takedown version), so a request computes nothing.

Rounding: ``hotScore`` is served rounded to 3 decimals, so the parts are split in thousandths
by the largest-remainder method: each part is floored to a thousandth, and the thousandths
still missing to the served ``hotScore`` go one each to the parts with the largest remainders
(ties to the earlier signal). The parts then add up to ``hotScore`` exactly in thousandths,
and each differs from its exact value by less than 0.001.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import msgspec

from serving.domain.feed.schemas import Contributions, Explanation
from serving.domain.feed.services.snapshots import Entry

_encode = msgspec.json.encode


def split_thousandths(parts: Sequence[float], total: float) -> list[int]:
    """``parts`` in whole thousandths that add up to ``total`` (a number of 3 decimals), by
    the largest remainder; negative parts count as 0."""
    target = round(total * 1000)
    scaled = [max(part, 0.0) * 1000 for part in parts]
    shares = [math.floor(x) for x in scaled]
    by_remainder = sorted(range(len(parts)), key=lambda i: (shares[i] - scaled[i], i))
    missing = target - sum(shares)
    # Normally 0 <= missing < len(parts); a published sum a hair off the score may leave one
    # thousandth too many, taken from the smallest remainder that has one to give.
    while missing > 0:
        for i in by_remainder[:missing]:
            shares[i] += 1
        missing -= min(missing, len(parts))
    for i in reversed(by_remainder):
        if missing == 0:
            break
        take = min(-missing, shares[i])
        shares[i] -= take
        missing += take
    return shares


def explanations(snapshot_id: str, generated_at: str, entries: Iterable[Entry]) -> dict[str, bytes]:
    """Per served video, its encoded :class:`Explanation`; ``entries`` in served (global) order.

    A video published without contributions (an older pipeline) has none.
    """
    answers: dict[str, bytes] = {}
    for rank, entry in enumerate(entries, start=1):
        parts = entry.payload.contributions
        if not isinstance(parts, Contributions):  # unset or null: published without them
            continue
        hot_score = round(entry.score, 3)
        milli = split_thousandths(
            (parts.likes, parts.comments, parts.watch, parts.shares), hot_score
        )
        answers[entry.video_id] = _encode(
            Explanation(
                videoId=entry.video_id,
                snapshotId=snapshot_id,
                generatedAt=generated_at,
                rank=rank,
                hotScore=hot_score,
                contributions=Contributions(*(m / 1000 for m in milli)),
                stats=entry.payload.stats,
            )
        )
    return answers
