"""`hot run` and `hot embed`: one in-process run of a Dagster job, shown step by step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from hot.cli.common import err, out, redis_for_command, verbose_option
from hot.settings import get_settings

if TYPE_CHECKING:
    from dagster_project.runner import EmbedResult, PassResult

R = TypeVar("R")


def shown(planned: Mapping[str, int], verbose: bool, run: Callable[..., R]) -> R:
    """``run(on_event=..., quiet=...)`` with its steps on the terminal.

    Quiet by default: a progress bar per running step and one line per finished step, while
    Dagster's console log shows warnings and errors only; ``verbose`` lets its full log
    through instead of the bars.
    """
    from hot.cli.progress import RunDisplay

    with RunDisplay(planned, bars=not verbose) as display:
        return run(on_event=display, quiet=not verbose)


def pipeline_pass(now_epoch: float | None, verbose: bool) -> PassResult:
    """One pipeline pass (ingest, dbt build, publish) on the terminal (Redis already up)."""
    from dagster_project.runner import ensure_dagster_home, pipeline_steps, run_pipeline

    ensure_dagster_home()
    return shown(pipeline_steps(), verbose, lambda **kw: run_pipeline(now_epoch=now_epoch, **kw))


def embeddings_run(vectors: Path | None, verbose: bool) -> EmbedResult:
    """One embeddings run on the terminal (Redis already up)."""
    from dagster_project.runner import ensure_dagster_home, run_embed

    ensure_dagster_home()
    return shown({"embeddings": 1}, verbose, lambda **kw: run_embed(vectors, **kw))


@click.command(
    short_help="process pending landing files once and publish",
    help="Ingest every pending landing file through the same Dagster job the sensor runs, "
    "dbt build, and publish a snapshot. Exit 0 on success, 1 with a message on failure.",
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
        result = pipeline_pass(now, verbose)
    if not result.success:
        err.print(
            f"hot run: the pipeline failed (run {result.run_id}): {result.error}", markup=False
        )
        return 1
    out.print(
        f"hot run: published snapshot {result.snapshot_id} with {result.items} items "
        f"in {result.seconds:.1f}s (run {result.run_id})",
        markup=False,
    )
    return 0


@click.command(
    short_help="recompute the embeddings now",
    help="Run the embeddings asset (the one the schedule and the batch sensor run) through "
    "Dagster: learn user and video vectors from the engagement in DuckDB, or import them from "
    "Parquet, and publish them as a new LanceDB version. Exit 0, or 1 with the reason.",
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
    out.print(
        f"hot embed: published version {meta['version']} ({meta['users']} users, "
        f"{meta['videos']} videos, dim {meta['dimension']}, {meta['method']}) "
        f"in {result.seconds:.1f}s (run {result.run_id})",
        markup=False,
    )
    return 0
