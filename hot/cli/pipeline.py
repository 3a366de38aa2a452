"""`hot run` and `hot embed`: one in-process run of a Dagster job, shown step by step."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from hot.cli.common import err, out, redis_for_command, verbose_option
from hot.cli.stopping import Stopped, cancel_run, current, quiet_resource_tracker
from hot.settings import get_settings

if TYPE_CHECKING:
    from dagster_project.run_events import StepEvent
    from dagster_project.runner import EmbedResult, PassResult

R = TypeVar("R")


def shown(job_name: str, verbose: bool, run: Callable[..., R]) -> R:
    """``run(on_event=..., quiet=..., run_id=...)``, an in-process run of ``job_name``, with
    its steps on the terminal.

    Quiet by default: a progress bar per running step and one line per finished step, while
    Dagster's console log shows warnings and errors only; ``verbose`` lets its full log
    through instead of the bars, whose totals come from the job's selection. The run, imports
    included (they take seconds), goes on in a worker thread so that Ctrl-C or SIGTERM is
    seen at once: the run is then marked canceled and :class:`Stopped` raised.
    """
    stops = current()
    run_id = str(uuid.uuid4())
    started = threading.Event()
    quiet_resource_tracker()

    def work() -> R:
        from dagster_project.instance import ensure_dagster_home
        from dagster_project.run_events import job_steps
        from hot.cli.progress import RunDisplay

        ensure_dagster_home()
        display = RunDisplay(job_steps(job_name), bars=not verbose)

        def on_event(event: StepEvent) -> None:
            if stops.signum is None:  # an abandoned run draws nothing more
                display(event)

        with display, stops.closing_on_stop(lambda: display.__exit__(None, None, None)):
            started.set()
            return run(on_event=on_event, quiet=not verbose, run_id=run_id)

    try:
        return stops.run(work)
    except Stopped as stop:
        if started.is_set() and stop.signum:
            cancel_run(run_id, f"hot stopped by {signal.Signals(stop.signum).name}")
        raise


def pipeline_pass(now_epoch: float | None, verbose: bool) -> PassResult:
    """One pipeline pass (ingest, dbt build, publish) on the terminal (Redis already up)."""

    def run(**kwargs: object) -> PassResult:
        from dagster_project.runner import run_pipeline

        return run_pipeline(now_epoch=now_epoch, **kwargs)  # type: ignore[arg-type]

    return shown("hot_pipeline", verbose, run)


def embeddings_run(vectors: Path | None, verbose: bool) -> EmbedResult:
    """One embeddings run on the terminal (Redis already up)."""

    def run(**kwargs: object) -> EmbedResult:
        from dagster_project.runner import run_embed

        return run_embed(vectors, **kwargs)  # type: ignore[arg-type]

    return shown("hot_embeddings", verbose, run)


def up_to_date() -> Mapping[str, str] | None:
    """The current snapshot's meta when nothing is pending and it was built from the warehouse
    as it is (:func:`dagster_project.pass_state.up_to_date`), else None.

    Asked before Dagster and dbt are imported (seconds): a pass would find nothing to ingest
    and publish the same order, so it is not run at all, as the sensors launch no run when
    nothing is pending. A Redis that does not answer is the pass's to report.
    """
    from redis import exceptions as redis_errors

    from dagster_project.pass_state import up_to_date as snapshot_up_to_date
    from hot.redis_client import connect

    settings = get_settings()
    try:
        client = connect(settings)
        try:
            return snapshot_up_to_date(settings, client)
        finally:
            client.close()
    except (redis_errors.RedisError, redis_errors.RedisClusterException):
        return None


@click.command(
    short_help="process pending landing files once and publish",
    help="Ingest every pending landing file (with HOT_EVENTS_SOURCE=kafka: the catalogue's, "
    "and the topic's new messages) through the same Dagster job the sensor runs, dbt build, "
    "and publish a snapshot. With nothing pending and the current snapshot built from the "
    "warehouse as it is, say so and run nothing (the order would be the same; --now scores "
    "and publishes anyway). Exit 0 on success, 1 with a message on failure.",
)
@click.option(
    "--now",
    type=float,
    default=None,
    help="score at this UNIX time instead of the wall clock (reproducible runs)",
)
@verbose_option
def run(now: float | None, verbose: bool) -> int:
    """Process every pending landing file once and publish a snapshot."""
    with redis_for_command(get_settings()):
        current = None if now is not None else up_to_date()
        if current is not None:
            out.print(
                f"hot run: nothing new: snapshot {current['snapshotId']} is current with "
                f"{current.get('count', 0)} items (nothing to ingest, score or publish)",
                markup=False,
            )
            return 0
        result = pipeline_pass(now, verbose)
    if not result.success:
        err.print(
            f"hot run: the pipeline failed (run {result.run_id}): {result.error}", markup=False
        )
        return 1
    done = (
        f"nothing new: snapshot {result.snapshot_id} is current"
        if result.current
        else f"published snapshot {result.snapshot_id}"
    )
    out.print(
        f"hot run: {done} with {result.items} items in {result.seconds:.1f}s (run {result.run_id})",
        markup=False,
    )
    return 0


@click.command(
    short_help="recompute the embeddings now",
    help="Run the embeddings asset (the one the schedule and the batch sensor run) through "
    "Dagster: learn user and video vectors from the engagement in DuckDB, or import them from "
    "Parquet, check them on a time-split hold-out and publish them as a new LanceDB version "
    "when the check passes. Exit 0, or 1 with the reason.",
)
@click.option(
    "--vectors",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Parquet of pre-computed vectors (columns kind, id, vector) to import instead of "
    "learning them",
)
@verbose_option
def embed(vectors: Path | None, verbose: bool) -> int:
    """Recompute the embeddings now (or import vectors) and publish a new version."""
    with redis_for_command(get_settings()):
        result = embeddings_run(vectors, verbose)
    if not result.success:
        err.print(f"hot embed: failed (run {result.run_id}): {result.error}", markup=False)
        return 1
    meta = result.metadata
    if not meta.get("served", True):
        err.print(
            f"hot embed: version {meta['version']} not served, its check failed: "
            f"{meta['check']} (still serving {meta['served_version'] or 'no version'})",
            markup=False,
        )
        return 1
    out.print(
        f"hot embed: published version {meta['version']} ({meta['users']} users, "
        f"{meta['videos']} videos, dim {meta['dimension']}, {meta['method']}) "
        f"in {result.seconds:.1f}s (run {result.run_id})",
        markup=False,
    )
    return 0
