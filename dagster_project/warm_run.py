"""A run process that warms up before its run is known (see :mod:`dagster_project.launcher`).

It imports the code location, loads dbt's manifest, compiles dbt's macro templates, pays what
dbt's first command in a process pays once, and opens the Dagster instance, then waits for
one line on standard input: the serialized arguments of ``dagster api execute_run``, which it
then runs in this process. An empty input (the launcher went away) ends it without a run.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Warm up, wait for a run, execute it."""
    from dagster import DagsterInstance
    from dagster._cli.api import api_cli

    import dagster_project.definitions  # noqa: F401  (Dagster, dagster-dbt, dbt, the assets)
    from dagster_project.resources.dbt_inprocess import compile_macro_templates, warm_dbt

    compile_macro_templates()  # loads the manifest first
    try:
        warm_dbt()
    except Exception as exc:  # only speed is lost: the run pays the cost itself
        print(f"hot warm run: dbt warm-up skipped: {exc}", file=sys.stderr, flush=True)
    # The instance the run will open: its storage classes (SQLAlchemy, the storage schema)
    # are seconds of imports that would otherwise come between the launch and the run's start.
    if os.environ.get("DAGSTER_HOME"):
        with DagsterInstance.get():
            pass
    line = sys.stdin.readline().strip()
    if not line:
        return
    api_cli.main(["execute_run", line], prog_name="dagster api")


if __name__ == "__main__":
    main()
