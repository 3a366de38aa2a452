"""The in-process feed cache: one cheap Redis round trip per request, the rest from memory.

Per request, :meth:`FeedCache.current` (or :meth:`FeedCache.pinned`) reads the current
snapshot id (or whether a pinned one still exists) and the takedown version — one MGET or
one pipeline, shared by all requests that arrive during the previous round trip (see
:mod:`.coalesce`). Everything that depends only on (snapshot, takedown version) —
loading, decoding, ranking, capping, encoding — is a :class:`.FeedView` built
once and cached.

Redis trouble is not an outage (SPEC §5): when Redis is unreachable, or answers but has lost
the snapshot's keys (a restart without persistence, a failover to an empty replica), the view
held in memory is served, marked stale, for ``stale_serve_sec`` after Redis last confirmed that
snapshot; Redis is retried at most every ``REDIS_RETRY_SEC`` meanwhile, so recovery needs no
restart. A pinned snapshot that is gone is *expired* (410) only when ``retain`` newer snapshots
were published after it; fewer ids in ``keys.SNAPSHOTS`` mean Redis lost its history, and a
view still held is served stale like the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from hot import keys
from serving.core.redis_client import REDIS_ERRORS, AsyncRedis, transaction
from serving.domain.feed.services.coalesce import FreshReads
from serving.domain.feed.services.snapshots import LoadedSnapshot, load_snapshot
from serving.domain.feed.services.view import FeedView

log = logging.getLogger("serving")
T = TypeVar("T")

REDIS_DEADLINE_SEC = 1.0
"""Upper bound of any one Redis call made while serving (on top of socket timeouts)."""
REDIS_RETRY_SEC = 1.0
"""After a Redis failure, requests do not touch Redis for this long (served stale/503)."""


class FeedError(Exception):
    """The feed cannot be served as asked."""


class NoSnapshot(FeedError):
    """No snapshot has been published (or the current one is unreadable)."""


class SnapshotExpired(FeedError):
    """The pinned snapshot is no longer retained."""


class FeedUnavailable(FeedError):
    """Redis cannot be reached and nothing fresh enough is held in memory."""


@dataclass(frozen=True, slots=True)
class Served:
    """A view to serve; ``stale_sec`` > 0 when it comes from memory, unconfirmed that long."""

    view: FeedView
    stale_sec: float = 0.0
    reason: str = ""

    @property
    def stale(self) -> bool:
        """Whether Redis could not confirm the snapshot for this answer."""
        return bool(self.reason)


_State = tuple[str | None, int, int]
"""(snapshot id if present, ids in ``keys.SNAPSHOTS`` (pinned reads only), takedown version)."""


class FeedCache:
    """Snapshot views cached per (snapshot id, takedown version), kept fresh per request."""

    def __init__(
        self,
        redis: AsyncRedis,
        *,
        creator_cap: int,
        stale_serve_sec: float,
        retain: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis_client = redis
        self._cap = creator_cap
        self._stale_sec = stale_serve_sec
        self._retained = max(retain, 1)
        self._retain = self._retained + 1
        self._clock = clock
        self._probe: FreshReads[str | None, _State] = FreshReads(self._read_state)
        self._views: OrderedDict[tuple[str, int], FeedView] = OrderedDict()
        self._latest: dict[str, FeedView] = {}
        self._snapshots: OrderedDict[str, LoadedSnapshot] = OrderedDict()
        self._builds: dict[tuple[str, int], asyncio.Task[FeedView | None]] = {}
        self._current: FeedView | None = None
        self._fresh_served: Served | None = None
        self._confirmed_at: dict[str, float] = {}
        self._last_ok = float("-inf")
        self._down_until = float("-inf")

    @property
    def last_current(self) -> FeedView | None:
        """The view most recently served as current (None before the first)."""
        return self._current

    async def current(self) -> Served:
        """The current snapshot's view; raises NoSnapshot or FeedUnavailable."""
        try:
            snapshot_id, _, version = await self._probe.read(None)
            # A view already built is taken without a coroutine: the path of nearly every
            # request.
            view = self._views.get((snapshot_id, version)) if snapshot_id else None
            if view is None and snapshot_id:
                view = await self._view(snapshot_id, version)
        except FeedUnavailable:
            return self._stale(self._current, "redis is unreachable")
        if view is None:
            if self._current is not None:
                return self._stale(self._current, "redis has lost the snapshot")
            raise NoSnapshot("no snapshot has been published yet")
        self._current = view
        return self._fresh(view)

    async def pinned(self, snapshot_id: str) -> Served:
        """A retained snapshot's view; raises SnapshotExpired or FeedUnavailable."""
        held = self._latest.get(snapshot_id)
        try:
            exists, retained, version = await self._probe.read(snapshot_id)
            view = await self._view(snapshot_id, version) if exists else None
        except FeedUnavailable:
            return self._stale(held, "redis is unreachable")
        if view is None:
            if held is not None and retained < self._retained:
                with contextlib.suppress(FeedUnavailable):
                    return self._stale(held, "redis has lost the snapshot")
            self._forget(snapshot_id)
            raise SnapshotExpired(f"snapshot {snapshot_id} is no longer retained")
        return self._fresh(view)

    async def close(self) -> None:
        """Stop the reads and builds in flight."""
        await self._probe.close()
        for task in list(self._builds.values()):
            task.cancel()
        await asyncio.gather(*self._builds.values(), return_exceptions=True)

    def _fresh(self, view: FeedView) -> Served:
        self._confirmed_at[view.snapshot_id] = self._clock()
        served = self._fresh_served
        if served is None or served.view is not view:
            # Immutable and the same for every request of a view: built once per view.
            served = self._fresh_served = Served(view)
        return served

    def _stale(self, view: FeedView | None, reason: str) -> Served:
        """``view`` from memory while it is young enough; FeedUnavailable after that."""
        confirmed = self._confirmed_at.get(view.snapshot_id) if view is not None else None
        if view is None or confirmed is None:
            raise FeedUnavailable(f"{reason} and no snapshot is held")
        age = self._clock() - confirmed
        if age > self._stale_sec:
            raise FeedUnavailable(f"{reason} for longer than the stale window")
        return Served(view, stale_sec=age, reason=reason)

    async def _redis(self, call: Callable[[], Awaitable[T]]) -> T:
        if self._clock() < self._down_until:
            raise FeedUnavailable("the feed store is unreachable (backing off)")
        try:
            async with asyncio.timeout(REDIS_DEADLINE_SEC):
                result = await call()
        except (*REDIS_ERRORS, OSError, TimeoutError) as exc:
            if self._down_until <= self._last_ok:
                log.warning("redis unreachable, serving from memory: %r", exc)
            self._down_until = self._clock() + REDIS_RETRY_SEC
            raise FeedUnavailable("the feed store is unreachable") from exc
        if self._down_until > self._last_ok:
            log.warning("redis reachable again")
        self._last_ok = self._clock()
        return result

    async def _read_state(self, snapshot_id: str | None) -> _State:
        redis = self._redis_client
        if snapshot_id is None:
            current, version = await self._redis(
                lambda: redis.mget(keys.CURRENT, keys.TAKEDOWNS_VERSION)
            )
            return (current.decode() if current else None), 0, int(version or 0)
        pipe = redis.pipeline(transaction=False)
        pipe.exists(keys.snapshot_meta(snapshot_id))
        pipe.llen(keys.SNAPSHOTS)
        pipe.get(keys.TAKEDOWNS_VERSION)
        exists, retained, version = await self._redis(pipe.execute)
        return (snapshot_id if exists else None), int(retained), int(version or 0)

    async def _view(self, snapshot_id: str, version: int) -> FeedView | None:
        key = (snapshot_id, version)
        view = self._views.get(key)
        if view is not None:
            return view
        task = self._builds.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._build(snapshot_id))
            self._builds[key] = task
            task.add_done_callback(lambda t: self._build_done(key, t))
        return await asyncio.shield(task)

    def _build_done(self, key: tuple[str, int], task: asyncio.Task[FeedView | None]) -> None:
        self._builds.pop(key, None)
        if not task.cancelled():
            task.exception()  # mark retrieved: the waiters may all have gone

    async def _build(self, snapshot_id: str) -> FeedView | None:
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None:
            snapshot = await self._redis(lambda: load_snapshot(self._redis_client, snapshot_id))
            if snapshot is None:
                return None
            self._remember(self._snapshots, snapshot_id, snapshot)
        version, takedowns = await self._redis(self._read_takedowns)
        view = self._views.get((snapshot_id, version))
        if view is None:
            view = FeedView(snapshot, version, takedowns, self._cap)
            self._remember(self._views, (snapshot_id, version), view, factor=2)
        self._latest[snapshot_id] = view
        return view

    async def _read_takedowns(self) -> tuple[int, frozenset[str]]:
        pipe = await transaction(self._redis_client)
        pipe.get(keys.TAKEDOWNS_VERSION)
        pipe.smembers(keys.TAKEDOWNS)
        version, members = await pipe.execute()
        return int(version or 0), frozenset(m.decode() for m in members)

    def _remember(self, cache: OrderedDict, key: object, value: object, factor: int = 1) -> None:
        cache[key] = value
        while len(cache) > self._retain * factor:
            evicted = cache.popitem(last=False)[0]
            if cache is self._snapshots:
                self._latest.pop(evicted, None)  # type: ignore[arg-type]
                self._confirmed_at.pop(evicted, None)  # type: ignore[arg-type]

    def _forget(self, snapshot_id: str) -> None:
        self._snapshots.pop(snapshot_id, None)
        self._latest.pop(snapshot_id, None)
        self._confirmed_at.pop(snapshot_id, None)
        for key in [k for k in self._views if k[0] == snapshot_id]:
            del self._views[key]
