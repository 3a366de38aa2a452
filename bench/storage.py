"""Dagster's storage side by side (SPEC §9b): SQLite (the embedded default) and PostgreSQL
(``HOT_DAGSTER_PG_URL``, an embedded server on loopback as `hot cluster` runs it).

Prints, for each storage, in this one run:
  1. a 2,000-event pass on a small history (``bench/pipeline.py``'s [2]: median of 3, and its
     per-step breakdown); on PostgreSQL also with dagster-postgres's own engines, which
     connect anew for every statement (what the kept-open connections of
     ``dagster_project/storage.py`` save);
  2. file freshness: seconds from a file's rename into landing/events/ to its snapshot in Redis
     with the sensor running under `dagster dev` (``bench/pipeline.py``'s [4]).
Each measurement gets a fresh data dir and, on PostgreSQL, a fresh database. The load average
is printed beside each figure: on a shared machine the absolute times move with it.

Usage: nice -n 10 python bench/storage.py [--rounds N] [--only pass,freshness]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.deployments import wait_for, wait_quiet  # noqa: E402
from bench.pipeline import bench_sensor_latency, bench_small_pass, breakdown  # noqa: E402
from hot.local.postgres import EmbeddedPostgres  # noqa: E402
from hot.local.redis_server import EmbeddedRedis  # noqa: E402
from hot.settings import get_settings  # noqa: E402

T = TypeVar("T")
PATIENCE = 4
"""How much longer than bench/pipeline.py's limits this script waits for a first snapshot or a
quiet deployment: on a shared 2-core machine at load 30+, `dagster dev` and its first warm
run process take more than its 300 s to come up. The figures are the rounds after it."""


def patient_wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """``bench.deployments.wait_for`` with ``PATIENCE`` times the limit."""
    wait_for(check, timeout * PATIENCE, what)


def patient_wait_quiet(instance_dir: Path, quiet_sec: float = 3.0, timeout: float = 300) -> None:
    """``bench.deployments.wait_quiet`` with ``PATIENCE`` times the limit."""
    wait_quiet(instance_dir, quiet_sec, timeout * PATIENCE)


@contextmanager
def storage(pg: EmbeddedPostgres | None, name: str) -> Iterator[None]:
    """Dagster's storage for a while: a new database ``name`` of ``pg``, or SQLite (``None``)."""
    with mock.patch.dict(os.environ):  # restored on exit
        os.environ.pop("HOT_DAGSTER_PG_URL", None)
        if pg is not None:
            os.environ["HOT_DAGSTER_PG_URL"] = pg.create_database(name)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


def measured(label: str, run: Callable[[], T]) -> T:
    """``run()``, announced with the load average before it."""
    print(f"== {label} (load {os.getloadavg()[0]:.1f})", flush=True)
    return run()


def main() -> None:
    """Measure both storages and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="freshness rounds")
    parser.add_argument("--only", default="pass,freshness", help="a comma list of measurements")
    args = parser.parse_args()
    only = set(args.only.split(","))
    lines: list[str] = []

    def report(line: str) -> None:
        # Printed at once too: a later measurement that fails leaves the earlier ones.
        print(line, flush=True)
        lines.append(line)

    with tempfile.TemporaryDirectory(prefix="hot-bench-", ignore_cleanup_errors=True) as tmp:
        base = Path(tmp)
        base.chmod(0o711)  # PostgreSQL, run as its own user when root, must reach its folder
        with (
            ExitStack() as stack,
            EmbeddedRedis(base / "redis", persist=False) as redis,
            EmbeddedPostgres(base / "postgres") as pg,
        ):
            kinds = {"SQLite": None, "PostgreSQL": pg}
            if "pass" in only:
                for kind, server in kinds.items():
                    with storage(server, "pass"):
                        load = os.getloadavg()[0]
                        small = measured(kind, lambda k=kind: bench_small_pass(base / k, redis.url))
                    report(f"2,000-event pass, {kind} (load {load:.1f}): {breakdown(small)}")
                with (
                    storage(pg, "pass_per_statement"),
                    mock.patch("dagster_project.storage.keep_postgres_connections_open"),
                ):
                    load = os.getloadavg()[0]
                    small = measured(
                        "PostgreSQL, a connection per statement",
                        lambda: bench_small_pass(base / "per-statement", redis.url),
                    )
                report(
                    f"2,000-event pass, PostgreSQL with a connection per statement "
                    f"(load {load:.1f}): {breakdown(small)}"
                )
            if "freshness" in only:
                stack.enter_context(mock.patch("bench.pipeline.wait_for", patient_wait_for))
                stack.enter_context(mock.patch("bench.pipeline.wait_quiet", patient_wait_quiet))
                for kind, server in kinds.items():
                    with storage(server, "freshness"):
                        load = os.getloadavg()[0]
                        latencies = measured(
                            kind,
                            lambda k=kind: bench_sensor_latency(base / k, redis.url, args.rounds),
                        )
                    report(
                        f"freshness, {kind} (load {load:.1f}-{os.getloadavg()[0]:.1f}): median "
                        f"{statistics.median(latencies):.2f} s of "
                        f"{', '.join(f'{x:.2f}' for x in latencies)}"
                    )
    print(f"\n== storage comparison ({time.strftime('%Y-%m-%d %H:%M')} UTC)")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
