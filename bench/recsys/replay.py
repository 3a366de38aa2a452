"""A dataset's training rows through the real pipeline; candidates and ``type=personal`` from it.

In a fresh data dir with an embedded Redis (``hot.local.deployment``):

1. **Catalogue.** Every item becomes an approved video of its own creator, so the per-creator
   cap never removes a candidate (the datasets have no creators) and the served list is the
   hot order itself.
2. **Events** (SPEC §2). Each training row is one ``watch`` event at the row's time with
   ``watch_time_sec = 60 · weight · scale`` — a row's weight becomes watch minutes, the
   signal the score and the embeddings both count per minute; ``scale`` is 1 unless the
   largest weight would pass the 60-minute watch cap, then weights are scaled under it.
   Files without times get all events one hour before the split.
3. **``hot run --now <split>``** (``run_pipeline``): ingest, dbt build, publish the top N to
   ``hot:global``. **Candidates** = the served list of that snapshot (takedowns out, cap
   applied: :class:`~serving.domain.feed.services.view.FeedView`), the same for every method.
4. **``hot embed``** (``run_embed``): the embeddings asset as it is on main, whatever model it
   trains (the bench measures what is landed).
5. **personal** = :class:`~serving.domain.feed.services.personal.PersonalReranker`'s order of
   the view for each test user, as the API serves it (users without a vector keep the
   global order).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from bench.recsys.data import Dataset

WATCH_CAP_MIN = 60.0
"""dbt's ``watch_cap_sec`` in minutes: a watch event counts at most this much."""
EVENTS_PER_FILE = 200_000
NO_TIME_SPLIT = 1_700_000_000.0
"""The split instant of a dataset without times (its events are one hour earlier)."""


@dataclass(frozen=True)
class Replayed:
    """What the pipeline served: candidates, each test user's personal order, and timings."""

    candidates: list[int]
    """Item codes of the served list, in global (hot) order."""
    personal: dict[int, list[int]]
    """User code → the served list re-ranked by ``type=personal`` (item codes)."""
    personalized: int
    """How many of those users had a vector (the others got the global order)."""
    embed: dict[str, Any] = field(default_factory=dict)
    """The embeddings asset's metadata (model, chosen parameters, ...)."""
    seconds: dict[str, float] = field(default_factory=dict)


def split_instant(data: Dataset, rows: Sequence[int]) -> float:
    """The instant the pipeline runs at: just after the last training row."""
    if data.time is None:
        return NO_TIME_SPLIT
    return float(data.time[list(rows)].max()) + 1.0


def _ts(epoch: float) -> str:
    from hot.landing import format_ts

    return format_ts(datetime.fromtimestamp(epoch, UTC))


def _dump(obj: dict[str, Any]) -> bytes:
    return orjson.dumps(obj)


def _catalogue(data: Dataset, published: str) -> dict[str, Iterator[bytes]]:
    """Landing lines of creators, videos and moderation: one approved video per item."""
    codes = range(data.n_items)
    return {
        "creators": (
            _dump({"creator_id": f"c{i}", "name": f"creator {i}", "avatar_url": ""}) for i in codes
        ),
        "videos": (
            _dump(
                {
                    "video_id": f"v{i}",
                    "title": str(data.item_names[i])[:200] or f"item {i}",
                    "thumbnail_url": "",
                    "creator_id": f"c{i}",
                    "published_at": published,
                }
            )
            for i in codes
        ),
        "moderation": (
            _dump({"video_id": f"v{i}", "status": "approved", "decided_at": published})
            for i in codes
        ),
    }


def _events(data: Dataset, rows: Sequence[int], split: float) -> Iterator[bytes]:
    """One ``watch`` event per training row (module docstring)."""
    top = float(data.weight[list(rows)].max()) if len(rows) else 1.0
    scale = min(1.0, WATCH_CAP_MIN / top)
    for row in rows:
        at = split - 3600.0 if data.time is None else float(data.time[row])
        yield _dump(
            {
                "event_id": f"e{row}",
                "type": "watch",
                "video_id": f"v{data.items[row]}",
                "user_id": f"u{data.users[row]}",
                "occurred_at": _ts(at),
                "watch_time_sec": round(60.0 * float(data.weight[row]) * scale, 3),
            }
        )


def _chunks(lines: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def write_landing(landing: Path, data: Dataset, rows: Sequence[int], split: float) -> int:
    """The catalogue and the training events as landing files; returns the events written."""
    from hot.landing import write_atomic

    published = _ts((float(data.time.min()) if data.time is not None else split - 3600.0) - 86400.0)
    for source, lines in _catalogue(data, published).items():
        write_atomic(landing / source, f"{0:020d}-catalogue.jsonl", lines)
    # Rows in time order, so file names (the ingest order) follow event time.
    ordered = sorted(rows, key=lambda r: (0.0 if data.time is None else data.time[r], r))
    written = 0
    for n, chunk in enumerate(_chunks(_events(data, ordered, split), EVENTS_PER_FILE)):
        write_atomic(landing / "events", f"{n + 1:020d}-events.jsonl", chunk)
        written += len(chunk)
    return written


async def _personal_orders(users: Sequence[int]) -> tuple[list[str], dict[int, list[str]], int]:
    """The served list (video ids) and each user's ``type=personal`` order of it."""
    from hot import keys
    from hot.settings import get_settings
    from serving.core.auth import Principal
    from serving.domain.feed.services.personal import PersonalReranker
    from serving.domain.feed.services.snapshots import load_snapshot
    from serving.domain.feed.services.view import FeedView

    settings = get_settings()
    redis = Redis.from_url(settings.redis_url or "")
    snapshot_id = (await redis.get(keys.CURRENT)).decode()
    snapshot = await load_snapshot(redis, snapshot_id)
    await redis.aclose()
    assert snapshot is not None
    view = FeedView(snapshot, 0, frozenset(), settings.creator_cap)
    ids = [e.video_id for e in view.entries]
    reranker = PersonalReranker(settings)
    orders: dict[int, list[str]] = {}
    personalized = 0
    try:
        # Batches of concurrent requests, as a busy API sees them (one LanceDB read per batch).
        for start in range(0, len(users), 256):
            batch = users[start : start + 256]
            rankings = await asyncio.gather(
                *(reranker.rerank(Principal(f"u{u}", frozenset(), {}), view) for u in batch)
            )
            for user, ranking in zip(batch, rankings, strict=True):
                personalized += ranking.personalized
                order = ranking.order
                orders[user] = [ids[i] for i in order] if order is not None else ids
    finally:
        await reranker.aclose()
    return ids, orders, personalized


def replay(
    data: Dataset, rows: Sequence[int], users: Sequence[int], workdir: Path, log: bool = True
) -> Replayed:
    """Run the pipeline and the embeddings asset on ``rows``; rank for ``users``."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    from dagster_project.runner import run_embed, run_pipeline
    from hot.local.deployment import deployment
    from hot.local.redis_server import EmbeddedRedis

    seconds: dict[str, float] = {}
    split = split_instant(data, rows)
    server = EmbeddedRedis(workdir / "redis", persist=False).start()
    try:
        with deployment(workdir, server.url) as landing:
            t0 = time.perf_counter()
            events = write_landing(landing, data, rows, split)
            seconds["landing"] = time.perf_counter() - t0
            if log:
                print(f"  replay: {events} events; hot run --now {split:.0f}", flush=True)
            t0 = time.perf_counter()
            result = run_pipeline(now_epoch=split, quiet=True)
            seconds["hot_run"] = time.perf_counter() - t0
            if not result.success:
                raise RuntimeError(f"hot run failed: {result.error}")
            t0 = time.perf_counter()
            embed = run_embed(quiet=True)
            seconds["hot_embed"] = time.perf_counter() - t0
            if not embed.success:
                raise RuntimeError(f"hot embed failed: {embed.error}")
            meta = {k: _plain(v) for k, v in dict(embed.metadata).items()}
            if log:
                print(
                    f"  hot run {seconds['hot_run']:.1f} s, hot embed {seconds['hot_embed']:.1f} s",
                    flush=True,
                )
            t0 = time.perf_counter()
            ids, orders, personalized = asyncio.run(_personal_orders(list(users)))
            seconds["personal_rank"] = time.perf_counter() - t0
    finally:
        server.stop()
    code = {f"v{i}": i for i in range(data.n_items)}
    return Replayed(
        candidates=[code[v] for v in ids],
        personal={u: [code[v] for v in order] for u, order in orders.items()},
        personalized=personalized,
        embed=meta,
        seconds=seconds,
    )


def _plain(value: Any) -> Any:
    """A metadata value as JSON can hold it (Dagster wraps some in metadata objects)."""
    inner = getattr(value, "value", value)
    if isinstance(inner, str | int | float | bool) or inner is None:
        return inner
    try:
        return orjson.loads(orjson.dumps(inner, option=orjson.OPT_SERIALIZE_NUMPY))
    except TypeError:
        return str(inner)
