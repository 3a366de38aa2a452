"""`hot kafka`: a single-node Apache Kafka (KRaft) in the foreground (SPEC §2b), and the
broker `hot demo --source kafka` runs its events through."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from hot.cli.common import err, out
from hot.cli.stopping import current
from hot.settings import Settings, get_settings

if TYPE_CHECKING:
    from hot.local.kafka_server import EmbeddedKafka

DEFAULT_PORT = 9092
"""The broker's port: what an unset ``HOT_KAFKA_BOOTSTRAP`` (localhost:9092) reaches."""

partitions_option = click.option(
    "--partitions",
    type=int,
    default=3,
    show_default=True,
    help="partitions of HOT_KAFKA_TOPIC when the broker creates it",
)


@contextmanager
def running_broker(settings: Settings, port: int, partitions: int) -> Iterator[EmbeddedKafka]:
    """The data dir's broker on ``port`` with the events topic created, stopped on exit.

    ``HOT_KAFKA_BOOTSTRAP`` is pointed at it, for this process and those it starts.
    """
    from confluent_kafka import KafkaException

    from hot.local.kafka_server import EmbeddedKafka
    from hot.local.kafka_topics import ensure_topic

    server = EmbeddedKafka(settings.data_dir / "kafka", port=port, partitions=partitions)
    try:
        try:
            # A stop asked for meanwhile is seen once it is up (the broker is then stopped here).
            current().run(server.start)
            ensure_topic(server.bootstrap, settings.kafka_topic, partitions)
        except (RuntimeError, KafkaException) as exc:  # not installed, or did not come up
            raise click.ClickException(f"the Kafka broker did not start: {exc}") from exc
        os.environ["HOT_KAFKA_BOOTSTRAP"] = server.bootstrap
        get_settings.cache_clear()
        yield server
    finally:
        server.stop()


@click.command(
    short_help="run a single-node Kafka (KRaft) until Ctrl-C",
    help="Run Apache Kafka (one KRaft node, from the jars the setup fetched) in the foreground, "
    "its data under $HOT_DATA_DIR/kafka/, with the events topic (HOT_KAFKA_TOPIC) created. "
    "Ctrl-C stops it.",
)
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="the broker's port")
@partitions_option
def kafka(port: int, partitions: int) -> int:
    """Run a single-node Kafka in the foreground until Ctrl-C."""
    settings = get_settings()
    stops = current()
    with running_broker(settings, port, partitions) as server:
        out.print(
            f"hot kafka: broker at {server.bootstrap}, topic {settings.kafka_topic} "
            f"({partitions} partitions), data in {server.directory}  (Ctrl-C stops it)",
            markup=False,
        )
        while server.running():
            stops.sleep(1.0)
    err.print(f"hot kafka: the broker exited (see {server.log_file})", markup=False)
    return 1
