"""How an in-process Dagster run looks on the terminal.

While a step runs it has a progress bar (on a terminal only, gone when the run ends); when
it ends it leaves one line on stdout saying what it did — read from the run's own events
(:class:`dagster_project.runner.StepEvent`), not from re-querying anything.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TextIO

from rich.progress import TaskID
from rich.text import Text

from dagster_project.run_events import StepEvent, StepReport
from hot.cli.common import console, progress_bars


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _ingest(report: StepReport) -> str:
    files, parts = 0, []
    for asset, meta in report.assets.items():
        n = int(meta.get("files", 0))
        if not n:
            continue
        files += n
        extra = [f"{meta[k]} {k}" for k in ("quarantined", "duplicates") if meta.get(k)]
        parts.append(
            f"{asset.rpartition('/')[2]} {_plural(n, 'file')}, {meta.get('rows_in', 0)} rows"
            + (f" ({', '.join(extra)})" if extra else "")
        )
    if not parts:
        return "no pending landing files"
    return f"{_plural(files, 'file')}: " + "; ".join(parts)


def _dbt(report: StepReport) -> str:
    text = f"{_plural(len(report.assets), 'model')} built, {report.checks_passed} tests passed"
    return text + (f", {report.checks_failed} failed" if report.checks_failed else "")


def _publish(report: StepReport) -> str:
    meta = next(iter(report.assets.values()), {})
    return f"{meta.get('items', 0)} items, review queue {meta.get('review_queue', 0)}"


def _embeddings(report: StepReport) -> str:
    meta = next(iter(report.assets.values()), {})
    if meta.get("method") == "import":
        return f"imported {meta.get('rows', 0)} vectors from {meta.get('source')}"
    return (
        f"ALS learned from {meta.get('pairs', 0)} user-video pairs, dim "
        f"{meta.get('dimension', 0)}, {meta.get('trials', 0)} tuning trials"
    )


STEPS: dict[str, tuple[str, Callable[[StepReport], str]]] = {
    "landing_files": ("ingest", _ingest),
    "hot_dbt_assets": ("dbt build", _dbt),
    "hot_snapshot": ("publish", _publish),
    "embeddings": ("embeddings", _embeddings),
}
"""Step key → its label and what its line says (other steps get a generic line)."""


def step_line(report: StepReport) -> Text:
    """The one line a finished step leaves: label, what it did, how long it took."""
    label, describe = STEPS.get(
        report.step, (report.step, lambda r: f"{_plural(len(r.assets), 'asset')} materialized")
    )
    ok = report.status == "succeeded"
    line = Text()
    line.append(f"{label:<11}", style="bold green" if ok else "bold red")
    line.append(describe(report) if ok else "failed")
    line.append(f"  ({report.seconds:.1f}s)", style="dim")
    return line


class RunDisplay:
    """The ``on_event`` callback of a run: bars while its steps run, a line when each ends.

    ``planned`` maps step keys to the events each yields (the bars' totals); with ``bars``
    false (``--verbose``: Dagster's log goes to the terminal instead) only the lines show.
    """

    def __init__(self, planned: Mapping[str, int], bars: bool = True) -> None:
        self._planned = planned
        self._reports: dict[str, StepReport] = {}
        self._tasks: dict[str, TaskID] = {}
        # Dagster captures a step's output by pointing file descriptors 1 and 2 at a pipe
        # (for the UI's compute logs): the display writes to its own copy of stdout, taken
        # now, so that it stays on the terminal (and out of the compute logs).
        sys.stdout.flush()
        self._stdout: TextIO = sys.stdout
        with contextlib.suppress(AttributeError, OSError, io.UnsupportedOperation):
            self._stdout = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
        display = console(self._stdout)
        display.width = display.width  # measured now, while the descriptor is the terminal
        self._progress = progress_bars(display, enabled=bars)

    def __enter__(self) -> RunDisplay:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
        if self._stdout is not sys.stdout:
            self._stdout.close()

    def __call__(self, event: StepEvent) -> None:
        """Account for one event of the run."""
        report = self._reports.setdefault(event.step, StepReport(event.step))
        report.add(event)
        if event.kind == "started":
            label = STEPS.get(event.step, (event.step, None))[0]
            self._tasks[event.step] = self._progress.add_task(
                label, total=self._planned.get(event.step)
            )
        elif event.kind in ("asset", "check") and event.step in self._tasks:
            self._progress.advance(self._tasks[event.step])
        elif event.kind in ("succeeded", "failed"):
            task = self._tasks.pop(event.step, None)
            if task is not None:
                self._progress.remove_task(task)
            self._progress.console.print(step_line(report))
