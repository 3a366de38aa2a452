"""A real PostgreSQL for the tests of Dagster on PostgreSQL (SPEC §9b): one server for the
session, started as `hot cluster` starts it (:class:`EmbeddedPostgres`), and a fresh database
per test, which the test's settings point Dagster at (``HOT_DAGSTER_PG_URL``)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hot.local.postgres import EmbeddedPostgres
from hot.settings import get_settings


@pytest.fixture(scope="package")
def postgres() -> Iterator[EmbeddedPostgres]:
    """PostgreSQL on a free loopback port for this package's tests, removed with its data
    after them."""
    # Not pytest's tmp_path (private to root): started by root, the server runs as another
    # user, which must be able to reach its folder.
    root = Path(tempfile.mkdtemp(prefix="hot-pg-"))
    root.chmod(0o711)
    try:
        with EmbeddedPostgres(root / "postgres") as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dagster_pg_url(
    hot_env: Path, postgres: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A new database of the session's server as this test's Dagster storage (its runs,
    sensor cursors and run keys are its own); its URL."""
    url = postgres.create_database(f"test_{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("HOT_DAGSTER_PG_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
