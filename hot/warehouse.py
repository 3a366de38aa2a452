"""The DuckDB warehouse: the raw schema that ingest writes and dbt reads as sources."""

from __future__ import annotations

from pathlib import Path

import duckdb

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
    line_no integer not null,
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
    line_no integer not null,
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
"""


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating the raw schema on first use (unless read-only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    if not read_only:
        con.execute(RAW_DDL)
    return con
