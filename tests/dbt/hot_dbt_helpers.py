"""Helpers for the dbt tests: raw tables via hot.warehouse, in-process `dbt` runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import duckdb

from hot.warehouse import connect

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"
INGESTED_AT = datetime(2026, 4, 12, 9, 0, 0)


@contextmanager
def warehouse(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path)
    try:
        yield con
    finally:
        con.close()


# Per raw table, the columns a row brings; ingest appends batch_id, file, line_no, ingested_at.
_CATALOGUE_COLUMNS = {
    "videos": ("video_id", "title", "thumbnail_url", "creator_id", "published_at"),
    "creators": ("creator_id", "name", "avatar_url"),
    "moderation": ("video_id", "status", "decided_at", "reason"),
}
_EVENT_COLUMNS = ("event_id", "type", "video_id", "user_id", "occurred_at", "watch_time_sec")


def _raw_row(row: dict, columns: tuple[str, ...], table: str, batch: int, line_no: int) -> tuple:
    return (*(row[c] for c in columns), batch, f"{table}/{batch}.jsonl", line_no, INGESTED_AT)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"insert into raw.{table} values ({marks})", rows)


def raw_rows(
    data: dict[str, list[dict]], meta_batches: Iterable[int], event_batch: dict[int, int]
) -> dict[str, list[tuple]]:
    """Per raw table, the rows (in its column order) that ingest would write for the
    catalogue/moderation rows of ``meta_batches`` and the events of the parts in
    ``event_batch`` (part -> batch_id)."""
    meta = set(meta_batches)
    rows = {
        table: [
            _raw_row(r, columns, table, r["batch_id"], r["line_no"])
            for r in data[table]
            if r["batch_id"] in meta
        ]
        for table, columns in _CATALOGUE_COLUMNS.items()
    }
    rows["events"] = [
        _raw_row(e, _EVENT_COLUMNS, "events", event_batch[e["part"]], i + 1)
        for i, e in enumerate(data["events"])
        if e["part"] in event_batch
    ]
    return rows


def insert_raw(
    path: Path,
    data: dict[str, list[dict]],
    meta_batches: Iterable[int],
    event_batch: dict[int, int],
) -> None:
    """Write ``raw_rows`` into the DuckDB file's raw.*, as ingest would."""
    with warehouse(path) as con:
        for table, rows in raw_rows(data, meta_batches, event_batch).items():
            _insert(con, table, rows)


def query(path: Path, sql: str) -> list[dict[str, Any]]:
    with warehouse(path) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def invoke_dbt(
    env: dict[str, str], work_dir: Path, *args: str, dbt_vars: dict | None = None
) -> Any:
    """`dbt <args>` in this process with ``env`` set (the profile's HOT_* variables) and
    target/log paths under ``work_dir``; asserts that every node (models, unit tests, data
    tests) succeeded (warnings allowed)."""
    from dbt.cli.main import dbtRunner

    cli = [
        *args,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    if dbt_vars:
        cli += ["--vars", json.dumps(dbt_vars)]
    with patch.dict(os.environ, env):
        res = dbtRunner().invoke(cli)
    failed = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (res.result or [])
        if str(r.status) not in ("success", "pass", "warn")
    ]
    assert res.success and not failed, f"dbt {' '.join(args)} failed: {res.exception} {failed}"
    return res


def run_dbt(db_path: Path, work_dir: Path, *args: str, dbt_vars: dict | None = None) -> Any:
    """``invoke_dbt`` on the DuckDB target, against the warehouse file ``db_path``."""
    return invoke_dbt({"HOT_DUCKDB_PATH": str(db_path)}, work_dir, *args, dbt_vars=dbt_vars)
