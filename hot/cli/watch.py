"""`hot watch`: push a pass to Dagster the moment input arrives (:mod:`dagster_project.push`)."""

from __future__ import annotations

import threading

import click

from hot.cli.common import err, out
from hot.cli.stopping import current
from hot.settings import get_settings

WATCH_POLL_SEC = 0.5
"""How often the command looks whether its watches still run."""


@click.command(
    short_help="push a pass the moment input arrives",
    help="Watch the landing zone (and with HOT_EVENTS_SOURCE=kafka the topic's end offsets) and "
    "submit a pass of hot_pipeline through the Dagster webserver's GraphQL API as soon as "
    "something new is there and no pass waits in the queue. The sensors stay the safety net.",
)
@click.option(
    "--dagster-host", default="127.0.0.1", show_default=True, help="the Dagster webserver's host"
)
@click.option(
    "--dagster-port", type=int, default=3000, show_default=True, help="the webserver's port"
)
def watch(dagster_host: str, dagster_port: int) -> int:
    """Push passes to the Dagster webserver until Ctrl-C."""
    from dagster_project.instance import ensure_dagster_home
    from dagster_project.push import run_watcher

    settings = get_settings()
    ensure_dagster_home()
    stop = threading.Event()
    stops = current()
    watches = run_watcher(
        settings,
        dagster_host,
        dagster_port,
        stop,
        log=lambda line: out.print(f"hot watch: {line}", markup=False),
    )
    topic = f" and topic {settings.kafka_topic}" if settings.events_source == "kafka" else ""
    out.print(
        f"hot watch: watching {settings.landing_dir}{topic}, pushing passes to "
        f"http://{dagster_host}:{dagster_port}",
        markup=False,
    )
    try:
        while all(w.is_alive() for w in watches):
            stops.sleep(WATCH_POLL_SEC)
        err.print("hot watch: a watch stopped unexpectedly", markup=False)
        return 1
    finally:
        stop.set()
        for w in watches:
            w.join(timeout=5)
