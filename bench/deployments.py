"""What the pipeline benchmarks share: a fresh deployment to measure on, the synthetic world
its traffic comes from, and waits on it (bench/pipeline.py, bench/freshness.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from dagster_project.instance import ensure_dagster_home
from hot.local.deployment import deployment

WORLD_ARGS = {"n_creators": 400, "videos_per_creator": 6, "n_users": 50_000, "seed": 3}
"""The synthetic world of every pipeline benchmark: ~3,000 videos, 50,000 users."""


@contextmanager
def fresh_deployment(root: Path, redis_url: str) -> Iterator[Path]:
    """A fresh data dir and an empty Redis db for one measurement."""
    with deployment(root, redis_url) as landing:
        ensure_dagster_home()  # `dagster dev` of the sensor rounds reads its dagster.yaml
        redis.Redis.from_url(redis_url).flushdb()
        yield landing


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` every 50 ms until true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_quiet(
    instance_dir: Path,
    quiet_sec: float = 3.0,
    timeout: float = 300,
    ignore_jobs: Collection[str] = (),
) -> None:
    """Until the deployment has had no run queued or in progress for ``quiet_sec`` in a row
    (runs of ``ignore_jobs`` aside)."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    busy = RunsFilter(
        statuses=[
            DagsterRunStatus.QUEUED,
            DagsterRunStatus.NOT_STARTED,
            DagsterRunStatus.STARTING,
            DagsterRunStatus.STARTED,
        ]
    )
    os.environ["DAGSTER_HOME"] = str(instance_dir)
    deadline = time.monotonic() + timeout
    quiet_since = time.monotonic()
    with DagsterInstance.get() as instance:
        while time.monotonic() - quiet_since < quiet_sec:
            if time.monotonic() > deadline:
                raise SystemExit(f"runs still queued or running after {timeout:.0f} s")
            runs = instance.get_run_records(busy, limit=None if ignore_jobs else 1)
            if any(r.dagster_run.job_name not in ignore_jobs for r in runs):
                quiet_since = time.monotonic()
            time.sleep(0.2)
