"""Spark behind the :class:`~hot.warehouse.seam.Warehouse` seam: a local session in this
process or a cluster's Thrift Server, a batch made safe by partitions and a ledger row."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hot.warehouse.schema import BATCH_TABLES, RAW_PARTITION, spark_ddl
from hot.warehouse.seam import Rows
from hot.warehouse.spark_env import require_engine, spark_session

if TYPE_CHECKING:
    import pyarrow as pa

    from hot.settings import Settings


def _spark_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return f"timestamp'{value.isoformat(sep=' ')}'"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


_SPARK_IDENT_PARAM = re.compile(r"`:([a-z_]+)`")
_SPARK_PARAM = re.compile(r"(?<![\w:]):([a-z_]+)\b")


def bind_spark(sql: str, params: Mapping[str, Any]) -> str:
    """``sql`` with its ``:name`` parameters as Spark SQL literals (`` `:name` ``: a path
    as a quoted identifier, e.g. ``binaryFile.`:path```). Bound here, not by the engine: the
    same text runs on a local session and through Thrift, and in statements (CACHE TABLE,
    INSERT) where Spark takes no parameter markers."""
    sql = _SPARK_IDENT_PARAM.sub(
        lambda m: (
            "`" + str(params[m.group(1)]).replace("`", "``") + "`"
            if m.group(1) in params
            else m.group(0)
        ),
        sql,
    )
    return _SPARK_PARAM.sub(
        lambda m: _spark_literal(params[m.group(1)]) if m.group(1) in params else m.group(0), sql
    )


class _Fetched:
    """Rows already fetched, read like a DuckDB result."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self._rows = list(rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or None."""
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row."""
        rows, self._rows = self._rows, []
        return rows


def _utc_naive(value: Any) -> Any:
    # pyspark gives a TIMESTAMP as a naive datetime in the *Python process's* local time;
    # the pipeline's timestamps are naive UTC.
    return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) else value


class SparkWarehouse:
    """Spark behind the :class:`Warehouse` seam: a local session in this process, or a
    Thrift Server (``HOT_SPARK_HOST``) through PyHive.

    A batch is not a transaction on Spark (a Delta commit is one table's): its rows go to
    partitions of its own ``batch_id`` (written by overwrite, so a retried batch replaces
    them), its ledger row last. :meth:`recover` drops the rows of every batch id past the
    ledger's last one: what a failed or killed batch wrote is gone before the next one starts.
    ``table_format`` is the raw tables' (``HOT_SPARK_TABLE_FORMAT``).
    """

    engine = "spark"

    def __init__(
        self,
        run: Callable[[str], list[tuple[Any, ...]]],
        arrow: Callable[[str], pa.Table],
        errors: tuple[type[BaseException], ...],
        close: Callable[[], None] = lambda: None,
        table_format: str = "parquet",
    ) -> None:
        self._run, self._arrow, self.errors, self._close = run, arrow, errors, close
        self.table_format = table_format
        self._raw_ready = False

    @classmethod
    def open(cls, settings: Settings) -> SparkWarehouse:
        """The warehouse of ``settings``: Thrift when ``HOT_SPARK_HOST`` is set, else the
        local session (created on first use)."""
        if settings.spark_host:
            return cls._thrift(settings)
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        session = spark_session(settings)

        def run(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(_utc_naive(v) for v in row) for row in session.sql(sql).collect()]

        return cls(
            run,
            lambda sql: session.sql(sql).toArrow(),
            (PySparkException, Py4JError),
            table_format=settings.spark_table_format,
        )

    @classmethod
    def _thrift(cls, settings: Settings) -> SparkWarehouse:
        require_engine(settings)
        import pyarrow as pa
        from pyhive import exc, hive

        con = hive.connect(
            host=settings.spark_host,
            port=settings.spark_port,
            username=os.environ.get("HOT_SPARK_USER") or "hot",
            configuration={"spark.sql.session.timeZone": "UTC"},
        )
        cursor = con.cursor()

        def run(sql: str) -> list[tuple[Any, ...]]:
            cursor.execute(sql)
            if not cursor.description:
                return []
            # Hive's Thrift protocol may send timestamps as text.
            stamps = [i for i, d in enumerate(cursor.description) if d[1] == "TIMESTAMP_TYPE"]
            rows = cursor.fetchall()
            for i in stamps:
                rows = [
                    (*r[:i], datetime.fromisoformat(r[i]), *r[i + 1 :])
                    if isinstance(r[i], str)
                    else r
                    for r in rows
                ]
            return [tuple(r) for r in rows]

        def arrow(sql: str) -> pa.Table:
            rows = run(sql)
            names = [d[0].split(".")[-1] for d in cursor.description or []]
            return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])

        return cls(run, arrow, (exc.Error,), con.close, settings.spark_table_format)

    def ensure_raw(self) -> None:
        """Create the raw database and tables (:func:`~hot.warehouse.schema.spark_ddl`) on first
        use; a
        ``ValueError`` when they exist in the other format."""
        if not self._raw_ready:
            for statement in spark_ddl(self.table_format):
                self._run(statement)
            # A warehouse keeps the format it was made with: recover and ingest differ.
            detail = self._run("describe table extended raw.events")
            made = next((r[1] for r in detail if r[0] == "Provider"), self.table_format)
            if made.lower() != self.table_format:
                raise ValueError(
                    f"HOT_SPARK_TABLE_FORMAT={self.table_format} but the raw tables of this "
                    f"warehouse are {made}: use a fresh HOT_DATA_DIR (or convert the tables)"
                )
            self._raw_ready = True

    def param(self, name: str) -> str:
        """``:name``."""
        return f":{name}"

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Rows:
        """Run ``sql`` with its ``:name`` parameters bound."""
        return _Fetched(self._run(bind_spark(sql, params or {})))

    def arrow(self, sql: str) -> pa.Table:
        """The rows of ``sql`` as Arrow."""
        return self._arrow(sql)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A batch's writes: on failure, what it wrote is dropped (:meth:`recover`)."""
        try:
            yield
        except BaseException:
            self.recover()
            raise

    def recover(self) -> None:
        """Drop the raw rows of batch ids past the ledger's last one."""
        self.ensure_raw()
        (last,) = self._run("select coalesce(max(batch_id), 0) from raw.ingested_files")[0]
        for name in BATCH_TABLES:
            table = f"raw.{name}"
            if self.table_format == "delta":
                # Delta deletes rows in one commit (and has no partition DDL).
                self._run(f"delete from {table} where {RAW_PARTITION} > {int(last)}")
                continue
            for (spec,) in self._run(f"show partitions {table}"):
                batch = int(spec.split("=", 1)[1])
                if batch > int(last):
                    self._run(f"alter table {table} drop if exists partition (batch_id = {batch})")

    def close(self) -> None:
        """Close a Thrift connection (a local session stays up for the process)."""
        self._close()
