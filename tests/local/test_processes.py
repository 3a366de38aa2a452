"""hot.local.processes: stopping one command leaves the caller's other children alone."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from hot.local.processes import is_subreaper, spawn, stop_all, terminate

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_stop_all_spares_the_callers_other_children() -> None:
    """A test process is no subreaper: stopping the command it started must not kill the
    session's servers (a Redis the whole suite shares was once lost this way)."""
    assert not is_subreaper()
    server = spawn(SLEEP)
    command = spawn(SLEEP)
    try:
        stop_all([command], signal.SIGTERM, grace=5)
        assert command.poll() is not None
        # A SIGKILL sent to it would end it well within a second.
        with pytest.raises(subprocess.TimeoutExpired):
            server.wait(timeout=1)
    finally:
        terminate(server, grace=5)
        terminate(command, grace=5)
