"""Versioned embeddings in LanceDB, published by flipping one Redis pointer.

A version ``V`` is LanceDB tables written in full before anyone reads them:
``videos_V`` (``id``, ``vector``), ``users_V`` (``id``, ``vector``, ``watched``; a BTree
index on ``id`` for point lookups) and ``meta_V`` (one row, ``record``: a JSON object — the
params the model was trained and is served with, its validation and check metrics; absent
for versions written before it existed). Version names sort by creation time. A version is
staged (written, not served) until it passes its check; publishing sets
the Redis pointer :data:`hot.keys.EMBEDDINGS_VERSION` to ``V`` — a
compare-and-set that never moves the pointer back to an older version — and only then
drops versions older than the ``VERSIONS_RETAINED`` newest up to ``V``; readers that
resolved the previous version keep reading its tables meanwhile.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import BTree

from hot import keys
from hot.redis_client import SyncRedis

VIDEOS_PREFIX = "videos_"
USERS_PREFIX = "users_"
META_PREFIX = "meta_"
PREFIXES = (VIDEOS_PREFIX, USERS_PREFIX, META_PREFIX)
VERSIONS_RETAINED = 3
"""Versions kept on disk: the current one and the two before it."""


@dataclass(frozen=True)
class EmbeddingSet:
    """Unit-free vectors of users and videos (rows aligned with the id lists)."""

    users: list[str]
    user_vectors: np.ndarray
    videos: list[str]
    video_vectors: np.ndarray
    watched: dict[str, list[str]]
    metadata: dict[str, Any]

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return int(self.video_vectors.shape[1])


def videos_table(version: str) -> str:
    """Name of the video vectors table of ``version``."""
    return VIDEOS_PREFIX + version


def users_table(version: str) -> str:
    """Name of the user vectors (and watched lists) table of ``version``."""
    return USERS_PREFIX + version


def meta_table(version: str) -> str:
    """Name of the one-row table of ``version``'s record (params and metrics, JSON)."""
    return META_PREFIX + version


def new_version(now: datetime | None = None) -> str:
    """A fresh version name: UTC time to the microsecond plus a random suffix (sortable)."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}_{secrets.token_hex(3)}"


def _vectors(matrix: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel())
    return pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])


def write_version(
    db_dir: Path, version: str, embeddings: EmbeddingSet, record: dict[str, Any] | None = None
) -> None:
    """Write the tables of ``version`` (fails if they exist: a version is immutable), with
    ``record`` (JSON-able: params, metrics) as its meta table; the meta table goes first, so
    a version with both vector tables always has its record."""
    db = lancedb.connect(str(db_dir))
    db.create_table(
        meta_table(version),
        pa.table({"record": pa.array([json.dumps(record or {}, sort_keys=True)], pa.string())}),
        mode="create",
    )
    videos = pa.table(
        {
            "id": pa.array(embeddings.videos, pa.string()),
            "vector": _vectors(embeddings.video_vectors),
        }
    )
    users = pa.table(
        {
            "id": pa.array(embeddings.users, pa.string()),
            "vector": _vectors(embeddings.user_vectors),
            "watched": pa.array(
                [embeddings.watched.get(u, []) for u in embeddings.users], pa.list_(pa.string())
            ),
        }
    )
    db.create_table(videos_table(version), videos, mode="create")
    table = db.create_table(users_table(version), users, mode="create")
    if embeddings.users:
        table.create_index("id", config=BTree())


def parse_record(table: pa.Table) -> dict[str, Any]:
    """The record of a meta table read as Arrow (``{}`` when empty)."""
    rows = table["record"].to_pylist() if table.num_rows else []
    return json.loads(rows[0]) if rows and rows[0] else {}


def read_record(db_dir: Path, version: str) -> dict[str, Any]:
    """The record stored with ``version`` (``{}`` for a version written without one)."""
    db = lancedb.connect(str(db_dir))
    try:
        table = db.open_table(meta_table(version))
    except (FileNotFoundError, ValueError):
        return {}
    return parse_record(table.to_arrow())


def load_version(db_dir: Path, version: str) -> EmbeddingSet:
    """The vectors of ``version`` (an imported model evaluated as it is served)."""
    db = lancedb.connect(str(db_dir))
    videos = db.open_table(videos_table(version)).to_arrow()
    users = db.open_table(users_table(version)).to_arrow()
    return EmbeddingSet(
        users=users["id"].to_pylist(),
        user_vectors=vector_matrix(users),
        videos=videos["id"].to_pylist(),
        video_vectors=vector_matrix(videos),
        watched={
            u: list(w or [])
            for u, w in zip(users["id"].to_pylist(), users["watched"].to_pylist(), strict=True)
        },
        metadata=read_record(db_dir, version),
    )


def vector_matrix(table: pa.Table) -> np.ndarray:
    """The ``vector`` column of a version's table as an ``n x d`` float32 matrix."""
    dim = int(table.schema.field("vector").type.list_size)
    flat = table["vector"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return flat.astype(np.float32).reshape(table.num_rows, dim)


def drop_version(db_dir: Path, version: str) -> None:
    """Drop every table of ``version`` (a staged version its check refused)."""
    db = lancedb.connect(str(db_dir))
    for prefix in PREFIXES:
        db.drop_table(prefix + version, ignore_missing=True)


def current_version(client: SyncRedis) -> str | None:
    """The version the API serves (``None`` before the first publication)."""
    raw = client.get(keys.EMBEDDINGS_VERSION)
    return raw.decode() if raw else None


def flip(client: SyncRedis, version: str) -> str | None:
    """Point ``keys.EMBEDDINGS_VERSION`` at ``version`` unless a newer one is already current.

    Returns the version it replaced. Raises :class:`StaleVersion` when a newer version was
    published meanwhile (a concurrent run), leaving the pointer as is.
    """

    def swap(pipe: Any) -> str | None:
        raw = pipe.get(keys.EMBEDDINGS_VERSION)
        previous = raw.decode() if raw else None
        if previous is not None and previous > version:
            raise StaleVersion(f"version {previous} is newer than {version}")
        pipe.multi()
        pipe.set(keys.EMBEDDINGS_VERSION, version)
        return previous

    # redis-py's transaction helper: WATCH the pointer, run swap, EXEC, again on a WatchError.
    return client.transaction(swap, keys.EMBEDDINGS_VERSION, value_from_callable=True)


class StaleVersion(RuntimeError):
    """A newer embeddings version was published while this one was being written."""


def versions(db_dir: Path) -> list[str]:
    """Versions with both tables on disk, oldest first."""
    db = lancedb.connect(str(db_dir))
    names = set(_table_names(db))
    found = {n[len(VIDEOS_PREFIX) :] for n in names if n.startswith(VIDEOS_PREFIX)}
    return sorted(v for v in found if users_table(v) in names)


def _table_names(db: lancedb.DBConnection) -> list[str]:
    names: list[str] = []
    token: str | None = None
    while True:
        page = db.list_tables(page_token=token)
        names.extend(page.tables)
        token = page.page_token
        if not token:
            return names


def prune(db_dir: Path, current: str, retain: int = VERSIONS_RETAINED) -> list[str]:
    """Drop the versions older than the ``retain`` newest up to ``current``; returns them.

    Versions newer than ``current`` (being written by a concurrent run) are left alone, and
    so are half-written ones (a table without its twin) newer than the oldest kept.
    """
    db = lancedb.connect(str(db_dir))
    names = _table_names(db)
    kept = [v for v in versions(db_dir) if v <= current][-retain:]
    if not kept:
        return []
    oldest = kept[0]
    dropped: set[str] = set()
    for name in names:
        for prefix in PREFIXES:
            if name.startswith(prefix) and name[len(prefix) :] < oldest:
                db.drop_table(name, ignore_missing=True)
                dropped.add(name[len(prefix) :])
    return sorted(dropped)
