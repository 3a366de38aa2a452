"""The `hot` process a terminal or a service manager sees: it runs the command in a child of
its own session and hands it each SIGINT / SIGTERM, then makes sure nothing is left.

Why a child: a terminal sends Ctrl-C to its whole foreground process group, so every helper
a library starts there (Dagster's compute-log tails and their watchers, for one) would stop
on its own, in no order, some with a traceback. In a session of its own the command hears
only the one signal this process passes on, and stops in order (:mod:`hot.cli.stopping`).
Once it has exited, whatever it started and left behind (re-parented here, this process
being a child subreaper) is stopped too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from hot.local.processes import alive, become_subreaper, descendants, wait_gone

SUPERVISED_ENV = "HOT_CLI_SUPERVISED"
"""Set in the child: run the command itself."""
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
LEFTOVER_GRACE_SEC = 2.0


def supervise(argv: Sequence[str]) -> int:
    """Run ``hot ARGV`` in a child session until it exits; its exit status (128 + signal
    if a signal ended it)."""
    become_subreaper()
    child = subprocess.Popen(
        [sys.executable, "-m", "hot.cli", *argv],
        env={**os.environ, SUPERVISED_ENV: "1"},
        start_new_session=True,
    )

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    status = child.wait()
    _stop_leftovers()
    return status if status >= 0 else 128 - status


def _stop_leftovers() -> None:
    """SIGTERM, then SIGKILL, to every process still below this one."""
    left = descendants(os.getpid())
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    still = wait_gone(lambda: alive(left), LEFTOVER_GRACE_SEC, poll=0.05)
    for pid in still | descendants(os.getpid()):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:  # reap the adopted ones
            pass
