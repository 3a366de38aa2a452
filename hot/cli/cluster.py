"""`hot cluster`: the production topology of SPEC §9b on this machine, in the foreground, with
each part that dies started again after a short delay (:mod:`hot.local.cluster`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click

from hot.cli.common import err, out
from hot.cli.stopping import current
from hot.settings import get_settings

if TYPE_CHECKING:
    from hot.local.cluster import LocalCluster

WATCH_SEC = 1.0
"""How often the processes are looked at."""


@click.command(
    short_help="the production topology (Spark, PostgreSQL, Kafka, Redis Cluster) until Ctrl-C",
    help="Start the topology of SPEC §9b locally: a Spark standalone master, workers and "
    "Thrift Server, PostgreSQL for Dagster, KRaft Kafka brokers (the events topic with 3 "
    "replicas) and a Redis Cluster of three masters with a replica each, their data under "
    "$HOT_DATA_DIR/cluster/. Once every part answers it writes $HOT_DATA_DIR/cluster/env (the "
    "HOT_* settings of its clients: `set -a; . env` before `hot run`, `hot serve`, `dagster "
    "dev`) and $HOT_DATA_DIR/cluster/pids (role=pid). A process that dies is started again "
    "after a few seconds. Ctrl-C stops everything.",
)
@click.option(
    "--spark-workers", type=click.IntRange(1), default=2, show_default=True, help="Spark workers"
)
@click.option(
    "--kafka-brokers", type=click.IntRange(1), default=3, show_default=True, help="Kafka brokers"
)
def cluster(spark_workers: int, kafka_brokers: int) -> int:
    """Run the whole topology in the foreground until Ctrl-C."""
    from hot.local.cluster import LocalCluster

    settings = get_settings()
    stops = current()
    topology = LocalCluster(
        settings.data_dir / "cluster",
        settings.data_dir,
        spark_workers=spark_workers,
        kafka_brokers=kafka_brokers,
        topic=settings.kafka_topic,
    )
    out.print(f"hot cluster: starting (data in {topology.directory})", markup=False)
    began = time.monotonic()
    try:
        try:
            stops.run(topology.start)
        except (RuntimeError, ImportError, OSError) as exc:  # not installed, or did not come up
            raise click.ClickException(f"the cluster did not start: {exc}") from exc
        out.print(
            f"hot cluster: ready in {time.monotonic() - began:.0f} s; its settings are in "
            f"{topology.env_file}  (set -a; . {topology.env_file})  pids in "
            f"{topology.pids_file}  (Ctrl-C stops it)",
            markup=False,
        )
        watch(topology)
    finally:
        topology.stop()
    return 0


def watch(topology: LocalCluster) -> None:
    """Look at the processes until a stop signal; start again each that has been down for
    the restart delay, saying so."""
    stops = current()
    while True:
        for role in topology.due():
            err.print(f"hot cluster: {role} is down; starting it again", markup=False)
            try:
                stops.run(lambda role=role: topology.restart(role))
            except (RuntimeError, OSError) as exc:
                err.print(f"hot cluster: {role} did not start again: {exc}", markup=False)
                continue
            pid = topology.pids().get(role)
            out.print(f"hot cluster: {role} is back (pid {pid})", markup=False)
        stops.sleep(WATCH_SEC)
