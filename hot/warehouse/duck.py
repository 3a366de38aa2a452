"""The DuckDB warehouse: a file, the raw schema created on first use, and its connection
behind the :class:`~hot.warehouse.seam.Warehouse` seam."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from hot.warehouse.schema import duckdb_ddl
from hot.warehouse.seam import Rows, Warehouse

if TYPE_CHECKING:
    import pyarrow as pa

RAW_DDL = duckdb_ddl()
"""The raw schema's DuckDB statements (:mod:`hot.warehouse.schema`)."""


LOCK_POLL_SEC = (0.02, 0.25)
"""The first and the longest pause between attempts to open a file another process holds."""


def connect(
    path: Path,
    read_only: bool = False,
    wait_sec: float = 0.0,
    on_wait: Callable[[float], object] | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating the raw schema on first use (unless read-only).

    DuckDB lets one process write a file, or several read it. While another process holds it,
    the open is retried for up to ``wait_sec`` (then its error is raised); after a wait,
    ``on_wait`` is told how long it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pause = LOCK_POLL_SEC[0]
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() - started >= wait_sec:
                raise
            time.sleep(pause)
            pause = min(pause * 2, LOCK_POLL_SEC[1])
    if on_wait is not None and pause > LOCK_POLL_SEC[0]:
        on_wait(time.monotonic() - started)
    if not read_only:
        con.execute(RAW_DDL)
    return con


_DUCKDB_PARAM = re.compile(r"\$([a-z_]+)")


class DuckDBWarehouse:
    """A DuckDB connection behind the :class:`Warehouse` seam (``$name`` parameters)."""

    engine = "duckdb"
    errors: tuple[type[BaseException], ...] = (duckdb.Error,)

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def param(self, name: str) -> str:
        """``$name``."""
        return f"${name}"

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Rows:
        """Run ``sql`` with the parameters it names."""
        if params is None:
            return self.con.execute(sql)
        return self.con.execute(sql, {k: params[k] for k in set(_DUCKDB_PARAM.findall(sql))})

    def arrow(self, sql: str) -> pa.Table:
        """The rows of ``sql`` as Arrow."""
        return self.con.sql(sql).to_arrow_table()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One DuckDB transaction."""
        self.con.execute("begin transaction")
        try:
            yield
        except BaseException:
            self.con.execute("rollback")
            raise
        self.con.execute("commit")

    def recover(self) -> None:
        """Nothing to do: an uncommitted DuckDB transaction leaves nothing behind."""

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


def as_warehouse(con: Any) -> Warehouse:
    """``con`` behind the :class:`Warehouse` seam (a DuckDB connection is wrapped)."""
    if isinstance(con, duckdb.DuckDBPyConnection):
        return DuckDBWarehouse(con)
    warehouse: Warehouse = con
    return warehouse
