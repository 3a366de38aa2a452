"""dagster-dbt's internals the pipeline relies on, in one place: a ``@dbt_assets`` step's dbt
command run in this process.

dagster-dbt's public way is ``DbtCliResource.cli(args, context=context).stream()``: a ``dbt``
subprocess that parses the project again, seconds of every pass. Running dbt in the step's
process instead (:func:`dagster_project.resources.dbt_inprocess.stream_dbt`) needs two things
dagster-dbt computes on that way but does not export:

- the step's dbt selection (its subset of models and checks):
  ``dagster_dbt.asset_utils.extract_runtime_selection_from_args`` and
  ``get_updated_cli_invocation_params_for_context``;
- the translation of dbt's node results into Dagster's events:
  ``dagster_dbt.core.dbt_cli_event.DbtCoreCliEventMessage``.

Fallback: ``HOT_STOCK_INTERNALS=1`` runs the step through ``DbtCliResource`` (stock).
tests/pipeline/test_internals_contract.py says in one line which of these an upgrade moved.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator


@dataclass(frozen=True)
class StepCommand:
    """A step's dbt command: its arguments with the step's selection, and where it runs."""

    args: list[str]
    """The command's own arguments (selection removed), then the step's selection."""
    project_dir: Path | None
    """The project to run in (a copy dagster-dbt made for a large selection), or None."""
    params: Any
    """dagster-dbt's invocation parameters (manifest, translator, project) for the events."""


def step_command(context: AssetExecutionContext, args: Sequence[str]) -> StepCommand:
    """``args`` with the selection of the step ``context`` runs, computed as dagster-dbt's
    ``DbtCliResource.cli`` does (the manifest and translator are the step's assets')."""
    from dagster_dbt.asset_utils import (
        extract_runtime_selection_from_args,
        get_updated_cli_invocation_params_for_context,
    )

    cleaned, selects, excludes = extract_runtime_selection_from_args(args)
    params = get_updated_cli_invocation_params_for_context(
        context=context,
        manifest={},
        dagster_dbt_translator=DagsterDbtTranslator(),
        runtime_selects=selects,
        runtime_excludes=excludes,
    )
    indirect = ["--indirect-selection", params.indirect_selection]
    selection = [*params.selection_args, *(indirect if params.indirect_selection else [])]
    project_dir = Path(params.dbt_project.project_dir) if params.dbt_project else None
    return StepCommand([*cleaned, *selection], project_dir, params)


def asset_events(
    command: StepCommand,
    context: AssetExecutionContext,
    event: Mapping[str, Any],
    target_path: Path,
) -> Iterator[Any]:
    """The Dagster events (materializations, check results) of one dbt result ``event``."""
    from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

    message = DbtCoreCliEventMessage(raw_event=dict(event), event_history_metadata={})
    params = command.params
    yield from message.to_default_asset_events(
        manifest=params.manifest,
        dagster_dbt_translator=params.dagster_dbt_translator,
        context=context,
        target_path=target_path,
        project=params.dbt_project,
    )
