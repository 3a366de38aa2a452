"""``type=personal``: the served candidates re-ranked for the token's ``sub`` (LanceDB).

The score is :mod:`hot.personal_scoring`'s — the one the embeddings job's check measured —
with the params recorded with the embeddings version (``meta_<version>``: blend with hotness,
cosine or dot product, hot normalisation; ``HOT_PERSONAL_BLEND`` overrides the blend;
versions without a record get :data:`hot.personal_scoring.DEFAULT_SCORING`), times
``HOT_PERSONAL_DEMOTE_WATCHED`` for videos the user already watched heavily; a candidate
without a vector has a dot product of 0. Order: score descending, ties by ``videoId``. A user
without a vector keeps the global order with ``personalized: false``.

The candidates are the view's entries — takedowns out and the per-creator cap already
applied by :class:`.FeedView` — so the personal order is a permutation of a
capped list: caps hold, pages never overlap or skip, ``total`` is the same as global.

Caches (per worker process), so that a request costs one user lookup (usually cached), one
matrix-vector product and a partial sort:

- the embeddings version: ``keys.EMBEDDINGS_VERSION`` re-read at most every
  ``POINTER_TTL_SEC``, in the background (requests keep the last known version meanwhile);
- per version: its tables and scoring params (read once);
- per (snapshot, takedown version, embeddings version): the candidates' vectors as one
  ``n x d`` matrix in ``videoId`` order, prepared for the version's params, and their hot
  term, read from LanceDB once (one ``id IN (...)`` query);
- per (embeddings version, user): the user's prepared vector and watched list (or "no
  vector"), an LRU with a ``USER_TTL_SEC`` TTL. Misses are batched: the users missed during
  one event-loop turn are read with one indexed ``id IN (...)`` query (a version flip makes
  every active user miss at once).

A request resolves the version once and uses it for both the matrix and the user vector,
so a flip in the middle of a request never mixes versions; the previous version's tables
stay on disk until two more versions are published. LanceDB is read through its async API
(no event-loop blocking); concurrent misses of one key share one read. Any failure of the
embeddings store degrades to the global order (``personalized: false``), never an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import lancedb
import numpy as np
from lancedb.expr import col

from hot import keys, personal_scoring
from hot.embedding_store import (
    USERS_PREFIX,
    meta_table,
    parse_record,
    users_table,
    vector_matrix,
    videos_table,
)
from hot.personal_scoring import ScoringParams
from hot.settings import Settings
from serving.core.auth import Principal
from serving.core.redis_client import AsyncRedis, close_redis, create_redis, resolve_redis_url
from serving.domain.feed.services.ranking import GLOBAL_RANKING, Ranking
from serving.domain.feed.services.reranking import GlobalOrder, Reranker
from serving.domain.feed.services.view import FeedView

log = logging.getLogger("serving")
T = TypeVar("T")

POINTER_TTL_SEC = 1.0
"""How long the embeddings version read from Redis is used before it is re-read."""
USER_TTL_SEC = 60.0
"""How long a user's vector (or its absence) is cached (entries are per version, which is
immutable: the TTL only bounds how long a quiet user's entry holds memory)."""
USER_CACHE_SIZE = 50_000
CANDIDATE_CACHE_SIZE = 8
RANKING_CACHE_SIZE = 4_096
"""Users whose order of the current candidates is kept (~8 KB each for 1,000 candidates): a
user paging or refreshing within one snapshot and embeddings version is scored once."""
LOG_EVERY_SEC = 10.0
"""At most one warning per this many seconds while the embeddings store fails."""


@dataclass(frozen=True, slots=True)
class Version:
    """One embeddings version opened: its tables and the params it is served with."""

    videos: Any
    users: Any
    scoring: ScoringParams


@dataclass(frozen=True, slots=True)
class Candidates:
    """One view's candidates under one embeddings version, ready for a matrix product;
    rows in ``videoId`` order (:mod:`hot.personal_scoring`'s convention)."""

    matrix: np.ndarray
    """``n x d`` float32, prepared for the version's params (zero rows: no vector)."""
    hot: np.ndarray
    """The hot term of each row (:func:`hot.personal_scoring.normalised_hot`)."""
    positions: np.ndarray
    """Row → the candidate's position in the view."""
    index: dict[str, int]
    """Video id → row."""
    blend: float


@dataclass(frozen=True, slots=True)
class UserVector:
    """A user's prepared vector and the videos they already watched heavily."""

    vector: np.ndarray
    watched: tuple[str, ...]


def blended_scores(candidates: Candidates, user: UserVector, demote: float) -> np.ndarray:
    """The served score of each row (:func:`hot.personal_scoring.scores`), the user's
    watched videos multiplied by ``demote``."""
    scores = personal_scoring.scores(
        candidates.matrix, candidates.hot, user.vector, candidates.blend
    )
    rows = [candidates.index[v] for v in user.watched if v in candidates.index]
    if rows:
        scores[rows] *= demote
    return scores


class BlendedOrder(Sequence[int]):
    """View positions by score descending, ties by ``videoId`` — sorted only as far as
    asked: a page of 20 out of 1,000 candidates costs a partition, not a full sort."""

    __slots__ = ("_positions", "_scores", "_top_cache")

    def __init__(self, scores: np.ndarray, positions: np.ndarray) -> None:
        self._scores = scores
        self._positions = positions
        self._top_cache: list[int] = []

    def __len__(self) -> int:
        return len(self._scores)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            _, stop, step = index.indices(len(self))
            return self._top(stop if step > 0 else len(self))[index]
        position = range(len(self))[index]
        return self._top(position + 1)[position]

    def __iter__(self) -> Iterator[int]:
        return iter(self._top(len(self)))

    def _top(self, k: int) -> list[int]:
        """The first ``k`` view positions of the order (the longest prefix asked for so far
        is kept: the next page of a cached order is a slice, or one more partition)."""
        if k > len(self._top_cache):
            self._top_cache = self._positions[personal_scoring.top_k(self._scores, k)].tolist()
        return self._top_cache[:k]


class PersonalReranker:
    """The :class:`.Reranker` of ``type=personal`` over LanceDB."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._redis: AsyncRedis | None = None
        self._db: lancedb.AsyncConnection | None = None
        self._tables: OrderedDict[str, Version] = OrderedDict()
        self._version: str | None = None
        self._version_expires = float("-inf")
        self._version_task: asyncio.Task[None] | None = None
        self._candidates: OrderedDict[Hashable, Candidates] = OrderedDict()
        self._users: OrderedDict[Hashable, tuple[float, UserVector | None]] = OrderedDict()
        self._rankings: OrderedDict[Hashable, Ranking] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}
        self._user_batches: dict[str, dict[str, asyncio.Future[UserVector | None]]] = {}
        self._flushes: set[asyncio.Task[None]] = set()
        self._last_warning = float("-inf")

    async def rerank(self, principal: Principal, view: FeedView) -> Ranking:
        """The personal order of ``view`` for ``principal.sub`` (global if no vector)."""
        if not view.entries:
            return GLOBAL_RANKING
        try:
            version = await self._current_version()
            if version is None:
                return GLOBAL_RANKING
            candidates = await self._load_candidates(view, version)
            user = await self._load_user(version, principal.sub)
        except Exception as exc:  # the store failing must only cost the personalisation
            self._warn(f"personal ranking unavailable, serving the global order: {exc!r}")
            return GLOBAL_RANKING
        if user is None:
            return GLOBAL_RANKING
        # A version's vectors are immutable, so a user's order depends only on these.
        key = (view.snapshot_id, view.takedown_version, version, principal.sub)
        cached = self._rankings.get(key)
        if cached is not None:
            self._rankings.move_to_end(key)
            return cached
        scores = blended_scores(candidates, user, self._settings.personal_demote_watched)
        ranked = Ranking(
            order=BlendedOrder(scores, candidates.positions),
            personalized=True,
            cache_key=f"{version}:{principal.sub}",
            pages={},
        )
        self._rankings[key] = ranked
        while len(self._rankings) > RANKING_CACHE_SIZE:
            self._rankings.popitem(last=False)
        return ranked

    async def aclose(self) -> None:
        """Stop the background reads, close Redis and LanceDB (app shutdown)."""
        tasks = [*self._flushes, *([self._version_task] if self._version_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._redis is not None:
            await close_redis(self._redis)
        if self._db is not None:
            self._db.close()

    def _warn(self, message: str) -> None:
        now = self._clock()
        if now - self._last_warning >= LOG_EVERY_SEC:
            self._last_warning = now
            log.warning(message)

    async def _current_version(self) -> str | None:
        if self._clock() >= self._version_expires and self._version_task is None:
            task = asyncio.get_running_loop().create_task(self._read_version())
            self._version_task = task
        if self._version_expires == float("-inf") and self._version_task is not None:
            await asyncio.shield(self._version_task)  # first use: nothing to serve meanwhile
        return self._version

    async def _read_version(self) -> None:
        try:
            if self._redis is None:
                url = resolve_redis_url(self._settings)
                self._redis = create_redis(url, cluster=self._settings.redis_cluster)
            raw = await self._redis.get(keys.EMBEDDINGS_VERSION)
            self._version = raw.decode() if raw else None
        except Exception as exc:  # keep the last known version while Redis is away
            self._warn(f"cannot read {keys.EMBEDDINGS_VERSION}: {exc!r}")
        finally:
            self._version_expires = self._clock() + POINTER_TTL_SEC
            self._version_task = None

    async def _shared(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """``load()`` once for concurrent callers of the same ``key``."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(load())
            self._inflight[key] = future
            future.add_done_callback(lambda f: self._settled(key, f))
        return await asyncio.shield(future)

    def _settled(self, key: Hashable, future: asyncio.Future[Any]) -> None:
        self._inflight.pop(key, None)
        if not future.cancelled():
            future.exception()  # mark retrieved: the waiters may all have gone

    async def _open(self, version: str) -> Version:
        opened = self._tables.get(version)
        if opened is None:
            if self._db is None:
                self._db = await lancedb.connect_async(str(self._settings.lancedb_dir))
            opened = Version(
                videos=await self._db.open_table(videos_table(version)),
                users=await self._db.open_table(users_table(version)),
                scoring=(await self._read_scoring(version)).with_blend(
                    self._settings.personal_blend
                ),
            )
            self._tables[version] = opened
            while len(self._tables) > 3:
                self._tables.popitem(last=False)
        return opened

    async def _read_scoring(self, version: str) -> ScoringParams:
        """The params recorded with ``version`` (defaults for a version without a record)."""
        assert self._db is not None
        try:
            meta = await self._db.open_table(meta_table(version))
        except ValueError:  # not found: a version written before records existed
            return personal_scoring.DEFAULT_SCORING
        record = parse_record(await meta.to_arrow())
        return ScoringParams.from_mapping(record.get("params", {}).get("scoring", {}))

    async def _load_candidates(self, view: FeedView, version: str) -> Candidates:
        key = ("candidates", view.snapshot_id, view.takedown_version, version)
        cached = self._candidates.get(key)
        if cached is not None:
            return cached
        candidates = await self._shared(key, lambda: self._read_candidates(view, version))
        self._candidates[key] = candidates
        while len(self._candidates) > CANDIDATE_CACHE_SIZE:
            self._candidates.popitem(last=False)
        return candidates

    async def _read_candidates(self, view: FeedView, version: str) -> Candidates:
        opened = await self._open(version)
        ids = [e.video_id for e in view.entries]
        query = opened.videos.query().where(col("id").isin(ids)).select(["id", "vector"])
        found = await query.to_arrow()
        positions = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
        index = {ids[position]: row for row, position in enumerate(positions.tolist())}
        vectors = vector_matrix(found)
        matrix = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
        if found.num_rows:
            matrix[[index[v] for v in found["id"].to_pylist()]] = vectors
        hot = np.array([view.entries[p].score for p in positions.tolist()], dtype=np.float64)
        return Candidates(
            matrix=personal_scoring.prepare_vectors(matrix, opened.scoring),
            hot=personal_scoring.normalised_hot(hot, opened.scoring),
            positions=positions,
            index=index,
            blend=opened.scoring.blend,
        )

    async def _load_user(self, version: str, user_id: str) -> UserVector | None:
        key = ("user", version, user_id)
        now = self._clock()
        cached = self._users.get(key)
        if cached is not None and cached[0] > now:
            self._users.move_to_end(key)
            return cached[1]
        user = await asyncio.shield(self._enqueue_user(version, user_id))
        self._users[key] = (now + USER_TTL_SEC, user)
        self._users.move_to_end(key)
        while len(self._users) > USER_CACHE_SIZE:
            self._users.popitem(last=False)
        return user

    def _enqueue_user(self, version: str, user_id: str) -> asyncio.Future[UserVector | None]:
        batch = self._user_batches.get(version)
        if batch is None:
            batch = self._user_batches[version] = {}
            task = asyncio.get_running_loop().create_task(self._flush_users(version))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        future = batch.get(user_id)
        if future is None:
            future = batch[user_id] = asyncio.get_running_loop().create_future()
        return future

    async def _flush_users(self, version: str) -> None:
        await asyncio.sleep(0)  # the misses of this loop turn join the batch
        batch = self._user_batches.pop(version)
        try:
            found = await self._read_users(version, list(batch))
        except Exception as exc:
            for future in batch.values():
                future.set_exception(exc)
                future.exception()  # mark retrieved: the waiters may all have gone
        else:
            for user_id, future in batch.items():
                future.set_result(found.get(user_id))

    async def _read_users(self, version: str, user_ids: list[str]) -> dict[str, UserVector]:
        opened = await self._open(version)
        found = await (
            opened.users.query()
            .where(col("id").isin(user_ids))
            .select(["id", "vector", "watched"])
            .to_arrow()
        )
        vectors = personal_scoring.prepare_vectors(vector_matrix(found), opened.scoring)
        return {
            user_id: UserVector(vector=vector, watched=tuple(watched or ()))
            for user_id, vector, watched in zip(
                found["id"].to_pylist(), vectors, found["watched"].to_pylist(), strict=True
            )
            if vector.any()
        }


def has_embeddings(lancedb_dir: Path) -> bool:
    """Whether an embeddings version was ever written under ``lancedb_dir``."""
    return lancedb_dir.is_dir() and any(lancedb_dir.glob(f"{USERS_PREFIX}*.lance"))


def default_reranker(settings: Settings) -> Reranker:
    """:class:`PersonalReranker` when LanceDB holds embeddings, else the global order."""
    if has_embeddings(settings.lancedb_dir):
        return PersonalReranker(settings)
    return GlobalOrder()
