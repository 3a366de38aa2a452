"""The raw tables ingest writes and dbt reads as sources: declared once, rendered per engine.

DuckDB gets them with NOT NULL and primary keys (:func:`duckdb_ddl`); Spark as parquet or
Delta tables without either, the batch data partitioned by ``batch_id`` (:func:`spark_ddl`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column: its name, its engine-neutral type (a key of ``TYPES``), whether it may be
    null, and what it holds when the name does not say."""

    name: str
    type: str
    nullable: bool = False
    note: str = ""


@dataclass(frozen=True)
class Table:
    """One raw table: its columns in order and its primary key (DuckDB only)."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    note: str = ""


TYPES = {
    # engine-neutral: (DuckDB, Spark)
    "string": ("varchar", "string"),
    "int": ("integer", "int"),
    "bigint": ("bigint", "bigint"),
    "double": ("double", "double"),
    "timestamp": ("timestamp", "timestamp"),
}


def _c(name: str, type_: str, nullable: bool = False, note: str = "") -> Column:
    return Column(name, type_, nullable, note)


def _lineage(line_no: str = "int") -> tuple[Column, ...]:
    """What every ingested row carries: its batch, the file (or range) and line it came from."""
    return (
        _c("batch_id", "bigint"),
        _c("source_file", "string"),
        _c("line_no", line_no),
        _c("ingested_at", "timestamp"),
    )


TABLES: tuple[Table, ...] = (
    Table(
        "events",
        (
            _c("event_id", "string"),
            _c("type", "string"),
            _c("video_id", "string"),
            _c("user_id", "string"),
            _c("occurred_at", "timestamp"),
            _c("watch_time_sec", "double", nullable=True),
            _c("batch_id", "bigint"),
            _c("source_file", "string"),
            _c("line_no", "bigint", note="a Kafka message's offset (SPEC §2b)"),
            _c("ingested_at", "timestamp"),
        ),
    ),
    Table(
        "videos",
        (
            _c("video_id", "string"),
            _c("title", "string", nullable=True),
            _c("thumbnail_url", "string", nullable=True),
            _c("creator_id", "string"),
            _c("published_at", "timestamp", nullable=True),
            *_lineage(),
        ),
    ),
    Table(
        "creators",
        (
            _c("creator_id", "string"),
            _c("name", "string", nullable=True),
            _c("avatar_url", "string", nullable=True),
            *_lineage(),
        ),
    ),
    Table(
        "moderation",
        (
            _c("video_id", "string"),
            _c("status", "string"),
            _c("decided_at", "timestamp"),
            _c("reason", "string", nullable=True),
            *_lineage(),
        ),
    ),
    Table(
        "quarantine",
        (
            _c("source", "string"),
            _c("source_file", "string"),
            _c("line_no", "bigint"),
            _c("reason", "string"),
            _c("detail", "string", nullable=True),
            _c("raw_line", "string", nullable=True),
            _c("batch_id", "bigint"),
            _c("ingested_at", "timestamp"),
        ),
    ),
    Table(
        "ingested_files",
        (
            _c("source_file", "string"),
            _c("source", "string"),
            _c("batch_id", "bigint"),
            _c("lines_read", "bigint"),
            _c("valid", "bigint"),
            _c("duplicates", "bigint"),
            _c("quarantined", "bigint"),
            _c("ingested_at", "timestamp"),
        ),
        primary_key=("source_file",),
    ),
    Table(
        "ingested_ranges",
        (
            _c("topic", "string"),
            _c("topic_id", "string"),
            _c("partition", "int"),
            _c("start_offset", "bigint"),
            _c("end_offset", "bigint"),
            _c("source_file", "string"),
            _c("batch_id", "bigint"),
            _c("ingested_at", "timestamp"),
        ),
        primary_key=("topic", "partition", "start_offset"),
        note=(
            "The Kafka ledger (SPEC §2b): the offset ranges ingested, each written in the "
            "transaction of its events; its counts are in raw.ingested_files under the range's "
            "name (source_file)."
        ),
    ),
)

RAW_PARTITION = "batch_id"
"""Raw rows on Spark are partitioned by batch: a batch is written by overwriting its own
partitions (idempotent), the ledger row is written last, and a batch without a ledger row is
dropped partition by partition (there is no row delete on plain parquet; on Delta, its rows
are deleted)."""

LEDGERS = ("ingested_files",)
"""The append-only ledger: one row per batch, written last (the commit point of a batch). The
Kafka ranges (``raw.ingested_ranges``) are batch data here: written before it, dropped with
the batch's other partitions when it never came."""

BATCH_TABLES = tuple(t.name for t in TABLES if t.name not in LEDGERS)
"""The raw tables partitioned by batch on Spark (all but the ledgers)."""


def spark_columns(name: str) -> list[tuple[str, str]]:
    """The (column, Spark type) pairs of raw table ``name``."""
    (table,) = (t for t in TABLES if t.name == name)
    return [(c.name, TYPES[c.type][1]) for c in table.columns]


def duckdb_ddl() -> str:
    """The raw schema as DuckDB statements (idempotent: ``if not exists``)."""
    statements = ["create schema if not exists raw;"]
    for table in TABLES:
        lines = [
            f"    {c.name} {TYPES[c.type][0]}{'' if c.nullable else ' not null'}"
            for c in table.columns
        ]
        if table.primary_key:
            lines.append(f"    primary key ({', '.join(table.primary_key)})")
        body = ",\n".join(lines)
        statements.append(f"create table if not exists raw.{table.name} (\n{body}\n);")
    return "\n".join(statements) + "\n"


def spark_ddl(table_format: str = "parquet") -> list[str]:
    """The raw schema as Spark statements: the same tables and columns as ``table_format``
    tables (``HOT_SPARK_TABLE_FORMAT``: parquet or delta), the batch data partitioned by
    ``batch_id`` (no NOT NULL or primary keys: parquet has neither)."""
    statements = ["create database if not exists raw"]
    for table in TABLES:
        cols = ", ".join(f"`{col}` {typ}" for col, typ in spark_columns(table.name))
        part = f" partitioned by ({RAW_PARTITION})" if table.name in BATCH_TABLES else ""
        statements.append(
            f"create table if not exists raw.{table.name} ({cols}) using {table_format}{part}"
        )
    return statements
