"""The pass's event log storage: Dagster's SQLite files, readable by the stock storage."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance

from dagster_project.event_log import PassEventLogStorage
from dagster_project.runner import prepare_dagster_home


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
