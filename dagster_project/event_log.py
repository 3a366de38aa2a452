"""Dagster's SQLite event log, tuned for a pass that logs a few hundred events.

A pass plans and reports one event per model and per dbt test (~250 in all), and the stock
``SqliteEventLogStorage`` opens a new SQLite connection for each write, commits with a full
``fsync`` and closes it again; closing the last connection of a WAL database checkpoints it.
That was most of a small pass's run setup. This storage keeps one connection to the cross-run
index shard open for the life of the process and writes with ``synchronous=NORMAL`` (WAL:
durable across a crash of the process; a power cut may lose the last events, never corrupt
the file). Run shards keep the stock connect-per-write, because the webserver streams a live
run's logs by watching its database file change, and only a checkpoint (at close) changes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as db
from dagster import Field, StringSource
from dagster._config import UserConfigSchema
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool, StaticPool

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def _normal_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PassEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with a kept-open index connection and WAL ``NORMAL`` sync.

    Configured in ``dagster.yaml`` as ``event_log_storage`` (see
    :data:`dagster_project.runner.DAGSTER_YAML`); same files, same schema, interchangeable
    with the stock storage.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # Set before the stock constructor, which may already write to the index shard.
        self._index_engine: Engine | None = None
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        """``base_dir`` is optional: by default the stock layout under ``$DAGSTER_HOME``."""
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> PassEventLogStorage:
        """Build from the ``config`` block of ``dagster.yaml`` (none needed)."""
        base_dir = config_value.get("base_dir") or os.path.join(
            os.environ["DAGSTER_HOME"], "history", "runs"
        )
        return cls(base_dir=base_dir, inst_data=inst_data)

    def _engine(self, shard: str) -> Engine:
        # Called by ``_connect`` only, under its ``_db_lock``.
        if shard == INDEX_SHARD_NAME:
            if self._index_engine is None:
                # One connection, shared by the threads ``_db_lock`` takes turns.
                self._index_engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=StaticPool,
                    connect_args={
                        "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                        "check_same_thread": False,
                    },
                )
                db.event.listen(self._index_engine, "connect", _normal_sync)
            return self._index_engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=NullPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        db.event.listen(engine, "connect", _normal_sync)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn
            if shard != INDEX_SHARD_NAME:
                engine.dispose()

    def dispose(self) -> None:
        """Close the kept-open index connection, then what the stock storage closes."""
        if self._index_engine is not None:
            self._index_engine.dispose()
            self._index_engine = None
        super().dispose()
