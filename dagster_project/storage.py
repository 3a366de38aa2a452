"""Dagster's run, event-log and schedule storage: PostgreSQL when ``HOT_DAGSTER_PG_URL`` is
set (SPEC §9b, ``dagster-postgres``), else SQLite files under ``DAGSTER_HOME`` (the embedded
default, with the kept-open event log of :mod:`dagster_project.event_log`).

PostgreSQL's counterpart of that event log: dagster-postgres opens a new connection for every
statement (a new server process, and a SCRAM handshake: about 8 ms idle on loopback, far more
under load, a few hundred times a pass); here each storage keeps one open instead, pinged
before use so that a server restart costs a reconnect, not an error. ``HOT_STOCK_INTERNALS=1``
leaves dagster-postgres's own engines.

``dagster.yaml`` names :class:`HotStorage` whatever the setting, and each process that opens
the instance (the webserver, the daemon, a run's process, `hot run`) chooses from its own
environment. So a home's ``dagster.yaml`` never goes stale when the setting changes, and the
URL, a secret, is never written to it (nor into the instance reference a run's process is
handed: that holds this class's empty config).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import make_url

from dagster_project._dagster_internals import (
    CompositeStorage,
    ConfigurableClassData,
    DagsterStorage,
    SqliteRunStorage,
    SqliteScheduleStorage,
    UserConfigSchema,
    keep_postgres_connections_open,
)
from dagster_project.event_log import PassEventLogStorage
from hot.settings import get_settings

POOL_OVERFLOW = 8
"""Connections a process may open beyond the one it keeps, while its threads (the daemon's,
the webserver's) overlap; they are closed when given back."""


@contextmanager
def _creating(home: str) -> Iterator[None]:
    """Held while this process opens (and perhaps creates) the SQLite files under ``home``.

    ``dagster dev`` starts its webserver, daemon and code server at once; on a new home each
    would create the same databases and stamp their schema, and the loser of that race fails
    (alembic: "more than one head"). One at a time, the later ones find the files made."""
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".storage.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def sqlite_storage(home: str, inst_data: ConfigurableClassData | None) -> DagsterStorage:
    """Dagster's SQLite layout under ``home`` (the files and schema of its default storage),
    with the pass's event log."""
    with _creating(home):
        return CompositeStorage(
            run_storage=SqliteRunStorage.from_local(os.path.join(home, "history")),
            event_log_storage=PassEventLogStorage.from_config_value(None, {}),
            schedule_storage=SqliteScheduleStorage.from_local(os.path.join(home, "schedules")),
            inst_data=inst_data,
        )


def sqlalchemy_url(url: str) -> str:
    """``url`` with the driver dagster-postgres installs (psycopg2) where it names none:
    SQLAlchemy 2.1 takes a bare ``postgresql://`` for psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed.render_as_string(hide_password=False)


def postgres_storage(url: str, inst_data: ConfigurableClassData | None) -> DagsterStorage:
    """dagster-postgres's storage of all three in the database at ``url`` (its tables are
    created on first use)."""
    from dagster_postgres import DagsterPostgresStorage  # the `postgres` extra

    storage = DagsterPostgresStorage(postgres_url=sqlalchemy_url(url), inst_data=inst_data)
    if not get_settings().stock_internals:
        keep_postgres_connections_open(storage, max_overflow=POOL_OVERFLOW)
    return storage


class HotStorage(CompositeStorage):
    """The storage ``dagster.yaml`` names: PostgreSQL or SQLite, as ``HOT_DAGSTER_PG_URL`` says
    in the process that opens the instance."""

    @classmethod
    def config_type(cls) -> UserConfigSchema:
        """No settings: the choice comes from the environment."""
        return {}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> DagsterStorage:
        """The storage of this process's settings."""
        url = get_settings().dagster_pg_url
        if url:
            return postgres_storage(url, inst_data)
        return sqlite_storage(os.environ["DAGSTER_HOME"], inst_data)
