"""`hot simulate` and `hot demo`: synthetic traffic, alone or with everything running on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hot.cli.common import (
    err,
    events_option,
    interval_option,
    out,
    port_option,
    progress_bars,
    redis_for_command,
    verbose_option,
)
from hot.cli.kafka import DEFAULT_PORT, running_broker
from hot.cli.stopping import cancel_launched_runs, current
from hot.settings import Settings, get_settings

if TYPE_CHECKING:
    from hot.local.simulate import Simulator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STOP_GRACE_SEC = 6.0
"""How long the demo's servers get to stop on their own before they are killed (the whole
stop stays within 15 s: then the abandoned runs are marked and Redis stops)."""


@click.command(
    short_help="write synthetic micro-batches",
    help="Write realistic synthetic traffic (Zipf popularity, bursts, late events, replays, "
    "some bad lines) into the landing zone, each file written atomically.",
)
@click.option("--batches", type=int, default=10, show_default=True, help="number of event files")
@events_option(default=1000)
@interval_option(default=0.0)
@click.option("--catalogue", is_flag=True, help="also write creators, videos and moderation files")
@click.option("--seed", type=int, default=7, show_default=True, help="seed of the synthetic world")
def simulate(batches: int, events: int, interval: float, catalogue: bool, seed: int) -> int:
    """Write synthetic micro-batches into the landing zone."""
    from hot.local.simulate import Simulator, build_world

    settings = get_settings()
    sim = Simulator(settings.landing_dir, build_world(seed=seed), seed=seed + 1)
    if catalogue:
        for path in sim.write_catalogue():
            out.print(f"wrote {path}", markup=False)
    stops = current()
    with progress_bars(out) as bars:
        task = bars.add_task("events", total=batches)
        for _ in range(batches):
            stops.check()
            sim.write_events(events)  # atomic: a stop leaves whole files only
            bars.advance(task)
            if interval:
                stops.sleep(interval)
    out.print(
        f"wrote {batches} event files of {events} events to {settings.landing_dir / 'events'}",
        markup=False,
    )
    return 0


@click.command(
    short_help="run everything on embedded defaults until Ctrl-C",
    help="Start an embedded Redis, the Dagster UI (with the landing sensor running), the push "
    "watcher (`hot watch`), the API and web page, a demo catalogue and a live stream of "
    "synthetic events (into the landing zone, or with --source kafka into an embedded Kafka "
    "broker).",
)
@port_option
@click.option("--dagster-port", type=int, default=3000, show_default=True, help="Dagster UI port")
@events_option(default=2000)
@interval_option(default=5.0)
@click.option(
    "--source",
    type=click.Choice(["files", "kafka"]),
    default="files",
    show_default=True,
    help="where the events go: the landing zone, or a Kafka broker started here (as `hot "
    "kafka`) with HOT_EVENTS_SOURCE=kafka",
)
@click.option(
    "--kafka-port", type=int, default=DEFAULT_PORT, show_default=True, help="the broker's port"
)
@verbose_option
def demo(
    port: int,
    dagster_port: int,
    events: int,
    interval: float,
    source: str,
    kafka_port: int,
    verbose: bool,
) -> int:
    """Everything up on embedded defaults until Ctrl-C."""
    from hot.local.processes import become_subreaper

    os.environ.setdefault("HOT_DEV_LOGIN", "1")
    os.environ.setdefault("HOT_FEATURE_FLAG_DEFAULT", "1")
    if source == "kafka":
        os.environ["HOT_EVENTS_SOURCE"] = "kafka"
    get_settings.cache_clear()
    become_subreaper()  # what the Dagster processes leave behind stays ours to stop
    # The broker stops before Redis, both after the servers and runs.
    with redis_for_command(get_settings()) as redis_server, ExitStack() as broker:
        keep = [redis_server.pid] if redis_server is not None and redis_server.pid else []
        if source == "kafka":
            kafka = broker.enter_context(running_broker(get_settings(), kafka_port, 3))
            keep += [kafka.pid] if kafka.pid else []
        return _demo(get_settings(), port, dagster_port, events, interval, verbose, keep)


def _event_sink(settings: Settings, sim: Simulator) -> Callable[[int], object]:
    """Sends ``n`` synthetic events: a landing file, or messages to the topic (keyed by
    video) when Kafka is the source."""
    if settings.events_source != "kafka":
        return sim.write_events
    from hot.local.kafka_topics import EventProducer

    producer = EventProducer(settings.kafka_bootstrap, settings.kafka_topic)
    return lambda n: producer.send(sim.events(n))


def _demo(
    settings: Settings,
    port: int,
    dagster_port: int,
    events: int,
    interval: float,
    verbose: bool,
    keep: list[int],
) -> int:
    """The demo's processes and event stream, on a Redis (``keep``) that is already up.

    The Dagster UI and the API run in sessions of their own, so that a Ctrl-C reaches only
    this process, which stops them in order: servers and runs first (SIGINT, then SIGKILL
    after ``STOP_GRACE_SEC``), then Redis (by the caller).
    """
    from hot.cli.pipeline import embeddings_run, pipeline_pass
    from hot.local.processes import spawn, stop_all
    from hot.local.simulate import Simulator

    stops = current()
    sim = Simulator(settings.landing_dir)
    send_events = _event_sink(settings, sim)
    children: list[subprocess.Popen[bytes]] = []
    with ExitStack() as logs:
        try:
            if not (settings.landing_dir / "videos").is_dir():
                out.print("hot demo: writing the demo catalogue and a first hour of traffic")
                sim.write_catalogue()
                for _ in range(5):
                    stops.check()
                    send_events(events)
            out.print("hot demo: first pipeline pass (ingest → dbt → Redis)")
            first = pipeline_pass(None, verbose)
            if not first.success:
                err.print(f"hot demo: the first pass failed: {first.error}", markup=False)
                return 1
            # Before the API starts, so it serves type=personal from LanceDB.
            embedded = embeddings_run(None, verbose)
            if not embedded.success:
                err.print(
                    f"hot demo: no embeddings yet (type=personal serves the global order): "
                    f"{embedded.error}",
                    markup=False,
                )
            stops.check()
            log_dir = settings.data_dir / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            dagster_ui = ["-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")]
            api = ["-m", "hot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
            # Pushes a pass the moment events arrive; the sensors stay the safety net.
            watcher = ["-m", "hot.cli", "watch", "--dagster-port", str(dagster_port)]
            for name, args in (
                ("dagster", [*dagster_ui, "-h", "127.0.0.1", "-p", str(dagster_port)]),
                ("api", api),
                ("watch", watcher),
            ):
                # Their logs go to the terminal with -v only (as the runs' Dagster log does).
                sink = None if verbose else logs.enter_context((log_dir / f"{name}.log").open("ab"))
                children.append(
                    spawn(
                        [sys.executable, *args],
                        cwd=PROJECT_ROOT,
                        env=dict(os.environ),
                        stdout=sink,
                        stderr=subprocess.STDOUT if sink else None,
                    )
                )
            out.print(
                f"hot demo: web page http://127.0.0.1:{port}/  "
                f"Dagster UI http://127.0.0.1:{dagster_port}/  (Ctrl-C stops everything)"
                + ("" if verbose else f"  logs in {log_dir}")
            )
            while all(c.poll() is None for c in children):
                send_events(events)  # whole files, or acknowledged messages, only
                stops.sleep(interval)
            err.print(f"hot demo: a server exited; stopping (see {log_dir})")
            return 1
        finally:
            if children:
                stop_all(children, signal.SIGINT, STOP_GRACE_SEC, keep=keep)
                # A run worker killed before it could say so stays "started" in Dagster.
                cancel_launched_runs("hot demo stopped")
