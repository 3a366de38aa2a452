"""What `HOT_ENGINE=spark` needs from the setup: jars `make setup` fetched with mvn. Without
them the engine stops before any work with one line saying to run it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hot.settings import Settings
from hot.warehouse import spark_env as warehouse


@pytest.mark.parametrize(
    ("jars", "choice", "named"),
    [
        ("SPARK_KAFKA_JARS", {"events_source": "kafka"}, "make setup"),
        ("DELTA_JARS", {"spark_table_format": "delta"}, "HOT_SPARK_TABLE_FORMAT=delta"),
    ],
    ids=["kafka-source", "delta"],
)
def test_spark_without_its_jars_is_one_line_saying_to_run_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jars: str, choice: dict[str, Any], named: str
) -> None:
    monkeypatch.setattr(warehouse, jars, tmp_path / "never-fetched")
    settings = replace(Settings.from_env(), engine="spark", **choice)
    with pytest.raises(warehouse.EngineUnavailable) as error:
        warehouse.require_engine(settings)
    message = str(error.value)
    assert named in message and "make setup" in message
    assert "\n" not in message


def test_an_unknown_table_format_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOT_SPARK_TABLE_FORMAT", "iceberg")
    with pytest.raises(ValueError, match="HOT_SPARK_TABLE_FORMAT must be 'parquet' or 'delta'"):
        Settings.from_env()
