"""The Dagster home `hot` prepares: its ``dagster.yaml`` kept up to date, the user's left alone,
and the storage it names (SQLite unless ``HOT_DAGSTER_PG_URL`` is set)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance

from dagster_project.instance import DAGSTER_YAML, prepare_dagster_home
from hot.settings import Settings


def test_a_dagster_yaml_hot_wrote_is_brought_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.delenv("HOT_DAGSTER_PG_URL", raising=False)
    old = "# Written by `hot`: one run at a time.\nevent_log_storage:\n  module: x\n  class: Y\n"
    (tmp_path / "dagster.yaml").write_text(old)
    prepare_dagster_home(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == DAGSTER_YAML
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        kinds = {type(instance.run_storage).__name__, type(instance.schedule_storage).__name__}
        assert kinds == {"SqliteRunStorage", "SqliteScheduleStorage"}
    assert (tmp_path / "history" / "runs.db").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dagster")] == []


def test_a_dagster_yaml_the_user_wrote_is_kept(tmp_path: Path) -> None:
    mine = "telemetry:\n  enabled: false\n"
    (tmp_path / "dagster.yaml").write_text(mine)
    prepare_dagster_home(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == mine


def test_the_postgres_url_must_be_one_sqlalchemy_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOT_DAGSTER_PG_URL", "postgres://dagster:x@db:5432/dagster")
    with pytest.raises(ValueError, match="HOT_DAGSTER_PG_URL"):
        Settings.from_env()


OPEN_INSTANCE = """
from dagster import DagsterInstance
with DagsterInstance.get() as instance:
    instance.get_runs(limit=1)
"""


def test_processes_opening_a_new_home_at_once_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dagster dev` starts its webserver, daemon and code server together; on a new home they
    all create the SQLite storage, and none may lose the race."""
    monkeypatch.delenv("HOT_DAGSTER_PG_URL", raising=False)
    prepare_dagster_home(tmp_path)
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", OPEN_INSTANCE], env=env, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(errors)
