"""The pass's event log storage: Dagster's SQLite files, readable by the stock storage."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, job, op

from dagster_project.event_log import PassEventLogStorage
from dagster_project.instance import prepare_dagster_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Dagster home as `hot` writes it."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return prepare_dagster_home(tmp_path)


def test_the_home_uses_it_in_the_stock_layout(home: Path) -> None:
    instance = DagsterInstance.get()
    storage = instance.event_log_storage
    assert isinstance(storage, PassEventLogStorage)
    assert Path(storage._base_dir) == home / "history" / "runs"


def test_what_it_writes_the_stock_storage_reads_and_back(home: Path) -> None:
    ours = DagsterInstance.get()
    for n in range(20):
        ours.report_runless_asset_event(AssetMaterialization(asset_key="scores", metadata={"n": n}))
    # Another process with Dagster's own storage on the same files (e.g. an older dagster.yaml).
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    stock = DagsterInstance.from_config(str(home))
    assert type(stock.event_log_storage).__name__ == "SqliteEventLogStorage"
    latest = stock.get_latest_materialization_event(AssetKey("scores"))
    assert latest is not None and latest.asset_materialization is not None
    assert latest.asset_materialization.metadata["n"].value == 19
    stock.report_runless_asset_event(AssetMaterialization(asset_key="scores", metadata={"n": 20}))
    # The kept-open index connection sees the other writer's commit.
    again = ours.get_latest_materialization_event(AssetKey("scores"))
    assert again is not None and again.asset_materialization is not None
    assert again.asset_materialization.metadata["n"].value == 20
    ours.dispose()
    stock.dispose()


def test_a_watcher_of_a_live_run_sees_each_event_as_it_is_written(home: Path) -> None:
    """The webserver follows a live run by watching its shard's file: the kept-open run
    connection must still wake it for every write, not only when the run's process ends."""
    ours = DagsterInstance.get()
    run = ours.create_run_for_job(job_def=_one_op_job)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    webserver = DagsterInstance.from_config(str(home))
    seen: list[str] = []
    webserver.event_log_storage.watch(
        run.run_id, None, lambda entry, _cursor: seen.append(entry.message)
    )
    try:
        for n in range(5):
            ours.report_engine_event(f"step {n}", run)
            deadline = time.monotonic() + 10
            while f"step {n}" not in seen and time.monotonic() < deadline:
                time.sleep(0.05)
            # Seen while our connection is still open: the run is live, nothing was closed.
            assert f"step {n}" in seen
    finally:
        webserver.dispose()
        ours.dispose()
    assert [m for m in seen if m.startswith("step ")] == [f"step {n}" for n in range(5)]


@op
def _noop() -> None:
    """Does nothing: the run only needs to exist."""


@job
def _one_op_job() -> None:
    _noop()
