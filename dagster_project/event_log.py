"""Dagster's SQLite event log, tuned for a pass that logs a few hundred events.

A pass plans and reports one event per model and per dbt test (~250 in all), and the stock
``SqliteEventLogStorage`` opens a new SQLite engine and connection for each write (the first
connect of an engine also inspects the database), commits with a full ``fsync`` and closes it
again; closing the last connection of a WAL database checkpoints it. That was most of a small
pass's run setup and about a second of each pass's Python. This storage keeps one connection
open per database it writes: the cross-run index shard for the life of the process, and the
run shards of the last few runs it wrote. It writes with ``synchronous=NORMAL`` (WAL: durable
across a crash of the process; a power cut may lose the last events, never corrupt the file).

The webserver follows a live run by watching its run shard's file change (watchdog, inotify).
With the connection kept open, a commit lands in the ``-wal`` file and the shard's own file is
only rewritten at a checkpoint, so after each write the shard's modification time is bumped:
the watcher wakes and reads the new events from the WAL, as readers of a WAL database do.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import suppress
from typing import Any

import sqlalchemy as db
from dagster import EventLogEntry, Field, StringSource
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool

from dagster_project._dagster_internals import (
    INDEX_SHARD_NAME,
    ConfigurableClassData,
    EngineChoosingSqliteEventLog,
    SqliteEventLogStorage,
    UserConfigSchema,
)
from hot.settings import get_settings

SQLITE_BUSY_TIMEOUT_SECONDS = 30
RUN_SHARDS_KEPT_OPEN = 2
"""Run shards whose connection stays open: the run being written (a run process writes one;
a benchmark or a test runs several passes in one process, and older ones are closed)."""


def _normal_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class PassEventLogStorage(EngineChoosingSqliteEventLog):
    """``SqliteEventLogStorage`` with a kept-open index connection and WAL ``NORMAL`` sync.

    The event log of the SQLite storage (:func:`dagster_project.storage.sqlite_storage`); same
    files, same schema, interchangeable with the stock storage, which ``HOT_STOCK_INTERNALS=1``
    gives instead. PostgreSQL (``HOT_DAGSTER_PG_URL``) has no shard files: it is not used there.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # Set before the stock constructor, which may already write to the index shard.
        self._index_engine: Engine | None = None
        self._run_engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        """``base_dir`` is optional: by default the stock layout under ``$DAGSTER_HOME``."""
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> SqliteEventLogStorage:
        """Build from a ``config`` block (none needed): this storage, or the stock one on the
        same files with ``HOT_STOCK_INTERNALS=1``."""
        base_dir = config_value.get("base_dir") or os.path.join(
            os.environ["DAGSTER_HOME"], "history", "runs"
        )
        if get_settings().stock_internals:
            return SqliteEventLogStorage(base_dir=base_dir, inst_data=inst_data)
        return cls(base_dir=base_dir, inst_data=inst_data)

    def _kept_open_engine(self, shard: str) -> Engine:
        # One connection, shared by the threads the storage's lock takes turns.
        engine = db.create_engine(
            self.conn_string_for_shard(shard),
            poolclass=StaticPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _normal_sync)
        return engine

    def engine_for(self, shard: str) -> Engine:
        """The kept-open engine of ``shard`` (called under the storage's lock)."""
        if shard == INDEX_SHARD_NAME:
            if self._index_engine is None:
                self._index_engine = self._kept_open_engine(shard)
            return self._index_engine
        engine = self._run_engines.pop(shard, None)
        if engine is None:
            engine = self._kept_open_engine(shard)
            while len(self._run_engines) >= RUN_SHARDS_KEPT_OPEN:
                self._run_engines.popitem(last=False)[1].dispose()
        self._run_engines[shard] = engine  # the most recently used last
        return engine

    def store_event(self, event: EventLogEntry) -> None:
        """Store as the stock storage does, then wake the watchers of the event's run."""
        super().store_event(event)
        self._touch_run_shard(event.run_id)

    def _touch_run_shard(self, run_id: str) -> None:
        # A commit on a kept-open WAL connection leaves the shard's own file as it was; the
        # watchers (``watch``: the webserver's live run view) wake on its inotify events.
        if run_id:
            with suppress(FileNotFoundError):  # a runless event has no shard file
                os.utime(self.path_for_shard(run_id))

    def wipe(self) -> None:
        """Close the kept-open run shards before the stock wipe deletes their files."""
        with self.storage_lock():
            self._close_run_engines()
        super().wipe()

    def _close_run_engines(self) -> None:
        while self._run_engines:
            self._run_engines.popitem()[1].dispose()

    def dispose(self) -> None:
        """Close the kept-open connections, then what the stock storage closes."""
        self._close_run_engines()
        if self._index_engine is not None:
            self._index_engine.dispose()
            self._index_engine = None
        super().dispose()
