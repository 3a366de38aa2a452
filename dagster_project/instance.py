"""The Dagster instance the pipeline runs on: ``DAGSTER_HOME`` and the ``dagster.yaml`` that
`hot` writes there (one run at a time, the warm run launcher, the kept-open event log)."""

from __future__ import annotations

import os
from pathlib import Path

from hot.settings import get_settings

DAGSTER_YAML = """\
# Written by `hot`: one run at a time (DuckDB has a single writer); queued runs are picked
# up every second so a landed file reaches Redis quickly.
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
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
