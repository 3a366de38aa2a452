"""Ctrl-C and SIGTERM: how a `hot` command stops, quickly and quietly.

The signal handlers only record the signal. The main thread, which only waits while a
command runs, sees it within a tenth of a second and raises :class:`Stopped`, so every
``finally`` on the way out runs (children stopped, the embedded Redis last), and
:func:`hot.cli.main` prints one line. An in-process Dagster run (with its imports, which
take seconds) runs in a worker thread: a stop does not wait for it (dbt and DuckDB do not
stop mid-statement), the run is marked canceled in Dagster, and the process exits without
waiting for the thread. Nothing is lost or counted twice: a landing file counts once its
rows and its ledger entry are committed together, so the files of an interrupted run are
simply pending again at the next start.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

R = TypeVar("R")

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C, a service manager's stop, the terminal closing: all stop a command cleanly."""
POLL_SEC = 0.1
"""How often a waiting main thread looks at the recorded signal."""


class Stopped(Exception):
    """The command was asked to stop (by ``signum``, or by its server's own signal handling
    when ``None``); it exits with the conventional ``128 + signum`` (0 without one)."""

    def __init__(self, signum: int | None) -> None:
        super().__init__(signal.Signals(signum).name if signum else "stopped")
        self.signum = signum
        self.exit_code = 128 + signum if signum else 0
        self.command = ""
        """The sub-command that stopped (set on the way out, for the message)."""


class StopSignals:
    """Stop signals recorded (not raised where they land) while a command runs."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._on_stop: list[Callable[[], None]] = []
        # The terminal as it is now: while a Dagster step runs, descriptors 1 and 2 point
        # at its compute-log capture, and the stop message must not end up there.
        sys.stdout.flush()
        self._stdout = sys.stdout
        with contextlib.suppress(AttributeError, OSError, ValueError):
            self._stdout = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        # Nothing else here: the main thread may be anywhere, even holding a lock.
        if self.signum is None:
            self.signum = signum

    def check(self) -> None:
        """Raise :class:`Stopped` if a stop signal has arrived."""
        if self.signum is not None:
            raise Stopped(self.signum)

    def sleep(self, seconds: float) -> None:
        """Sleep, raising :class:`Stopped` as soon as a stop signal arrives."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.check()
            time.sleep(min(POLL_SEC, left))
        self.check()

    @contextmanager
    def closing_on_stop(self, close: Callable[[], None]) -> Iterator[None]:
        """While inside, a stop calls ``close`` from the main thread (e.g. the progress bars
        a worker thread draws, which must give the terminal back before the message)."""
        self._on_stop.append(close)
        try:
            yield
        finally:
            self._on_stop.remove(close)

    def run(self, work: Callable[[], R]) -> R:
        """``work()`` in a worker thread: its result or its exception, or :class:`Stopped`
        as soon as a stop signal arrives (the thread is then left to the process's exit)."""
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = work()
            except BaseException as exc:  # handed to the main thread (no thread traceback)
                outcome["error"] = exc

        worker = threading.Thread(target=target, name="hot-work", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                self.check()
                worker.join(POLL_SEC)
        except Stopped:
            for close in list(self._on_stop):
                with contextlib.suppress(Exception):
                    close()
            raise
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def say(self, text: str) -> None:
        """Print one line on the command's own stdout."""
        with contextlib.suppress(OSError, ValueError):
            print(text, file=self._stdout, flush=True)

    def close(self) -> None:
        """Release the copy of stdout."""
        if self._stdout is not sys.stdout:
            with contextlib.suppress(OSError):
                self._stdout.close()


_active: list[StopSignals] = []


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """Record the stop signals while inside (the previous handlers are put back)."""
    stops = StopSignals()
    previous = {sig: signal.signal(sig, stops._record) for sig in SIGNALS}
    _active.append(stops)
    try:
        yield stops
    finally:
        _active.remove(stops)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stops.close()


def current() -> StopSignals:
    """The :class:`StopSignals` of the running command (a fresh one, never signalled, when
    called outside :func:`stop_signals`, e.g. from a test)."""
    return _active[-1] if _active else StopSignals()


def quiet_resource_tracker() -> None:
    """Start multiprocessing's resource tracker now, with its stderr on /dev/null.

    dbt creates semaphores; a process that leaves without waiting for an abandoned run
    leaves them to the tracker, which removes them and warns on the stderr it inherited:
    the terminal, after the one line that says the command stopped.
    """
    from multiprocessing import resource_tracker

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def cancel_run(run_id: str, reason: str) -> None:
    """Mark the run ``run_id`` canceled in the ``DAGSTER_HOME`` instance unless it ended."""
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_canceled(run, message=f"Run canceled: {reason}")


def cancel_launched_runs(reason: str) -> list[str]:
    """Mark canceled the runs the Dagster daemon launched (for a sensor or a schedule) that
    are still going although every Dagster process is gone; their ids."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    instance = DagsterInstance.get()
    going = instance.get_runs(
        RunsFilter(
            statuses=[
                DagsterRunStatus.STARTING,
                DagsterRunStatus.STARTED,
                DagsterRunStatus.CANCELING,
            ]
        )
    )
    canceled = []
    for run in going:
        if {"dagster/sensor_name", "dagster/schedule_name"} & set(run.tags):
            instance.report_run_canceled(run, message=f"Run canceled: {reason}")
            canceled.append(run.run_id)
    return canceled
