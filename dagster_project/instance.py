"""The Dagster instance the pipeline runs on: ``DAGSTER_HOME`` and the ``dagster.yaml`` that
`hot` writes there (the run lanes, the warm run launcher, the storage)."""

from __future__ import annotations

import os
from pathlib import Path

from hot.settings import get_settings

DAGSTER_YAML = """\
# Written by `hot`. Two run lanes (the `hot/lane` tag, dagster_project/lanes.py): one pass or
# republish at a time, and beside it one background run (embeddings, full-scan checks), so a
# pass never queues behind those; they share DuckDB's one writer by holding it briefly. Queued
# runs are picked up every second (Dagster's shortest interval).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
    tag_concurrency_limits:
      - key: hot/lane
        value: pass
        limit: 1
      - key: hot/lane
        value: background
        limit: 1
    dequeue_interval_seconds: 1
# Each run gets a process of its own, forked from a warmed-up run server.
run_launcher:
  module: dagster_project.launcher
  class: WarmProcessRunLauncher
# A run whose process died (killed, out of memory) is marked failed within seconds, so it does
# not hold its lane: the launcher tells the daemon whether each run's process is alive.
run_monitoring:
  enabled: true
  poll_interval_seconds: 5
  start_timeout_seconds: 300
  max_resume_run_attempts: 0
# Runs, events and schedules: PostgreSQL when HOT_DAGSTER_PG_URL is set, else SQLite files
# here; each process chooses from its environment (dagster_project/storage.py).
storage:
  custom:
    module: dagster_project.storage
    class: HotStorage
telemetry:
  enabled: false
"""


WRITTEN_BY_HOT = "# Written by `hot`"
"""How every ``dagster.yaml`` `hot` wrote begins: one without it is the user's, left alone."""


def prepare_dagster_home(home: Path) -> Path:
    """Create ``DAGSTER_HOME`` with the instance settings the pipeline relies on.

    A ``dagster.yaml`` `hot` wrote before is brought up to date (an older one may name an
    event log that is no longer the storage's, or miss the run lanes); one the user wrote is
    kept as it is.
    """
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or (current.startswith(WRITTEN_BY_HOT) and current != DAGSTER_YAML):
        staged = config.with_name(f".dagster.yaml.{os.getpid()}")
        staged.write_text(DAGSTER_YAML)
        staged.replace(config)  # processes starting meanwhile read the old file or the new
    return home


def ensure_dagster_home() -> Path:
    """Use the data dir's Dagster home unless DAGSTER_HOME is already set."""
    home = Path(os.environ.get("DAGSTER_HOME") or get_settings().dagster_home)
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    return home
