"""The contract of the pipeline's adapters to its dependencies' internals.

``dagster_project/_dagster_internals.py``, ``_dagster_dbt_internals.py`` and
``_dbt_internals.py`` use what Dagster, dagster-dbt and dbt do not publish. Each row below is
one thing they rely on; after an upgrade that moved it, its test fails with one line naming
it, why it is used and which adapter to fix (``HOT_STOCK_INTERNALS=1`` runs on the stock
behaviour meanwhile).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from dagster_project._dagster_internals import EngineChoosingSqliteEventLog

DAGSTER = "dagster_project/_dagster_internals.py"
DAGSTER_DBT = "dagster_project/_dagster_dbt_internals.py"
DBT = "dagster_project/_dbt_internals.py"

CONTRACT = {
    DAGSTER: {
        "dagster._core.launcher.base": [
            "RunLauncher.launch_run",
            "RunLauncher._instance",
            "RunLauncher.check_run_worker_health",
            "LaunchRunContext",
            "CheckRunHealthResult",
            "WorkerStatus.RUNNING",
        ],
        "dagster._serdes": ["ConfigurableClass", "ConfigurableClassData"],
        "dagster._config": ["UserConfigSchema"],
        "dagster._grpc.types": ["ExecuteRunArgs"],
        "dagster._cli.api": ["api_cli"],
        "dagster._core.storage.event_log.sqlite.sqlite_event_log": [
            "SqliteEventLogStorage._connect",
            "SqliteEventLogStorage._initdb",
            "INDEX_SHARD_NAME",
        ],
        "dagster._core.storage.base_storage": ["DagsterStorage"],
        "dagster._core.storage.legacy_storage": ["CompositeStorage"],
        "dagster._core.storage.runs": ["SqliteRunStorage.from_local"],
        "dagster._core.storage.schedules": ["SqliteScheduleStorage.from_local"],
    },
    DAGSTER_DBT: {
        "dagster_dbt.asset_utils": [
            "extract_runtime_selection_from_args",
            "get_updated_cli_invocation_params_for_context",
        ],
        "dagster_dbt.core.dbt_cli_event": ["DbtCoreCliEventMessage.to_default_asset_events"],
    },
    DBT: {
        "dbt_common.clients.jinja": [
            "template_cache.get_node_template",
            "template_cache.file_cache",
        ],
        "dbt.adapters.duckdb.connections": [
            "DuckDBConnectionManager._LOCK",
            "DuckDBConnectionManager._ENV",
        ],
        "dbt_common.events.functions": ["msg_to_dict"],
        "dbt.task.build": ["BuildTask"],
        "dbt.contracts.graph.manifest": ["Manifest"],
        "dbt.constants": ["DEFAULT_ENV_PLACEHOLDER"],
    },
}
"""Adapter -> module -> what the adapter takes from it (each adapter's docstring says why)."""

MEMBERS = [
    (module, path, adapter)
    for adapter, modules in CONTRACT.items()
    for module, paths in modules.items()
    for path in paths
]

SIGNATURES = {
    ("dagster_dbt.asset_utils", "get_updated_cli_invocation_params_for_context"): (
        {"context", "manifest", "dagster_dbt_translator", "runtime_selects", "runtime_excludes"},
        DAGSTER_DBT,
    ),
    ("dagster_dbt.core.dbt_cli_event", "DbtCoreCliEventMessage"): (
        {"raw_event", "event_history_metadata"},
        DAGSTER_DBT,
    ),
    ("dagster_dbt.core.dbt_cli_event", "DbtCoreCliEventMessage.to_default_asset_events"): (
        {"manifest", "dagster_dbt_translator", "context", "target_path", "project"},
        DAGSTER_DBT,
    ),
    ("dagster._grpc.types", "ExecuteRunArgs"): (
        {"job_origin", "run_id", "instance_ref", "set_exit_code_on_failure"},
        DAGSTER,
    ),
}
"""What the adapters call with keyword arguments, and those arguments' names."""


def _resolve(module: str, path: str, adapter: str) -> Any:
    """``module.path``, or a one-line failure naming what moved and the adapter to fix."""
    try:
        found: Any = importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{module} is gone: fix {adapter}", pytrace=False)
    for part in path.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            pytest.fail(f"{module}.{path} is gone ({part}): fix {adapter}", pytrace=False)
    return found


@pytest.mark.parametrize(("module", "path", "adapter"), MEMBERS)
def test_what_the_adapters_use_is_still_there(module: str, path: str, adapter: str) -> None:
    """Each internal the adapters use still exists where they take it from."""
    _resolve(module, path, adapter)


@pytest.mark.parametrize(("where", "expected"), SIGNATURES.items())
def test_what_the_adapters_call_by_name_takes_those_names(
    where: tuple[str, str], expected: tuple[set[str], str]
) -> None:
    """The internals the adapters call with keyword arguments still take them."""
    (module, path), (names, adapter) = where, expected
    missing = names - set(inspect.signature(_resolve(module, path, adapter)).parameters)
    if missing:
        message = f"{module}.{path} no longer takes {sorted(missing)}: fix {adapter}"
        pytest.fail(message, pytrace=False)


def test_the_event_log_opens_every_shard_through_its_one_hook(tmp_path: Path) -> None:
    """The stock storage still opens each shard's connection in ``_connect`` under
    ``_db_lock`` (what the kept-open event log overrides), with ``_initialized_dbs``."""
    chosen: list[str] = []

    class Recording(EngineChoosingSqliteEventLog):
        def engine_for(self, shard: str) -> Any:
            import sqlalchemy

            chosen.append(shard)
            return sqlalchemy.create_engine(self.conn_string_for_shard(shard))

    storage = Recording(str(tmp_path))
    try:
        for name in ("_db_lock", "_initialized_dbs"):
            if not hasattr(storage, name):
                pytest.fail(f"SqliteEventLogStorage.{name} is gone: fix {DAGSTER}", pytrace=False)
        storage.get_event_records  # noqa: B018  (a public read the stock storage routes through _connect)
        with storage.storage_lock():
            pass
        storage.wipe()
    finally:
        storage.dispose()
    if not chosen:
        pytest.fail(
            f"SqliteEventLogStorage no longer opens shards in _connect: fix {DAGSTER}",
            pytrace=False,
        )


def test_the_stock_launcher_and_event_log_stand_in_with_stock_internals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HOT_STOCK_INTERNALS=1``: the same dagster.yaml gives Dagster's own classes."""
    from dagster_project.instance import prepare_dagster_home
    from hot.settings import get_settings

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("HOT_STOCK_INTERNALS", "1")
    get_settings.cache_clear()
    try:
        with DagsterInstance.from_config(str(prepare_dagster_home(tmp_path))) as instance:
            assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
            assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
    finally:
        monkeypatch.delenv("HOT_STOCK_INTERNALS")
        get_settings.cache_clear()


PRIVATE = re.compile(
    r"^(dagster\._|dagster_dbt\.(asset_utils|core)\b|dbt\.(contracts|parser|adapters)\b"
    r"|dbt_common\b|litestar\._|redis\._)"
)
"""Modules of a dependency that are not its public API."""

ADAPTERS = {
    Path("dagster_project/_dagster_internals.py"),
    Path("dagster_project/_dagster_dbt_internals.py"),
    Path("dagster_project/_dbt_internals.py"),
    Path("serving/core/_redis_internals.py"),
}


def _imported(tree: ast.AST) -> Iterator[str]:
    """Every module (and ``from m import name`` as ``m.name``) a module imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_only_the_adapters_import_a_dependency_s_private_modules() -> None:
    """The fence: the code outside the adapters imports public APIs only (type-checking
    imports included)."""
    root = Path(__file__).resolve().parents[2]
    leaks = [
        f"{path.relative_to(root)} imports {name}"
        for package in ("hot", "dagster_project", "serving")
        for path in sorted((root / package).rglob("*.py"))
        if path.relative_to(root) not in ADAPTERS
        for name in _imported(ast.parse(path.read_text()))
        if PRIVATE.match(name)
    ]
    assert not leaks, "; ".join(leaks) + ": move it into the dependency's adapter"
