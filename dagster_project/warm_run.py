"""The run server: warmed up once, it forks a process for each run (see
:mod:`dagster_project.launcher`).

It imports the code location, loads dbt's manifest, compiles dbt's macro templates, pays what
dbt's first command in a process pays once, and opens the Dagster instance; then it reads
requests on standard input, one per line: ``<nice>\\t<run id>\\t<line>``, where ``<line>`` is
the serialized arguments of ``dagster api execute_run``. For each it forks a child that runs
that one run exactly as ``dagster api execute_run`` does (at nice ``<nice>``) and exits with
its code: each run still has a process of its own, which starts warm in milliseconds instead
of the ~12 s of CPU a warm-up costs. A run process started per run paid that warm-up for
every pass under a steady stream (docs/benchmarks.md).

Replies go to the file descriptor given as the only argument, one line each:
``started <run id> <pid>`` when a child is forked and ``exit <pid> <code>`` when it ends
(``<code>`` negative: killed by that signal). An end of input (the launcher went away, or
retired this server for newer code) stops the forking; the server waits for its running
children, reports their ends and exits.

Forking is safe because the server has one thread when it forks: the warm-up thread has
ended, and nothing the warm-up imports keeps a thread or an open database (the instance is
closed again; dbt's warm-up does not open the warehouse). The warm-up runs at the lowest CPU
priority (a pass may be running beside it); a request that arrives before it ended gives it
the normal priority back where the OS allows it (raising a priority needs CAP_SYS_NICE or
RLIMIT_NICE; without them it finishes at low priority).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import traceback
from contextlib import suppress

WARM_UP_NICE = 19
"""The warm-up thread's nice value: it gets the CPU a running pass leaves."""
REAP_EVERY_SEC = 0.2
"""How often the server looks for ended children while no request comes."""


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
    except Exception as exc:  # only speed is lost: each run pays the cost itself
        print(f"hot run server: dbt warm-up skipped: {exc}", file=sys.stderr, flush=True)
    # The instance the runs will open: its storage classes (SQLAlchemy, the storage schema)
    # are seconds of imports that would otherwise come between a launch and the run's start.
    if os.environ.get("DAGSTER_HOME"):
        with DagsterInstance.get():
            pass


def _hurry(warming: threading.Thread) -> None:
    """A request arrived before the warm-up ended: the rest of the warm-up is now that run's
    start-up, so it gets the main thread's priority back where the OS allows it."""
    if warming.native_id is not None and hasattr(os, "setpriority"):
        normal = os.getpriority(os.PRIO_PROCESS, 0)  # the main thread's
        with suppress(PermissionError, ProcessLookupError):  # not allowed, or already done
            os.setpriority(os.PRIO_PROCESS, warming.native_id, normal)


def _run_child(nice: int, line: str, replies: int) -> None:
    """In the forked child: the run, then exit with its code (never returns)."""
    code = 1
    try:
        os.close(replies)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # the requests are the server's, not the run's
        os.close(devnull)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the run's to handle
        if nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)  # this (only) thread; later ones inherit
        from dagster_project._dagster_internals import execute_run

        try:
            execute_run(line)
            code = 0
        except SystemExit as exit_:  # how the CLI ends: its code is the run's
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        # No interpreter teardown: the server's exit handlers and its objects are not the
        # run's, and DuckDB's binding reports "leaked" objects at teardown.
        with suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class _Server:
    """Requests in, children forked, their ends reported."""

    def __init__(self, requests: int, replies: int) -> None:
        self.requests, self.replies = requests, replies
        self.children: set[int] = set()
        self.buffer = b""

    def reply(self, *fields: object) -> None:
        """One reply line (shorter than PIPE_BUF: written at once)."""
        os.write(self.replies, (" ".join(map(str, fields)) + "\n").encode())

    def reap(self, block: bool = False) -> None:
        """Report every ended child (``block``: wait for one at least, while any runs)."""
        flags = 0 if block else os.WNOHANG
        while self.children:
            pid, status = os.waitpid(-1, flags)
            if pid == 0:
                return
            self.children.discard(pid)
            self.reply("exit", pid, os.waitstatus_to_exitcode(status))
            flags = os.WNOHANG

    def fork(self, request: bytes) -> None:
        """Fork the child for one request (a malformed one is reported and skipped)."""
        try:
            nice, run_id, line = request.decode().split("\t", 2)
            niceness = int(nice)
        except ValueError:
            print(f"hot run server: malformed request {request[:80]!r}", file=sys.stderr)
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(niceness, line, self.replies)
        self.children.add(pid)
        self.reply("started", run_id, pid)

    def lines(self) -> list[bytes] | None:
        """The complete request lines read now (``None``: end of input)."""
        chunk = os.read(self.requests, 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\n")
        return [line for line in complete if line.strip()]

    def serve(self) -> None:
        """Fork a child per request until the input ends; then wait for the children."""
        while True:
            ready, _, _ = select.select([self.requests], [], [], REAP_EVERY_SEC)
            self.reap()
            if not ready:
                continue
            lines = self.lines()
            if lines is None:
                break
            for line in lines:
                self.fork(line)
        while self.children:
            self.reap(block=True)


def main() -> None:
    """Warm up, then fork a run process per request."""
    replies = int(sys.argv[1]) if len(sys.argv) > 1 else sys.stdout.fileno()
    requests = sys.stdin.fileno()
    # A Ctrl-C reaches the whole process group: the runs stop on it, and the server ends with
    # its input (its launcher's end), once it has reported how they ended.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warming = threading.Thread(target=warm_up, name="warm-up")
    warming.start()
    # A request that comes during the warm-up hurries it; it is served once the warm-up ends.
    while warming.is_alive():
        ready, _, _ = select.select([requests], [], [], REAP_EVERY_SEC)
        if ready:
            _hurry(warming)
            break
    warming.join()
    _Server(requests, replies).serve()


if __name__ == "__main__":
    main()
