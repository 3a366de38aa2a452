"""Child processes that stop together: each in its own session, the whole tree signalled,
whatever is left after a grace period killed.

A command started from a terminal shares its process group with its children, so Ctrl-C
reaches all of them at once and each stops in its own order (Redis before the run that
writes to it). Started with :func:`spawn`, a child hears only what the command sends it, in
the order :func:`stop_all` sends it. Processes a child starts in sessions of their own (as
Dagster does with its code servers) are still found from the command's process tree
(psutil): the command is made a child subreaper (:func:`become_subreaper`), so those whose
parent has died are re-parented to it instead of to init.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence

import psutil
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_result,
    stop_after_delay,
    stop_any,
    wait_fixed,
)
from tenacity.retry import retry_base
from tenacity.stop import stop_base

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


def _prctl(option: int, arg: object) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, arg, 0, 0, 0)


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def is_subreaper() -> bool:
    """Whether this process adopts orphaned descendants (see :func:`become_subreaper`)."""
    if not sys.platform.startswith("linux"):
        return False
    flag = ctypes.c_int(0)
    _prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(flag))
    return bool(flag.value)


def terminate(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    """Stop ``proc`` with SIGTERM, then SIGKILL if it is still running after ``grace``
    seconds; nothing if it is ``None`` or has exited."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def spawn(args: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """``Popen`` in a new session: the terminal's Ctrl-C does not reach it, its process
    group is its own (``os.killpg(child.pid, ...)`` reaches what it starts)."""
    return subprocess.Popen(args, start_new_session=True, **kwargs)  # type: ignore[call-overload]


def _running(process: psutil.Process) -> bool:
    """Whether ``process`` still runs (a zombie has exited: it only waits to be reaped)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    return {child.pid for child in children if _running(child)}


def alive(pids: Iterable[int]) -> set[int]:
    """Those of ``pids`` that are still running (zombies count as gone)."""
    running = set()
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            if _running(psutil.Process(pid)):
                running.add(pid)
    return running


def wait_gone(still: Callable[[], set[int]], timeout: float, poll: float) -> set[int]:
    """Call ``still()`` (the processes not gone yet) every ``poll`` seconds until it is
    empty or ``timeout`` seconds have passed; what it returned last."""
    try:
        Retrying(
            retry=retry_if_result(bool), stop=stop_after_delay(timeout), wait=wait_fixed(poll)
        )(still)
    except RetryError as error:
        left: set[int] = error.last_attempt.result()
        return left
    return set()


class stop_when_exited(stop_base):
    """A tenacity stop condition: ``proc`` has exited (a server that died will not answer,
    so waiting for it to start gives up at once)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def __call__(self, retry_state: RetryCallState) -> bool:
        """Whether to stop retrying: the process is gone."""
        return self.proc.poll() is not None


def while_starting(
    proc: subprocess.Popen[bytes], retry: retry_base, timeout: float, interval: float
) -> Retrying:
    """tenacity's retrying of a probe of the server ``proc`` while it starts: ``retry`` says
    which outcomes to try again, every ``interval`` seconds; it gives up after ``timeout``
    seconds, or at once when ``proc`` has exited (raising ``RetryError`` either way)."""
    return Retrying(
        retry=retry,
        stop=stop_any(stop_after_delay(timeout), stop_when_exited(proc)),
        wait=wait_fixed(interval),
    )


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(OSError):  # gone already
        os.killpg(pid, sig)


def stop_all(
    children: Sequence[subprocess.Popen[bytes]], sig: int, grace: float, keep: Iterable[int] = ()
) -> None:
    """Send ``sig`` to each child's process group, wait up to ``grace`` seconds for them and
    everything they started, then SIGKILL whatever is left; reap the children.

    When this process is a subreaper (see :func:`become_subreaper`), the orphans it adopted
    are stopped too, except the processes in ``keep`` and what they started (e.g. a Redis
    the caller stops last). Otherwise its other children are not touched: a test process
    stopping one command keeps its session's servers.
    """
    kept = set(keep)
    kept |= {d for pid in kept for d in descendants(pid)}
    adopted = is_subreaper()

    def tree_now(seen: set[int]) -> set[int]:
        # Processes started meanwhile (a run worker launched as the daemon stops) count too.
        roots = alive(seen) | {c.pid for c in children}
        return (
            seen
            | {d for pid in roots for d in descendants(pid)}
            | ((descendants(os.getpid()) - kept) if adopted else set())
        )

    tree = tree_now(set())
    for child in children:
        _signal_group(child.pid, sig)

    def still() -> set[int]:
        nonlocal tree
        for child in children:
            child.poll()  # reap, or a finished child stays a zombie
        tree = tree_now(tree)
        return alive(tree)

    wait_gone(still, grace, poll=0.1)
    for child in children:
        _signal_group(child.pid, signal.SIGKILL)
    for pid in alive(tree_now(tree)):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
