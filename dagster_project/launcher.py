"""A run launcher whose next run process is already started: freshness without the launch.

Dagster's default launcher starts a new Python process per run, which then imports Dagster,
dbt and the code location before the first step: seconds a landed file waits for. This
launcher keeps *warm* processes waiting: started ahead of time, each has imported the code
location (``dagster_project.definitions``), loaded dbt's manifest and compiled its macros, and
blocks on its standard input. A launch hands the run to the one that has waited longest; it
executes that one run exactly as ``dagster api execute_run`` does and exits, and the launcher
starts a replacement. Each run still gets a fresh process of its own.
A run of the background lane (embeddings, full-scan checks: :mod:`dagster_project.lanes`)
gets its process at a lower CPU priority, so a pass beside it gets the cores first.

A warm process started before the code changed would run the old code: it is retired (and a
new one started) when a file of the code location or the dbt project is newer than it.

Configured in ``dagster.yaml`` (written by :mod:`dagster_project.instance`)::

    run_launcher:
      module: dagster_project.launcher
      class: WarmProcessRunLauncher
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import deque
from contextlib import suppress
from pathlib import Path
from typing import Any

from dagster import DagsterRun, DefaultRunLauncher

from dagster_project._dagster_internals import (
    CheckRunHealthResult,
    ConfigurableClass,
    ConfigurableClassData,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
    execute_run_line,
    launcher_instance,
)
from dagster_project.lanes import BACKGROUND_LANE, BACKGROUND_NICE, LANE_TAG
from hot.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
WARM_SPARES = 2
"""Warm processes kept waiting. With one, a run launched sooner after the previous launch than
a warm-up takes (6 s idle, 8-10 s beside a running pass on 2 cores) waited for the rest of it:
launches of 5.2-5.6 s in docs/benchmarks.md. With two, each replacement has two runs' time."""

WATCHED = (ROOT / "dagster_project", ROOT / "hot", ROOT / "dbt" / "models", ROOT / "dbt" / "macros")


def _code_version() -> float:
    """The newest modification time of the code a run process loads."""
    newest = 0.0
    for folder in WATCHED:
        for path in folder.rglob("*"):
            if path.suffix in {".py", ".sql", ".yml"}:
                newest = max(newest, path.stat().st_mtime)
    return newest


class WarmProcessRunLauncher(RunLauncher, ConfigurableClass):
    """Launch each run in a process started (and warmed up) before the run was asked for."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        self._lock = threading.Lock()
        self._warm: deque[tuple[subprocess.Popen[bytes], float]] = deque()  # oldest first
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        """The config this launcher was built from."""
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        """No settings."""
        return {}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: dict[str, Any]
    ) -> RunLauncher:
        """The launcher of ``dagster.yaml``: this one, or Dagster's stock launcher (a new
        process per run, started at launch) with ``HOT_STOCK_INTERNALS=1``."""
        if get_settings().stock_internals:
            return DefaultRunLauncher(inst_data=inst_data)
        return cls(inst_data=inst_data)

    def _start_warm(self) -> tuple[subprocess.Popen[bytes], float]:
        version = _code_version()
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.warm_run"],
            stdin=subprocess.PIPE,
            cwd=ROOT,
            env=dict(os.environ),
        )
        return proc, version

    def _take_warm(self) -> subprocess.Popen[bytes]:
        """The warm process for this run: the longest-waiting one still alive and on the
        current code (a fresh one if none is); the stale ones are stopped."""
        with self._lock:
            version = _code_version()
            while self._warm:
                proc, started_on = self._warm.popleft()
                if proc.poll() is None and started_on >= version:
                    return proc
                _stop(proc)
            return self._start_warm()[0]

    def _prepare_next(self) -> None:
        with self._lock:
            while len(self._warm) < WARM_SPARES:
                self._warm.append(self._start_warm())

    def launch_run(self, context: LaunchRunContext) -> None:
        """Hand the run to the warm process, then start the next one for the next run."""
        run = context.dagster_run
        line = execute_run_line(run, launcher_instance(self))
        proc = self._take_warm()
        if run.tags.get(LANE_TAG) == BACKGROUND_LANE:
            _lower_priority(proc.pid, BACKGROUND_NICE)
        assert proc.stdin is not None
        proc.stdin.write(line)
        proc.stdin.close()
        self._running[run.run_id] = proc
        # The next runs' processes warm up while this one runs.
        threading.Thread(target=self._prepare_next, daemon=True).start()

    @property
    def supports_check_run_worker_health(self) -> bool:
        """Run monitoring can ask whether a run's process is alive."""
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """Running while the run's process is; failed if it exited with an error."""
        proc = self._running.get(run.run_id)
        if proc is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "not launched by this process")
        code = proc.poll()
        if code is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.SUCCESS if code == 0 else WorkerStatus.FAILED, f"exit code {code}"
        )

    def terminate(self, run_id: str) -> bool:
        """Stop a run's process (Dagster marks the run canceled)."""
        proc = self._running.get(run_id)
        if proc is None or proc.poll() is not None:
            return False
        instance = launcher_instance(self)
        run = instance.get_run_by_id(run_id)
        if run is not None:
            instance.report_run_canceling(run)
        proc.terminate()
        return True

    def dispose(self) -> None:
        """Stop the waiting processes when the instance shuts down (runs finish on their own)."""
        with self._lock:
            while self._warm:
                _stop(self._warm.popleft()[0])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill a waiting warm process (it holds no run) and reap it."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _lower_priority(pid: int, nice: int) -> None:
    """Give every thread of process ``pid`` at least the nice value ``nice`` (the nice value
    is per thread on Linux; threads started later inherit their starter's). A thread already
    nicer (the warm-up's) keeps its value: lowering it would need privileges."""
    tasks = Path(f"/proc/{pid}/task")
    for tid in [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [pid]:
        with suppress(ProcessLookupError, PermissionError):  # a thread that just ended
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
