"""The seam between the pipeline and its engine: what a warehouse does, whichever it is.

``HOT_ENGINE`` (SPEC §9) picks DuckDB (a file, the embedded default) or Spark (a session in
this process, or a cluster's Thrift Server). What differs between them is behind one small
seam, :class:`Warehouse`: run a statement with parameters, fetch rows or Arrow, and make a
batch's writes land together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa


class EngineUnavailable(ValueError):
    """``HOT_ENGINE`` names an engine this machine cannot run (the message says what to
    install). A ``ValueError``: the command line shows it as one line, like a bad setting."""


class Rows(Protocol):
    """What a statement gives back (a DuckDB connection after ``execute`` is one)."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """Every remaining row."""


class Warehouse(Protocol):
    """The seam between the pipeline and its engine (DuckDB or Spark)."""

    engine: str
    errors: tuple[type[BaseException], ...]
    """The exceptions a failed statement raises."""

    def param(self, name: str) -> str:
        """How a statement names the parameter ``name`` (``$name``, ``:name``)."""

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Rows:
        """Run one statement; ``params`` may name more values than it uses."""

    def arrow(self, sql: str) -> pa.Table:
        """The rows of a query as an Arrow table."""

    def transaction(self) -> Any:
        """A context in which the writes of one batch land together or not at all."""

    def recover(self) -> None:
        """Discard what a batch that never committed left behind (a killed process)."""

    def close(self) -> None:
        """Release the connection."""
