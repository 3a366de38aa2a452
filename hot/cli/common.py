"""What several `hot` commands share: their options (each defined once), Redis, the consoles."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from hot.settings import Settings, get_settings

if TYPE_CHECKING:
    from hot.local.redis_server import EmbeddedRedis

F = TypeVar("F", bound=Callable[..., Any])


def console(file: TextIO | None = None, stderr: bool = False) -> Console:
    """A console that never splits a line and prints text as is (no highlighting, no emoji).

    Without ``file`` it writes to whatever ``sys.stdout`` (``sys.stderr``) is at the time.
    """
    return Console(file=file, stderr=stderr, soft_wrap=True, highlight=False, emoji=False)


out = console()
"""Standard output: what a command did, and its progress bars (on a terminal only)."""
err = console(stderr=True)
"""Standard error: why a command failed."""


def progress_bars(on: Console, enabled: bool = True) -> Progress:
    """Progress bars drawn on ``on`` if it is a terminal, gone once the work is done.

    Lines printed with ``bars.console.print`` meanwhile show above the bars.
    """
    # Checked here: rich still writes a blank line for a transient display off a terminal.
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=on,
        transient=True,
        disable=not (enabled and on.is_terminal),
    )


port_option = click.option(
    "--port", type=int, default=8000, show_default=True, help="API / web page port"
)
verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="show Dagster's full log (its DEBUG stream) instead of one line per step",
)


def events_option(default: int) -> Callable[[F], F]:
    """``--events``: event lines per synthetic micro-batch."""
    return click.option(
        "--events", type=int, default=default, show_default=True, help="events per micro-batch"
    )


def interval_option(default: float) -> Callable[[F], F]:
    """``--interval``: seconds between two synthetic micro-batches."""
    return click.option(
        "--interval",
        type=float,
        default=default,
        show_default=True,
        help="seconds between micro-batches",
    )


@contextmanager
def redis_for_command(settings: Settings) -> Iterator[EmbeddedRedis | None]:
    """Point HOT_REDIS_URL at the configured server, or at the data dir's embedded one.

    Yields the embedded server this process started (stopped on exit), else None (the
    configured server, or one started by another `hot` process, is left running).
    """
    if settings.redis_url:
        yield None
        return
    from hot.local.redis_server import ensure_local_redis

    url, server = ensure_local_redis(settings.data_dir / "redis")
    os.environ["HOT_REDIS_URL"] = url
    get_settings.cache_clear()
    try:
        yield server
    finally:
        if server is not None:
            server.stop()
