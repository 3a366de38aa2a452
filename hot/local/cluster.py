"""The production topology of SPEC §9b on one machine, for `hot cluster` and the cluster tests:
a Spark standalone cluster with its Thrift Server, PostgreSQL for Dagster, Kafka brokers and a
Redis Cluster with replicas, each part in processes of its own, sharing only the network and
the data directory.

Every part offers the same small interface (:class:`Part`); :class:`LocalCluster` starts them
together, writes what a client needs (the ``env`` file) and what an operator needs (the
``pids`` file), brings back a process that died (:meth:`LocalCluster.due`,
:meth:`LocalCluster.restart`), and stops them all.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from hot.local.kafka_cluster import KafkaCluster
from hot.local.postgres import EmbeddedPostgres
from hot.local.processes import alive
from hot.local.redis_server import EmbeddedRedisCluster
from hot.local.spark_cluster import EmbeddedSparkCluster

RESTART_DELAY_SEC = 10.0
"""How long a part that died stays down before it is started again (as systemd's
``Restart=on-failure`` with ``RestartSec``). Longer than a Redis master takes to be replaced
by its replica and a Kafka broker to be fenced: the cluster heals around the loss first, and
what comes back joins as a replica, not as the master it was."""
REDIS_MASTERS = 3
REDIS_REPLICAS = 1
"""A replica per master (SPEC §9b)."""


class Part(Protocol):
    """What every part of the topology offers (Spark, PostgreSQL, Kafka, Redis)."""

    def start(self, timeout: float) -> object:
        """Start every process of the part; return once each answers."""

    def stop(self) -> None:
        """Stop every process of the part."""

    def pids(self) -> dict[str, int]:
        """The process id of each role (``kafka-1``, …) the part runs."""

    def env(self) -> dict[str, str]:
        """The ``HOT_*`` settings that point a client at the part."""

    def restart(self, role: str) -> None:
        """Start the stopped or killed ``role`` again."""


class LocalCluster:
    """The whole topology with its data under ``directory`` (``$HOT_DATA_DIR/cluster``)."""

    def __init__(
        self,
        directory: Path,
        data_dir: Path,
        spark_workers: int = 2,
        kafka_brokers: int = 3,
        topic: str = "hot.events",
        restart_delay: float = RESTART_DELAY_SEC,
    ) -> None:
        self.directory = directory
        self.data_dir = data_dir
        """The data dir every client shares (the landing zone the Spark ingest reads)."""
        self.restart_delay = restart_delay
        # In the order of the pids file (SPEC §9b).
        self.parts: dict[str, Part] = {
            "spark": EmbeddedSparkCluster(directory / "spark", workers=spark_workers),
            "kafka": KafkaCluster(directory / "kafka", kafka_brokers, topic),
            "redis": EmbeddedRedisCluster(
                directory / "redis", REDIS_MASTERS, REDIS_REPLICAS, persist=True
            ),
            "postgres": EmbeddedPostgres(directory / "postgres"),
        }
        self._roles: dict[str, Part] = {}
        self._down_since: dict[str, float] = {}

    @property
    def env_file(self) -> Path:
        """``NAME=value`` per line: the settings of a client of the cluster."""
        return self.directory / "env"

    @property
    def pids_file(self) -> Path:
        """``role=pid`` per line: what an operator (or a test) stops one part with."""
        return self.directory / "pids"

    def start(self, timeout: float = 600.0) -> LocalCluster:
        """Start every part at once (most of the time is the JVMs' own start), and write
        the env and pids files once each answers; if one fails, stop the others."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # Searchable by others: PostgreSQL started by root runs as an unprivileged user.
        self.directory.chmod(0o755)
        for stale in (self.env_file, self.pids_file):
            stale.unlink(missing_ok=True)  # present means ready
        with ThreadPoolExecutor(len(self.parts)) as pool:
            futures = [pool.submit(part.start, timeout) for part in self.parts.values()]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            self.stop()
            raise errors[0]  # type: ignore[misc]
        self._roles = {role: part for part in self.parts.values() for role in part.pids()}
        _write(self.env_file, self.env())
        self.write_pids()
        return self

    def env(self) -> dict[str, str]:
        """Every part's settings, and the data dir they share."""
        settings = {"HOT_DATA_DIR": str(self.data_dir)}
        for part in self.parts.values():
            settings.update(part.env())
        return settings

    def pids(self) -> dict[str, int]:
        """The process id of every role running now, in the order of the pids file."""
        return {role: pid for part in self.parts.values() for role, pid in part.pids().items()}

    def write_pids(self) -> None:
        """(Re)write the pids file: after the start and after each restart."""
        _write(self.pids_file, {role: str(pid) for role, pid in self.pids().items()})

    def due(self) -> list[str]:
        """The roles that have been down for the restart delay (a role that just died is
        noted, and due once the delay has passed)."""
        now = time.monotonic()
        running = self.pids()
        live = alive(running.values())
        for role in self._roles:
            if running.get(role) in live:
                self._down_since.pop(role, None)
            else:
                self._down_since.setdefault(role, now)
        return [role for role, t in self._down_since.items() if now - t >= self.restart_delay]

    def restart(self, role: str) -> None:
        """Start ``role`` again and rewrite the pids file; if it fails, it is due again after
        another delay."""
        self._down_since[role] = time.monotonic()
        self._roles[role].restart(role)
        self._down_since.pop(role, None)
        self.write_pids()

    def stop(self) -> None:
        """Stop every part, all at once (each stops its own processes in its own order)."""
        with ThreadPoolExecutor(len(self.parts)) as pool:
            for part in self.parts.values():
                pool.submit(part.stop)
        self.pids_file.unlink(missing_ok=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write(path: Path, values: dict[str, str]) -> None:
    """``NAME=value`` lines, written whole (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    os.replace(tmp, path)


def read_values(path: Path) -> dict[str, str]:
    """The ``NAME=value`` lines of an env or pids file."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line.strip())
