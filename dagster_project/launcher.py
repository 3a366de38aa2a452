"""A run launcher whose run processes start warm: forked from a warmed-up run server.

Dagster's default launcher starts a new Python process per run, which then imports Dagster,
dbt and the code location before the first step: seconds a landed file waits for, and about
12 s of CPU per run. This launcher keeps one *run server* (:mod:`dagster_project.warm_run`)
that has imported the code location, loaded dbt's manifest and compiled its macros once; a
launch sends it the run, and it forks a process that executes that one run exactly as
``dagster api execute_run`` does and exits. Each run still gets a process of its own; it
starts in milliseconds, warm. A run of the background lane (embeddings, full-scan checks:
:mod:`dagster_project.lanes`) runs at a lower CPU priority, so a pass beside it gets the cores
first.

A server started before the code changed would fork the old code: it is retired (it finishes
its running runs and exits) and a new one started when a file of the code location or the dbt
project is newer than it; likewise a server that died. The launcher knows each run's process
id from the server, which also reports how each one ended: run monitoring (``dagster.yaml``)
marks a run whose process died as failed, and a run is cancelled by signalling its process.

Configured in ``dagster.yaml`` (written by :mod:`dagster_project.instance`)::

    run_launcher:
      module: dagster_project.launcher
      class: WarmProcessRunLauncher
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import OrderedDict
from contextlib import suppress
from pathlib import Path
from typing import Any

import psutil
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DefaultRunLauncher

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
WATCHED = (ROOT / "dagster_project", ROOT / "hot", ROOT / "dbt" / "models", ROOT / "dbt" / "macros")
PID_WAIT_SEC = 60.0
"""How long a cancel waits for the server to fork the run (it may still be warming up)."""
KEPT_RUNS = 1_000
"""Runs whose process the launcher remembers (run monitoring asks about running ones)."""
EXIT_WAIT_SEC = 1.0
"""How long a health check waits for the end of a run process that is gone to be reported."""


def _code_version() -> float:
    """The newest modification time of the code a run process loads."""
    newest = 0.0
    for folder in WATCHED:
        for path in folder.rglob("*"):
            if path.suffix in {".py", ".sql", ".yml"}:
                newest = max(newest, path.stat().st_mtime)
    return newest


def logged_pid(instance: DagsterInstance, run_id: str) -> int | None:
    """The process id the run's process logged when it started (``dagster api execute_run``
    does): how a launcher in another process (the webserver, a restarted daemon) finds it."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        if data is not None and "pid" in data.metadata:
            return int(str(data.metadata["pid"].value))
    return None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not ended (a zombie has)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class RunServer:
    """One run server process, and what it reported: each run's pid, each pid's exit code."""

    def __init__(self) -> None:
        self.version = _code_version()
        read_end, write_end = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.warm_run", str(write_end)],
            stdin=subprocess.PIPE,
            pass_fds=(write_end,),
            cwd=ROOT,
            env=dict(os.environ),
        )
        os.close(write_end)
        self._replies = os.fdopen(read_end, "rb")
        self._changed = threading.Condition()
        self.pids: dict[str, int] = {}
        self.exits: dict[int, int] = {}
        threading.Thread(target=self._read_replies, name="run-server", daemon=True).start()

    def _read_replies(self) -> None:
        with self._replies:
            for raw in self._replies:
                kind, key, value = raw.decode().split()
                with self._changed:
                    if kind == "started":
                        self.pids[key] = int(value)
                    else:
                        self.exits[int(key)] = int(value)
                    self._changed.notify_all()

    @property
    def serving(self) -> bool:
        """Alive and its input open: it takes requests."""
        return self.proc.poll() is None and self.proc.stdin is not None

    def submit(self, run_id: str, line: bytes, nice: int) -> None:
        """Ask for a process for the run (forked once the server is warm)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{nice}\t{run_id}\t".encode() + line.rstrip(b"\n") + b"\n")
        self.proc.stdin.flush()

    def retire(self) -> None:
        """No more requests: the server exits once its running runs have ended."""
        if self.proc.stdin is not None:
            with suppress(BrokenPipeError):  # it died: nothing to tell it
                self.proc.stdin.close()
            self.proc.stdin = None

    def pid(self, run_id: str, timeout: float) -> int | None:
        """The run's process id, waiting up to ``timeout`` for the fork (``None``: not yet)."""
        with self._changed:
            self._changed.wait_for(
                lambda: run_id in self.pids or self.proc.poll() is not None, timeout
            )
            return self.pids.get(run_id)

    def exit_code(self, pid: int, timeout: float) -> int | None:
        """How process ``pid`` ended, waiting up to ``timeout`` for the report."""
        with self._changed:
            self._changed.wait_for(lambda: pid in self.exits, timeout)
            return self.exits.get(pid)


class WarmProcessRunLauncher(RunLauncher, ConfigurableClass):
    """Launch each run in a process forked from a warmed-up run server."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        self._lock = threading.Lock()
        self._server: RunServer | None = None
        self._servers: OrderedDict[str, RunServer] = OrderedDict()
        """By run id, the server that forked the run (the latest :data:`KEPT_RUNS`)."""
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

    def _current_server(self) -> RunServer:
        """The server to fork the next run: the running one while it serves the current
        code, else a new one (the old one finishes its runs and exits)."""
        with self._lock:
            server = self._server
            if server is None or not server.serving or server.version < _code_version():
                if server is not None:
                    server.retire()
                server = self._server = RunServer()
            return server

    def launch_run(self, context: LaunchRunContext) -> None:
        """Send the run to the run server, which forks its process."""
        run = context.dagster_run
        line = execute_run_line(run, launcher_instance(self))
        nice = BACKGROUND_NICE if run.tags.get(LANE_TAG) == BACKGROUND_LANE else 0
        server = self._current_server()
        try:
            server.submit(run.run_id, line, nice)
        except BrokenPipeError:  # it died since: a new one
            server.retire()
            server = self._current_server()
            server.submit(run.run_id, line, nice)
        self._servers[run.run_id] = server
        while len(self._servers) > KEPT_RUNS:
            self._servers.popitem(last=False)

    @property
    def supports_check_run_worker_health(self) -> bool:
        """Run monitoring can ask whether a run's process is alive."""
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """Running while the run's process is (or is being forked); failed if it exited
        with an error or is gone."""
        server = self._servers.get(run.run_id)
        if server is None:  # launched by another process: its run process is all there is
            pid = logged_pid(launcher_instance(self), run.run_id)
            if pid is None:
                # Every launched run logs its pid before it starts: this one ran in a process
                # of its own choosing (`hot run` executes in-process), which is not ours to judge.
                return CheckRunHealthResult(WorkerStatus.RUNNING, "not a launched run")
            if _alive(pid):
                return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {pid}")
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run process {pid} is gone")
        pid = server.pid(run.run_id, 0)
        if pid is None:
            if server.proc.poll() is None:
                return CheckRunHealthResult(WorkerStatus.RUNNING, "waiting for the run server")
            return CheckRunHealthResult(WorkerStatus.FAILED, "the run server died before the run")
        code = server.exit_code(pid, 0)
        if code is None and not _alive(pid):
            code = server.exit_code(pid, EXIT_WAIT_SEC)
            if code is None:
                return CheckRunHealthResult(WorkerStatus.FAILED, f"run process {pid} is gone")
        if code is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.SUCCESS if code == 0 else WorkerStatus.FAILED, f"exit code {code}"
        )

    def terminate(self, run_id: str) -> bool:
        """Interrupt a run's process (it stops at its next step boundary or wait, and Dagster
        marks the run canceled). The webserver's launcher did not launch it: it finds the
        process by the id the run logged."""
        instance = launcher_instance(self)
        server = self._servers.get(run_id)
        if server is not None:
            pid = server.pid(run_id, PID_WAIT_SEC)
            if pid is None or server.exit_code(pid, 0) is not None:
                return False
        else:
            pid = logged_pid(instance, run_id)
            if pid is None or not _alive(pid):
                return False
        run = instance.get_run_by_id(run_id)
        if run is not None:
            instance.report_run_canceling(run)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        """Retire the server when the instance shuts down (its runs finish on their own)."""
        with self._lock:
            if self._server is not None:
                self._server.retire()
                self._server = None
