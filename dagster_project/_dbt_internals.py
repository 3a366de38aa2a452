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
- :func:`load_manifest` / :func:`store_manifest`: dbt's parsed ``Manifest`` kept as a pickle
  of its data fields (the dataclass fields not starting with ``_``; the rest are lookups,
  caches and a lock, rebuilt on use) and taken back only while the environment variables dbt
  recorded in it (``Manifest.env_vars``, unset ones as
  ``dbt.constants.DEFAULT_ENV_PLACEHOLDER``) still hold, as dbt's partial parsing checks.

Without them everything still works, only slower: the fallback is simply not calling them
(``HOT_STOCK_INTERNALS=1`` runs dbt through dagster-dbt's own subprocess instead).
tests/pipeline/test_internals_contract.py says in one line which of these an upgrade moved.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest
    from dbt_common.events.base_types import EventMsg

PICKLE_FORMAT = 2
"""The layout :func:`store_manifest` writes (1 pickled dbt's ``__reduce_ex__`` tuple)."""


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


def _manifest(fields: dict[str, Any]) -> Manifest:
    """A ``Manifest`` from its data fields (its lookups, caches and lock start afresh)."""
    from dbt.contracts.graph.manifest import Manifest

    return Manifest(**fields)


class _ManifestPickler(pickle.Pickler):
    """Pickles a ``Manifest`` by its data fields, by name. Its own ``__reduce_ex__`` passes
    them by position and is out of step with its fields in dbt 1.11 (it lacks ``fixtures``),
    so what it pickles comes back with each lookup in the wrong place."""

    def reducer_override(self, obj: Any) -> Any:
        from dbt.contracts.graph.manifest import Manifest

        if type(obj) is not Manifest:
            return NotImplemented
        data = {f.name: getattr(obj, f.name) for f in fields(obj) if not f.name.startswith("_")}
        return _manifest, (data,)


def store_manifest(manifest: Manifest, path: Path, key: str) -> None:
    """Keep ``manifest`` in ``path`` under ``key`` (written aside, then renamed: a concurrent
    reader never sees half)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as fh:
        _ManifestPickler(fh, protocol=pickle.HIGHEST_PROTOCOL).dump((PICKLE_FORMAT, key, manifest))
    os.replace(tmp, path)


def load_manifest(path: Path, key: str) -> Manifest | None:
    """The manifest kept in ``path`` under ``key``, or None: none kept, another key (another
    manifest or dbt version), unreadable, or parsed with other values of the environment
    variables the project reads."""
    from dbt.constants import DEFAULT_ENV_PLACEHOLDER

    try:
        with path.open("rb") as fh:
            kept_format, kept, manifest = pickle.load(fh)  # our own file, beside the manifest
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError):
        return None
    if (kept_format, kept) != (PICKLE_FORMAT, key):
        return None
    env = manifest.env_vars
    if any(os.environ.get(name, DEFAULT_ENV_PLACEHOLDER) != value for name, value in env.items()):
        return None
    return manifest  # type: ignore[no-any-return]
