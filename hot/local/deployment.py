"""Several independent deployments in one process, one after the other: for benchmarks and
tests (never imported by the pipeline or the API)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hot.settings import get_settings


@contextmanager
def deployment(data_dir: Path, redis_url: str) -> Iterator[Path]:
    """Point the settings at ``data_dir`` and ``redis_url`` for a while; yields the landing dir.

    For benchmarks and tests that stand up several independent deployments in one process;
    the previous environment is restored on exit. A run in-process prepares the Dagster home
    itself (``dagster_project.instance.ensure_dagster_home``); a caller that starts Dagster's
    own processes there prepares it first.
    """
    names = ("HOT_DATA_DIR", "HOT_REDIS_URL", "DAGSTER_HOME")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(
        HOT_DATA_DIR=str(data_dir),
        HOT_REDIS_URL=redis_url,
        DAGSTER_HOME=str(data_dir / "dagster_home"),
    )
    get_settings.cache_clear()
    try:
        yield data_dir / "landing"
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
