"""A run process that warms up before its run is known (see :mod:`dagster_project.launcher`).

It imports the code location, loads dbt's manifest, compiles dbt's macro templates, pays what
dbt's first command in a process pays once, and opens the Dagster instance, then waits for
one line on standard input: the serialized arguments of ``dagster api execute_run``, which it
then runs in this process. An empty input (the launcher went away) ends it without a run.

The warm-up runs in a thread of its own at the lowest CPU priority: the launcher starts a
replacement as soon as it hands a run out, so on 2 cores a warm-up (about 12 s of CPU) would
otherwise take half the CPU of the pass it overlaps. The nice value is per thread on Linux,
so the run itself, started from the main thread, keeps the normal priority; a run handed over
before the warm-up ended gives the warm-up the normal priority back where the OS allows it.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import suppress

WARM_UP_NICE = 19
"""The warm-up thread's nice value: it gets the CPU a running pass leaves."""


def warm_up() -> None:
    """Import and prepare what a run needs, at low priority (this thread only)."""
    if hasattr(os, "setpriority"):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_UP_NICE)
    from dagster import DagsterInstance

    import dagster_project.definitions  # noqa: F401  (Dagster, dagster-dbt, dbt, the assets)
    from dagster_project.resources.dbt_inprocess import compile_macro_templates, warm_dbt

    compile_macro_templates()  # loads the manifest first
    try:
        warm_dbt()
    except Exception as exc:  # only speed is lost: the run pays the cost itself
        print(f"hot warm run: dbt warm-up skipped: {exc}", file=sys.stderr, flush=True)
    # The instance the run will open: its storage classes (SQLAlchemy, the storage schema)
    # are seconds of imports that would otherwise come between the launch and the run's start.
    if os.environ.get("DAGSTER_HOME"):
        with DagsterInstance.get():
            pass


def _hurry(warming: threading.Thread) -> None:
    """A run arrived before the warm-up ended: the rest of the warm-up is now the run's own
    start-up, so it gets the normal priority back where the OS allows it (raising a priority
    needs CAP_SYS_NICE or RLIMIT_NICE; without them it finishes at low priority)."""
    if warming.native_id is not None and hasattr(os, "setpriority"):
        normal = os.getpriority(os.PRIO_PROCESS, 0)  # the main thread's
        with suppress(PermissionError, ProcessLookupError):  # not allowed, or already done
            os.setpriority(os.PRIO_PROCESS, warming.native_id, normal)


def main() -> None:
    """Warm up, wait for a run, execute it."""
    warming = threading.Thread(target=warm_up, name="warm-up")
    warming.start()
    line = sys.stdin.readline().strip()
    if line and warming.is_alive():
        _hurry(warming)
    warming.join()  # a run handed over early waits for the rest of the warm-up
    if not line:
        return
    from dagster_project._dagster_internals import execute_run

    execute_run(line)


if __name__ == "__main__":
    main()
