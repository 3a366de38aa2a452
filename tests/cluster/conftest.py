"""The production topology of SPEC §9b for the cluster tests: the real `hot cluster` command,
started once for the session as a process of its own, its env and pids files read as an
operator would, and stopped (Ctrl-C) at the end.

Tests share the one cluster: each uses data of its own (its own videos, event ids, topic or
snapshot), and a test that kills a part waits until the command has started it again, so
the next test finds the cluster whole.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hot.local.cluster import read_values
from hot.local.processes import alive

READY = "hot cluster: ready"
START_TIMEOUT_SEC = 900.0
"""Generous: four JVM kinds start on two shared cores."""
STOP_TIMEOUT_SEC = 120.0
RESTART_TIMEOUT_SEC = 300.0
"""How long a killed part may take to be noticed, wait its delay and start again."""


@dataclass
class HotCluster:
    """A running `hot cluster`: its data dir, its settings and its processes."""

    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def directory(self) -> Path:
        """``$HOT_DATA_DIR/cluster``."""
        return self.data_dir / "cluster"

    @property
    def env(self) -> dict[str, str]:
        """The settings the command wrote (``cluster/env``)."""
        return read_values(self.directory / "env")

    def pids(self) -> dict[str, int]:
        """Role → pid, as the pids file says now."""
        return {role: int(pid) for role, pid in read_values(self.directory / "pids").items()}

    def client_env(self, **extra: str) -> dict[str, str]:
        """The environment of a client process (``hot run``, the API): the cluster's
        settings over this process's, without any ``HOT_*`` of the test session's own."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("HOT_")}
        return {**base, **self.env, **extra}

    def wait_restarted(self, role: str, killed_pid: int) -> int:
        """Wait until the command has started ``role`` again (a new pid in the pids file,
        running); that pid."""
        deadline = time.monotonic() + RESTART_TIMEOUT_SEC
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            pid = self.pids().get(role)
            if pid is not None and pid != killed_pid and alive([pid]):
                return pid
            time.sleep(0.5)
        raise AssertionError(f"{role} was not started again:\n{self.log.read_text()[-3000:]}")


def hot_command() -> str:
    """The `hot` console script of this venv."""
    return str(Path(sys.executable).with_name("hot"))


@pytest.fixture(scope="package")
def hot_cluster() -> Iterator[HotCluster]:
    """`hot cluster` in the background while the tests of this package run; then it is
    stopped as by Ctrl-C and every process it ran must be gone."""
    # Not pytest's tmp_path: PostgreSQL started by root runs as another user, which must
    # be able to reach its folder.
    data_dir = Path(tempfile.mkdtemp(prefix="hot-cluster-"))
    data_dir.chmod(0o755)
    log = data_dir / "hot-cluster.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOT_")}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [hot_command(), "cluster"],
            env={**env, "HOT_DATA_DIR": str(data_dir)},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cluster = HotCluster(data_dir, process, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SEC
        while READY not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"hot cluster did not come up:\n{log.read_text()[-5000:]}")
            time.sleep(0.5)
        yield cluster
    finally:
        _stop(cluster)
    shutil.rmtree(data_dir, ignore_errors=True)


def _stop(cluster: HotCluster) -> None:
    """Ctrl-C the command; fail if it or any process of its pids file outlives the stop."""
    pids_file = cluster.directory / "pids"
    ran = set(cluster.pids().values()) if pids_file.exists() else set()
    cluster.process.send_signal(signal.SIGINT)
    try:
        cluster.process.wait(timeout=STOP_TIMEOUT_SEC)
    except subprocess.TimeoutExpired:
        os.killpg(cluster.process.pid, signal.SIGKILL)
        cluster.process.wait()
    left = alive(ran)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after hot cluster stopped: {left}"
    assert "hot cluster: stopped" in cluster.log.read_text(), cluster.log.read_text()[-3000:]
