"""Helpers for the dbt tests: raw tables via hot.warehouse, in-process `dbt` runs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

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


def insert_raw(
    path: Path,
    data: dict[str, list[dict]],
    meta_batches: Iterable[int],
    event_batch: dict[int, int],
) -> None:
    """Write catalogue/moderation rows of ``meta_batches`` and the events of the parts in
    ``event_batch`` (part -> batch_id) into raw.*, as ingest would."""
    meta = set(meta_batches)
    with warehouse(path) as con:
        rows = [
            (
                r["video_id"],
                r["title"],
                r["thumbnail_url"],
                r["creator_id"],
                r["published_at"],
                r["batch_id"],
                f"videos/{r['batch_id']}.jsonl",
                r["line_no"],
                INGESTED_AT,
            )
            for r in data["videos"]
            if r["batch_id"] in meta
        ]
        if rows:
            con.executemany("insert into raw.videos values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        rows = [
            (
                r["creator_id"],
                r["name"],
                r["avatar_url"],
                r["batch_id"],
                f"creators/{r['batch_id']}.jsonl",
                r["line_no"],
                INGESTED_AT,
            )
            for r in data["creators"]
            if r["batch_id"] in meta
        ]
        if rows:
            con.executemany("insert into raw.creators values (?, ?, ?, ?, ?, ?, ?)", rows)
        rows = [
            (
                r["video_id"],
                r["status"],
                r["decided_at"],
                r["reason"],
                r["batch_id"],
                f"moderation/{r['batch_id']}.jsonl",
                r["line_no"],
                INGESTED_AT,
            )
            for r in data["moderation"]
            if r["batch_id"] in meta
        ]
        if rows:
            con.executemany("insert into raw.moderation values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        rows = [
            (
                e["event_id"],
                e["type"],
                e["video_id"],
                e["user_id"],
                e["occurred_at"],
                e["watch_time_sec"],
                event_batch[e["part"]],
                f"events/{event_batch[e['part']]}.jsonl",
                i + 1,
                INGESTED_AT,
            )
            for i, e in enumerate(data["events"])
            if e["part"] in event_batch
        ]
        if rows:
            con.executemany("insert into raw.events values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def query(path: Path, sql: str) -> list[dict[str, Any]]:
    with warehouse(path) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def run_dbt(db_path: Path, work_dir: Path, *args: str, dbt_vars: dict | None = None) -> Any:
    """`dbt <args>` against ``db_path`` with target/log paths under ``work_dir``; asserts that
    every node (models, unit tests, data tests) succeeded (warnings allowed)."""
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
    old = os.environ.get("HOT_DUCKDB_PATH")
    os.environ["HOT_DUCKDB_PATH"] = str(db_path)
    try:
        res = dbtRunner().invoke(cli)
    finally:
        if old is None:
            os.environ.pop("HOT_DUCKDB_PATH", None)
        else:
            os.environ["HOT_DUCKDB_PATH"] = old
    failed = [
        f"{r.node.unique_id}: {r.status} {r.message}"
        for r in (res.result or [])
        if str(r.status) not in ("success", "pass", "warn")
    ]
    assert res.success and not failed, f"dbt {' '.join(args)} failed: {res.exception} {failed}"
    return res
