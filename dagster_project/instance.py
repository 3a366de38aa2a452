"""The Dagster instance the pipeline runs on: ``DAGSTER_HOME`` and the ``dagster.yaml`` that
`hot` writes there (the run lanes, the warm run launcher, the kept-open event log)."""

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
# Each run gets a process of its own, started and warmed up before the run comes.
run_launcher:
  module: dagster_project.launcher
  class: WarmProcessRunLauncher
# Dagster's SQLite event log with a kept-open index connection (same files and schema).
event_log_storage:
  module: dagster_project.event_log
  class: PassEventLogStorage
telemetry:
  enabled: false
"""


def prepare_dagster_home(home: Path) -> Path:
    """Create ``DAGSTER_HOME`` with the instance settings the pipeline relies on."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def ensure_dagster_home() -> Path:
    """Use the data dir's Dagster home unless DAGSTER_HOME is already set."""
    home = Path(os.environ.get("DAGSTER_HOME") or get_settings().dagster_home)
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(home))
    return home
