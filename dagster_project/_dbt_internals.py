"""dbt's internals the pipeline relies on, in one place: what dbt has no public API for.

- :func:`compile_macro_templates`: dbt's process-wide Jinja template cache
  (``dbt_common.clients.jinja.template_cache``), filled before a run arrives so that a new
  run process's first ``dbt build`` does not compile each macro on first use.
- :func:`close_duckdb`: dbt-duckdb keeps the DuckDB database of a finished command open in a
  class attribute (``DuckDBConnectionManager._ENV`` under ``_LOCK``); closing it lets the next
  step, or process, open the warehouse.
- :func:`event_dict`: dbt's structured event as the dict dagster-dbt reads
  (``dbt_common.events.functions.msg_to_dict``).
- :func:`warm_imports`: the modules a process's first command imports (dbt's task modules,
  agate).

Without them everything still works, only slower: the fallback is simply not calling them
(``HOT_STOCK_INTERNALS=1`` runs dbt through dagster-dbt's own subprocess instead).
tests/pipeline/test_internals_contract.py says in one line which of these an upgrade moved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest
    from dbt_common.events.base_types import EventMsg


def compile_macro_templates(manifest: Manifest) -> int:
    """Compile every macro of ``manifest`` (dbt's, the adapter's, ours) into dbt's template
    cache; returns how many."""
    from dbt_common.clients.jinja import template_cache

    macros = manifest.macros.values()
    for macro in macros:
        template_cache.get_node_template(macro)
    return len(macros)


def close_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb may keep open in this process after a command."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()


def event_dict(msg: EventMsg) -> dict[str, Any]:
    """dbt's event ``msg`` as the dict of its JSON log line (what dagster-dbt parses)."""
    from dbt_common.events.functions import msg_to_dict

    return msg_to_dict(msg)  # type: ignore[no-any-return]


def event_name(msg: EventMsg) -> str:
    """The name of dbt's event ``msg`` (``LogModelResult``, ...)."""
    return msg.info.name  # type: ignore[no-any-return]


def warm_imports() -> None:
    """Import what a process's first ``dbt build`` imports: the build task (the test, run and
    compile tasks with it) and agate (imported by the first query)."""
    import dbt.task.build  # noqa: F401
    import dbt_common.clients.agate_helper  # noqa: F401
