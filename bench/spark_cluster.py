"""How a pass over a standalone Spark cluster's Thrift Server grows with its workers (SPEC §9b,
docs/scale-out.md): the same input through `hot run` on a cluster of one worker, then of two.

For each worker count: a fresh EmbeddedSparkCluster (one core and a capped heap per worker,
the Thrift Server's driver on the master), a fresh data dir with a copy of the same landing
files (the catalogue and one file of --events simulator events), one `hot run --now` as a
user runs it, its wall time and the steps it printed (ingest, dbt build, publish). The load
average is printed beside each figure: on a shared 2-core machine the point is that it runs
and how it scales, not the absolute time.

Usage: nice -n 10 python bench/spark_cluster.py [--events N] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.deployments import WORLD_ARGS  # noqa: E402
from bench.pipeline import write_batch  # noqa: E402
from hot.local.redis_server import EmbeddedRedis  # noqa: E402
from hot.local.simulate import Simulator, build_world  # noqa: E402
from hot.local.spark_cluster import EmbeddedSparkCluster  # noqa: E402

STEP = re.compile(r"^(ingest|dbt build|publish)\s.*\((\d+(?:\.\d+)?)s\)\s*$")


def load() -> str:
    """The 1-minute load average, as text."""
    return f"{os.getloadavg()[0]:.1f}"


def one_pass(workers: int, source: Path, base: Path, redis_url: str, now: float) -> str:
    """Start a cluster of ``workers`` workers, run one pass over a copy of ``source``; a line
    of figures."""
    started = time.perf_counter()
    with EmbeddedSparkCluster(base / f"cluster-{workers}", workers=workers).start(900) as cluster:
        up = time.perf_counter() - started
        data_dir = base / f"data-{workers}"
        shutil.copytree(source, data_dir / "landing")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HOT_")},
            **cluster.env(),
            "HOT_DATA_DIR": str(data_dir),
            "HOT_REDIS_URL": redis_url,
            "DAGSTER_HOME": str(data_dir / "dagster_home"),
        }
        before = load()
        started = time.perf_counter()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "hot"), "run", "--now", str(now)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"hot run on {workers} worker(s) failed:\n{done.stderr[-3000:]}")
    steps = [m.groups() for m in map(STEP.match, done.stdout.splitlines()) if m]
    parts = ", ".join(f"{name} {float(s):.1f} s" for name, s in steps)
    return (
        f"{workers} worker(s): cluster up in {up:.0f} s; `hot run` {seconds:.1f} s "
        f"({parts}); load {before} -> {load()}"
    )


def main() -> None:
    """Print one line of figures per worker count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hot-bench-spark-") as tmp:
        base = Path(tmp)
        sim = Simulator(base / "source" / "landing", build_world(**WORLD_ARGS))
        sim.write_catalogue()
        write_batch(sim, args.events)
        now = time.time()
        print(f"one pass of the catalogue and {args.events:,} events over Thrift", flush=True)
        with EmbeddedRedis(base / "redis", persist=False) as server:
            for workers in args.workers:
                print("  " + one_pass(workers, sim.landing_dir, base, server.url, now), flush=True)


if __name__ == "__main__":
    main()
