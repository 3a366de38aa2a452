"""Dagster's internals the pipeline relies on, in one place: what Dagster has no public API for.

- A run launcher of our own (:mod:`dagster_project.launcher`): the base classes of a run
  launcher and of a class ``dagster.yaml`` names (``RunLauncher``, ``LaunchRunContext``,
  ``CheckRunHealthResult``, ``WorkerStatus``, ``ConfigurableClass``,
  ``ConfigurableClassData``), the instance a launcher is registered with, and the serialized
  arguments and entry point of ``dagster api execute_run`` (``ExecuteRunArgs``,
  ``dagster._cli.api.api_cli``), which the warm run process runs (:mod:`dagster_project.warm_run`).
- An event log with kept-open connections (:mod:`dagster_project.event_log`): the stock
  ``SqliteEventLogStorage``, its index shard's name, and the one method it opens a shard's
  connection in (``_connect``, with its ``_db_lock``, ``_initialized_dbs`` and ``_initdb``):
  :class:`EngineChoosingSqliteEventLog` overrides that method and nothing else.
- The storage chosen per process (:mod:`dagster_project.storage`): a storage class
  ``dagster.yaml`` can name must subclass ``DagsterStorage``; its SQLite side is the stock
  ``SqliteRunStorage`` and ``SqliteScheduleStorage`` beside our event log, put together by
  ``CompositeStorage`` as Dagster does for separately configured storages. Its PostgreSQL side
  keeps connections open: dagster-postgres's storages connect anew for every statement
  (``NullPool``), and each of their engines is one attribute (``_engine``), replaced by
  :func:`keep_postgres_connections_open`.

Fallback: ``HOT_STOCK_INTERNALS=1`` makes the configured launcher and event log Dagster's stock
ones (``DefaultRunLauncher``, ``SqliteEventLogStorage``: same files, same schema).
tests/pipeline/test_internals_contract.py says in one line which of these an upgrade moved;
tests/cluster/postgres/test_dagster_storage.py that the PostgreSQL storages still connect
through ``_engine``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import DagsterInstance, DagsterRun, serialize_value
from dagster._config import UserConfigSchema
from dagster._core.launcher.base import (
    CheckRunHealthResult,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.legacy_storage import CompositeStorage
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "INDEX_SHARD_NAME",
    "CheckRunHealthResult",
    "CompositeStorage",
    "ConfigurableClass",
    "ConfigurableClassData",
    "DagsterStorage",
    "EngineChoosingSqliteEventLog",
    "LaunchRunContext",
    "RunLauncher",
    "SqliteEventLogStorage",
    "SqliteRunStorage",
    "SqliteScheduleStorage",
    "UserConfigSchema",
    "WorkerStatus",
    "execute_run",
    "execute_run_line",
    "keep_postgres_connections_open",
    "launcher_instance",
]


def keep_postgres_connections_open(storage: DagsterStorage, max_overflow: int) -> None:
    """Give dagster-postgres's run, event-log and schedule storages in ``storage`` an engine
    that keeps one connection open (and up to ``max_overflow`` more while threads overlap),
    each checked with a ping before use, so one lost in a server restart is replaced."""
    for part in (storage.run_storage, storage.event_log_storage, storage.schedule_storage):
        part._engine = create_engine(  # type: ignore[attr-defined]
            part.postgres_url,  # type: ignore[attr-defined]
            isolation_level="AUTOCOMMIT",
            pool_size=1,
            max_overflow=max_overflow,
            pool_pre_ping=True,
        )


def launcher_instance(launcher: RunLauncher) -> DagsterInstance:
    """The instance ``launcher`` was registered with (Dagster sets it after construction)."""
    return launcher._instance  # type: ignore[no-any-return]


def execute_run_line(run: DagsterRun, instance: DagsterInstance) -> bytes:
    """The one line ``dagster api execute_run`` takes for ``run``: its serialized arguments
    (exit code 1 when the run fails)."""
    args = ExecuteRunArgs(
        job_origin=run.job_code_origin,  # type: ignore[arg-type]
        run_id=run.run_id,
        instance_ref=instance.get_ref(),
        set_exit_code_on_failure=True,
    )
    return serialize_value(args).encode() + b"\n"


def execute_run(line: str) -> None:
    """Run ``dagster api execute_run <line>`` in this process (it exits with the run's code)."""
    from dagster._cli.api import api_cli

    api_cli.main(["execute_run", line], prog_name="dagster api")


class EngineChoosingSqliteEventLog(SqliteEventLogStorage):
    """The stock SQLite event log, but a subclass chooses the SQLAlchemy engine of each shard
    (:meth:`engine_for`); everything else (files, schema, queries, watchers) is stock."""

    def engine_for(self, shard: str) -> Engine:
        """The engine of ``shard``'s database (called under the storage's lock)."""
        raise NotImplementedError

    @contextmanager
    def storage_lock(self) -> Iterator[None]:
        """The lock the stock storage takes around each connection."""
        with self._db_lock:
            yield

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # The stock method creates an engine per call and disposes of it afterwards.
        with self._db_lock:
            engine = self.engine_for(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn
