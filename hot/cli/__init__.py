"""The `hot` console command: demo, run, embed, serve, simulate, token, kafka, watch, cluster.

It sits on top of the layers: it may use the shared core (``hot``), the Dagster code
(``dagster_project``) and the web service (``serving``), which never import it. Commands
import what they run when they run, so ``hot --help`` and ``hot token`` stay quick.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

import click

from hot.cli.cluster import cluster
from hot.cli.common import err
from hot.cli.kafka import kafka
from hot.cli.pipeline import embed, run
from hot.cli.service import serve, token
from hot.cli.stopping import Stopped, stop_signals
from hot.cli.supervisor import SUPERVISED_ENV, supervise
from hot.cli.traffic import demo, simulate
from hot.cli.watch import watch

EXIT_USAGE = 2
"""Exit code of invalid arguments or settings (as a usage error)."""
EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT)."""


class SettingsError(click.ClickException):
    """Invalid settings or arguments found while a command ran: a message, not a traceback."""

    exit_code = EXIT_USAGE

    def show(self, file: Any = None) -> None:
        """Print the message as is (it already names the command)."""
        err.print(self.message, markup=False)


class HotGroup(click.Group):
    """The `hot` group: a ``ValueError`` from the settings becomes a one-line error."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the sub-command."""
        try:
            return super().invoke(ctx)
        except ValueError as exc:
            raise SettingsError(f"hot {ctx.invoked_subcommand}: {exc}") from exc
        except Stopped as stop:
            stop.command = ctx.invoked_subcommand or ""
            raise


@click.group(
    cls=HotGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Imoutotv Hot: the 'hot right now' feed. Settings come from HOT_* environment "
    "variables (see README).",
)
def cli() -> None:
    """The `hot` command group."""


for command in (demo, run, embed, serve, simulate, token, kafka, watch, cluster):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hot` command: the sub-command's exit code.

    Run as the console script (no ``argv``), the command goes on in a supervised child
    process (:mod:`hot.cli.supervisor`); with ``argv`` (tests) it runs in this process.
    Ctrl-C or SIGTERM: one line saying the command stopped, exit status 130 or 143 (0 when
    its server took the signal itself), no traceback (see :mod:`hot.cli.stopping`).
    """
    if argv is None and os.name == "posix" and not os.environ.get(SUPERVISED_ENV):
        return supervise(sys.argv[1:])
    with stop_signals() as stops:
        try:
            return int(cli.main(args=argv, prog_name="hot", standalone_mode=False) or 0)
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
        except click.Abort:  # Ctrl-C at a prompt
            return EXIT_INTERRUPTED
        except Stopped as stop:
            stops.say(f"hot {stop.command}: stopped")
            if threading.active_count() > 1:
                # An abandoned run's thread is still in dbt or DuckDB: leave without waiting
                # for it (its run is marked canceled; its uncommitted work rolls back).
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(stop.exit_code)
            return stop.exit_code
