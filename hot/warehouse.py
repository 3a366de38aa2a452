"""The warehouse: the raw schema that ingest writes and dbt reads as sources, on either engine.

``HOT_ENGINE`` (SPEC §9) picks DuckDB (a file, the embedded default) or Spark (a session in
this process, or a cluster's Thrift Server). What differs between them is behind one small
seam, :class:`Warehouse`: run a statement with parameters, fetch rows or Arrow, and make a
batch's writes land together or not at all. DuckDB connections are used as they are
(:func:`as_warehouse` wraps one); :class:`SparkWarehouse` is the Spark side.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

    from hot.settings import Settings

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.events (
    event_id varchar not null,
    type varchar not null,
    video_id varchar not null,
    user_id varchar not null,
    occurred_at timestamp not null,
    watch_time_sec double,
    batch_id bigint not null,
    source_file varchar not null,
    line_no bigint not null, -- a Kafka message's offset (SPEC §2b)
    ingested_at timestamp not null
);
create table if not exists raw.videos (
    video_id varchar not null,
    title varchar,
    thumbnail_url varchar,
    creator_id varchar not null,
    published_at timestamp,
    batch_id bigint not null,
    source_file varchar not null,
    line_no integer not null,
    ingested_at timestamp not null
);
create table if not exists raw.creators (
    creator_id varchar not null,
    name varchar,
    avatar_url varchar,
    batch_id bigint not null,
    source_file varchar not null,
    line_no integer not null,
    ingested_at timestamp not null
);
create table if not exists raw.moderation (
    video_id varchar not null,
    status varchar not null,
    decided_at timestamp not null,
    reason varchar,
    batch_id bigint not null,
    source_file varchar not null,
    line_no integer not null,
    ingested_at timestamp not null
);
create table if not exists raw.quarantine (
    source varchar not null,
    source_file varchar not null,
    line_no bigint not null,
    reason varchar not null,
    detail varchar,
    raw_line varchar,
    batch_id bigint not null,
    ingested_at timestamp not null
);
create table if not exists raw.ingested_files (
    source_file varchar primary key,
    source varchar not null,
    batch_id bigint not null,
    lines_read bigint not null,
    valid bigint not null,
    duplicates bigint not null,
    quarantined bigint not null,
    ingested_at timestamp not null
);
-- The Kafka ledger (SPEC §2b): the offset ranges ingested, each written in the transaction of
-- its events; its counts are in raw.ingested_files under the range's name (source_file).
create table if not exists raw.ingested_ranges (
    topic varchar not null,
    topic_id varchar not null,
    partition integer not null,
    start_offset bigint not null,
    end_offset bigint not null,
    source_file varchar not null,
    batch_id bigint not null,
    ingested_at timestamp not null,
    primary key (topic, partition, start_offset)
);
"""


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating the raw schema on first use (unless read-only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        con.execute(RAW_DDL)
    return con


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
    return con  # type: ignore[no-any-return]


# --- Spark --------------------------------------------------------------------------------

RAW_PARTITION = "batch_id"
"""Raw rows on Spark are partitioned by batch: a batch is written by overwriting its own
partitions (idempotent), the ledger row is written last, and a batch without a ledger row is
dropped partition by partition (there is no row delete on plain parquet; on Delta, its rows
are deleted)."""

LEDGERS = ("ingested_files",)
"""The append-only ledger: one row per batch, written last (the commit point of a batch). The
Kafka ranges (``raw.ingested_ranges``) are batch data here: written before it, dropped with
the batch's other partitions when it never came."""


_SPARK_TYPES = {"varchar": "string", "integer": "int"}


def _raw_columns() -> dict[str, list[tuple[str, str]]]:
    """Each raw table of RAW_DDL with its (column, type) pairs, types as Spark names them."""
    tables = {}
    for name, body in re.findall(
        r"create table if not exists raw\.(\w+) \((.*?)\n\);", RAW_DDL, re.S
    ):
        columns = []
        for line in body.splitlines():
            line = line.split("--")[0].strip().rstrip(",")
            if line and not line.startswith("primary key"):
                col, typ = line.split()[:2]
                columns.append((col, _SPARK_TYPES.get(typ, typ)))
        tables[name] = columns
    return tables


RAW_TABLES = _raw_columns()
"""The raw tables and their columns, read once from RAW_DDL (the one definition of both)."""

BATCH_TABLES = tuple(name for name in RAW_TABLES if name not in LEDGERS)
"""The raw tables partitioned by batch (all but the ledgers)."""


def spark_raw_ddl(table_format: str = "parquet") -> list[str]:
    """RAW_DDL as Spark statements: the same tables and columns as ``table_format`` tables
    (``HOT_SPARK_TABLE_FORMAT``: parquet or delta), the batch data partitioned by ``batch_id``
    (no NOT NULL or primary keys: parquet has neither)."""
    statements = ["create database if not exists raw"]
    for name, columns in RAW_TABLES.items():
        cols = ", ".join(f"`{col}` {typ}" for col, typ in columns)
        part = f" partitioned by ({RAW_PARTITION})" if name in BATCH_TABLES else ""
        statements.append(
            f"create table if not exists raw.{name} ({cols}) using {table_format}{part}"
        )
    return statements


SPARK_KAFKA_JARS = Path(__file__).resolve().parents[1] / "vendor" / "spark-kafka" / "jars"
"""Spark's Kafka source and its dependencies, fetched by scripts/setup.sh (mvn)."""

DELTA_JARS = Path(__file__).resolve().parents[1] / "vendor" / "delta" / "jars"
"""Delta Lake (delta-spark, delta-storage), fetched by scripts/setup.sh (mvn)."""

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # A table's state (its log) is rebuilt in 50 tasks by default, sized for clusters; a local
    # session's tables have small logs: 2 tasks make a pass ~2-3x faster (docs/scale-out.md).
    "spark.databricks.delta.snapshotPartitions": "2",
}
"""What a local session needs for Delta tables (``HOT_SPARK_TABLE_FORMAT=delta``). The Delta
catalogue still creates and reads plain parquet tables (``using parquet``)."""


def spark_jars(settings: Settings) -> list[Path]:
    """The jars a local session needs for ``settings``: Spark's Kafka source when the events
    come from Kafka (SPEC §2b), Delta Lake for Delta tables (SPEC §9).
    :class:`EngineUnavailable` when they were never fetched."""
    needs = [
        (
            settings.events_source == "kafka",
            SPARK_KAFKA_JARS,
            "HOT_EVENTS_SOURCE=kafka on HOT_ENGINE=spark needs Spark's Kafka source",
        ),
        (
            settings.spark_table_format == "delta",
            DELTA_JARS,
            "HOT_SPARK_TABLE_FORMAT=delta needs Delta Lake's jars",
        ),
    ]
    jars: list[Path] = []
    for needed, folder, what in needs:
        if needed:
            found = sorted(folder.glob("*.jar"))
            if not found:
                raise EngineUnavailable(
                    f"{what} in {folder}: run `make setup` (it fetches the jars with mvn)"
                )
            jars += found
    return jars


def spark_conf(settings: Settings) -> dict[str, str]:
    """The settings of a local session: what dbt/profiles.yml's ``spark`` target gives the
    session it creates (the first one created in a process is the one every user shares),
    and the jars of :func:`spark_jars`."""
    spark_dir = settings.data_dir / "spark"
    jars = spark_jars(settings)
    return {
        **({"spark.jars": ",".join(map(str, jars))} if jars else {}),
        "spark.master": settings.spark_master,
        "spark.app.name": "imoutotv-hot",
        "spark.sql.warehouse.dir": str(spark_dir / "warehouse"),
        # The embedded (Derby) Hive metastore: the table catalogue of the local warehouse.
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir}",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": os.environ.get("HOT_SPARK_SHUFFLE_PARTITIONS") or "8",
        "spark.ui.enabled": "false",
        # No stage progress bars on the command line's terminal.
        "spark.ui.showConsoleProgress": "false",
        **(DELTA_CONF if settings.spark_table_format == "delta" else {}),
    }


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except OSError:
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8" is Java 8


def require_engine(settings: Settings) -> None:
    """Fail at once, with one line saying what to install, when ``HOT_ENGINE`` cannot run."""
    if settings.engine != "spark":
        return
    extra = "install the spark extra: pip install -e '.[spark]'"
    if importlib.util.find_spec("dbt.adapters.spark") is None:
        raise EngineUnavailable(f"HOT_ENGINE=spark needs dbt-spark: {extra}")
    if settings.spark_host:
        if importlib.util.find_spec("pyhive") is None:
            raise EngineUnavailable(f"HOT_SPARK_HOST needs PyHive: {extra}")
        return
    if importlib.util.find_spec("pyspark") is None:
        raise EngineUnavailable(f"HOT_ENGINE=spark needs pyspark: {extra}")
    spark_jars(settings)
    java_home = os.environ.get("JAVA_HOME")
    # What pyspark's launcher runs: $JAVA_HOME/bin/java, else java on PATH.
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    install = "install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
    if not java or not Path(java).is_file():
        where = f"no {java} (JAVA_HOME)" if java_home else "no java on PATH and JAVA_HOME unset"
        raise EngineUnavailable(f"HOT_ENGINE=spark needs Java 17 or later: {where}; {install}")
    major = _java_major(java)
    if major is None or major < 17:
        raise EngineUnavailable(
            f"HOT_ENGINE=spark needs Java 17 or later: {java} is Java {major or '?'}; {install}"
        )


def spark_session(settings: Settings) -> SparkSession:
    """This process's Spark session (local, warehouse and metastore under
    ``$HOT_DATA_DIR/spark/``), created on first use with :func:`spark_conf`. dbt-spark's
    ``session`` method calls ``getOrCreate()``, so dbt runs in this same session."""
    require_engine(settings)
    from pyspark.sql import SparkSession

    conf = spark_conf(settings)
    active = SparkSession.getActiveSession()
    if active is not None:
        # One JVM, one metastore: a second data dir in the same process would silently share
        # the first one's tables.
        have = active.conf.get("spark.sql.warehouse.dir")
        if Path(have.removeprefix("file:")) != Path(conf["spark.sql.warehouse.dir"]):
            raise RuntimeError(
                f"this process's Spark session keeps its tables in {have}, not under "
                f"{settings.data_dir}: one HOT_DATA_DIR per process on Spark"
            )
        return active
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


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
        """Create the raw database and tables (:func:`spark_raw_ddl`) on first use; a
        ``ValueError`` when they exist in the other format."""
        if not self._raw_ready:
            for statement in spark_raw_ddl(self.table_format):
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


def open_warehouse(settings: Settings, read_only: bool = False, path: Path | None = None) -> Any:
    """The warehouse of ``HOT_ENGINE``: a DuckDB connection to ``path`` (default: the
    settings' file; read-only if asked) or a :class:`SparkWarehouse` with its raw tables."""
    if settings.engine == "spark":
        spark = SparkWarehouse.open(settings)
        spark.ensure_raw()
        return spark
    return connect(path or settings.duckdb_path, read_only=read_only)
