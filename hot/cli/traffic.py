"""`hot simulate` and `hot demo`: synthetic traffic, alone or with everything running on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
from hot.settings import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
    with progress_bars(out) as bars:
        task = bars.add_task("events", total=batches)
        for _ in range(batches):
            sim.write_events(events)
            bars.advance(task)
            if interval:
                time.sleep(interval)
    out.print(
        f"wrote {batches} event files of {events} events to {settings.landing_dir / 'events'}",
        markup=False,
    )
    return 0


@click.command(
    short_help="run everything on embedded defaults until Ctrl-C",
    help="Start an embedded Redis, the Dagster UI (with the landing sensor running), the API "
    "and web page, a demo catalogue and a live stream of synthetic events.",
)
@port_option
@click.option("--dagster-port", type=int, default=3000, show_default=True, help="Dagster UI port")
@events_option(default=2000)
@interval_option(default=5.0)
@verbose_option
def demo(port: int, dagster_port: int, events: int, interval: float, verbose: bool) -> int:
    """Everything up on embedded defaults until Ctrl-C."""
    os.environ.setdefault("HOT_DEV_LOGIN", "1")
    os.environ.setdefault("HOT_FEATURE_FLAG_DEFAULT", "1")
    get_settings.cache_clear()
    with redis_for_command(get_settings()):
        return _demo(get_settings(), port, dagster_port, events, interval, verbose)


def _demo(
    settings: Settings, port: int, dagster_port: int, events: int, interval: float, verbose: bool
) -> int:
    """The demo's processes and event stream, on a Redis that is already up."""
    from hot.cli.pipeline import embeddings_run, pipeline_pass
    from hot.local.simulate import Simulator

    sim = Simulator(settings.landing_dir)
    children: list[subprocess.Popen[bytes]] = []
    try:
        if not (settings.landing_dir / "videos").is_dir():
            out.print("hot demo: writing the demo catalogue and a first hour of traffic")
            sim.write_catalogue()
            for _ in range(5):
                sim.write_events(events)
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
        env = dict(os.environ)
        dagster_ui = ["-m", "dagster", "dev", "-w", str(PROJECT_ROOT / "workspace.yaml")]
        api = ["-m", "hot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        for args in ([*dagster_ui, "-h", "127.0.0.1", "-p", str(dagster_port)], api):
            children.append(subprocess.Popen([sys.executable, *args], cwd=PROJECT_ROOT, env=env))
        out.print(
            f"hot demo: web page http://127.0.0.1:{port}/  "
            f"Dagster UI http://127.0.0.1:{dagster_port}/  (Ctrl-C stops everything)"
        )
        while all(c.poll() is None for c in children):
            sim.write_events(events)
            time.sleep(interval)
        err.print("hot demo: a component exited; stopping")
        return 1
    except KeyboardInterrupt:
        out.print("\nhot demo: stopping")
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
