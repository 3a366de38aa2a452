"""The `hot` console command: demo, run, embed, serve, simulate, token."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hot.settings import Settings, get_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def _redis(settings: Settings) -> Iterator[None]:
    """Point HOT_REDIS_URL at the configured server, or at the data dir's embedded one.

    An embedded server this process started is stopped on exit (one started by another
    `hot` process is left running).
    """
    if settings.redis_url:
        yield
        return
    from hot.local.redis_server import ensure_local_redis

    url, server = ensure_local_redis(settings.data_dir / "redis")
    os.environ["HOT_REDIS_URL"] = url
    get_settings.cache_clear()
    try:
        yield
    finally:
        if server is not None:
            server.stop()


def cmd_run(args: argparse.Namespace) -> int:
    """Process every pending landing file once and publish a snapshot."""
    from dagster_project.runner import ensure_dagster_home, run_pipeline

    with _redis(get_settings()):
        ensure_dagster_home()
        result = run_pipeline(now_epoch=args.now)
    if not result.success:
        print(
            f"hot run: the pipeline failed (run {result.run_id}): {result.error}", file=sys.stderr
        )
        return 1
    print(
        f"hot run: published snapshot {result.snapshot_id} with {result.items} items "
        f"in {result.seconds:.1f}s (run {result.run_id})"
    )
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    """Recompute the embeddings now (or import vectors) and publish a new version."""
    from dagster_project.runner import ensure_dagster_home, run_embed

    with _redis(get_settings()):
        ensure_dagster_home()
        result = run_embed(args.vectors)
    if not result.success:
        print(f"hot embed: failed (run {result.run_id}): {result.error}", file=sys.stderr)
        return 1
    meta = result.metadata
    print(
        f"hot embed: published version {meta['version']} ({meta['users']} users, "
        f"{meta['videos']} videos, dim {meta['dimension']}, {meta['method']}) "
        f"in {result.seconds:.1f}s (run {result.run_id})"
    )
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Write synthetic micro-batches into the landing zone."""
    from tqdm import tqdm

    from hot.local.simulate import Simulator, build_world

    settings = get_settings()
    sim = Simulator(settings.landing_dir, build_world(seed=args.seed), seed=args.seed + 1)
    if args.catalogue:
        for path in sim.write_catalogue():
            print(f"wrote {path}")
    for _ in tqdm(range(args.batches), desc="event batches", unit="file"):
        sim.write_events(args.events)
        if args.interval:
            time.sleep(args.interval)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """Print a JWT signed with the configured key, for local use."""
    from serving.auth import mint_token

    print(mint_token(get_settings(), sub=args.sub, roles=tuple(args.role or ()), ttl=args.ttl))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API and web page only."""
    from serving.server import serve

    with _redis(get_settings()):
        serve(host=args.host, port=args.port, workers=args.workers)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Everything up on embedded defaults until Ctrl-C."""
    os.environ.setdefault("HOT_DEV_LOGIN", "1")
    os.environ.setdefault("HOT_FEATURE_FLAG_DEFAULT", "1")
    get_settings.cache_clear()
    with _redis(get_settings()):
        return _demo(args, get_settings())


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    """The demo's processes and event stream, on a Redis that is already up."""
    from dagster_project.runner import ensure_dagster_home, run_embed, run_pipeline
    from hot.local.simulate import Simulator

    ensure_dagster_home()
    sim = Simulator(settings.landing_dir)
    children: list[subprocess.Popen[bytes]] = []
    try:
        if not (settings.landing_dir / "videos").is_dir():
            print("hot demo: writing the demo catalogue and a first hour of traffic")
            sim.write_catalogue()
            for _ in range(5):
                sim.write_events(args.events)
        print("hot demo: first pipeline pass (ingest → dbt → Redis)")
        first = run_pipeline()
        if not first.success:
            print(f"hot demo: the first pass failed: {first.error}", file=sys.stderr)
            return 1
        embedded = run_embed()  # before the API starts, so it serves type=personal from LanceDB
        if not embedded.success:
            print(
                f"hot demo: no embeddings yet (type=personal serves the global order): "
                f"{embedded.error}",
                file=sys.stderr,
            )
        env = dict(os.environ)
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dagster",
                    "dev",
                    "-w",
                    str(PROJECT_ROOT / "workspace.yaml"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(args.dagster_port),
                ],
                cwd=PROJECT_ROOT,
                env=env,
            )
        )
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hot.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(args.port),
                ],
                cwd=PROJECT_ROOT,
                env=env,
            )
        )
        print(
            f"hot demo: web page http://127.0.0.1:{args.port}/  "
            f"Dagster UI http://127.0.0.1:{args.dagster_port}/  (Ctrl-C stops everything)"
        )
        while all(c.poll() is None for c in children):
            sim.write_events(args.events)
            time.sleep(args.interval)
        print("hot demo: a component exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nhot demo: stopping")
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `hot` (each sub-command documents itself in --help)."""
    parser = argparse.ArgumentParser(
        prog="hot",
        description="Imoutotv Hot: the 'hot right now' feed. Settings come from HOT_* "
        "environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="run everything on embedded defaults until Ctrl-C",
        description="Start an embedded Redis, the Dagster UI (with the landing "
        "sensor running), the API and web page, a demo catalogue and a live "
        "stream of synthetic events.",
    )
    demo.add_argument("--port", type=int, default=8000, help="API / web page port")
    demo.add_argument("--dagster-port", type=int, default=3000, help="Dagster UI port")
    demo.add_argument("--events", type=int, default=2000, help="events per micro-batch")
    demo.add_argument("--interval", type=float, default=5.0, help="seconds between batches")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser(
        "run",
        help="process pending landing files once and publish",
        description="Ingest every pending landing file through the same "
        "Dagster job the sensor runs, dbt build, and publish a snapshot. "
        "Exit 0 on success, 1 with a message on failure.",
    )
    run.add_argument(
        "--now",
        type=float,
        default=None,
        help="score at this UNIX time instead of the wall clock (reproducible runs)",
    )
    run.set_defaults(func=cmd_run)

    embed = sub.add_parser(
        "embed",
        help="recompute the embeddings now",
        description="Run the embeddings asset (the one the schedule and the "
        "batch sensor run) through Dagster: learn user and video vectors from "
        "the engagement in DuckDB, or import them from Parquet, and publish "
        "them as a new LanceDB version. Exit 0, or 1 with the reason.",
    )
    embed.add_argument(
        "--vectors",
        type=Path,
        default=None,
        help="Parquet of pre-computed vectors (columns kind, id, vector) to "
        "import instead of learning them",
    )
    embed.set_defaults(func=cmd_embed)

    simulate = sub.add_parser(
        "simulate",
        help="write synthetic micro-batches",
        description="Write realistic synthetic traffic (Zipf popularity, "
        "bursts, late events, replays, some bad lines) into the landing "
        "zone, each file written atomically.",
    )
    simulate.add_argument("--batches", type=int, default=10, help="number of event files")
    simulate.add_argument("--events", type=int, default=1000, help="events per file")
    simulate.add_argument("--interval", type=float, default=0.0, help="seconds between files")
    simulate.add_argument(
        "--catalogue", action="store_true", help="also write creators, videos and moderation files"
    )
    simulate.add_argument("--seed", type=int, default=7, help="seed of the synthetic world")
    simulate.set_defaults(func=cmd_simulate)

    serve = sub.add_parser(
        "serve",
        help="run the API and web page only",
        description="Serve the API and web page with uvicorn.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser(
        "token",
        help="print a JWT for local use",
        description="Mint a token signed with the configured key "
        "(HOT_JWT_SECRET, or the data dir's local secret).",
    )
    token.add_argument("--sub", required=True, help="the user id (JWT sub)")
    token.add_argument("--role", action="append", help="a role claim, e.g. moderator")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hot` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # invalid settings or arguments: a message, not a traceback
        print(f"hot {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
