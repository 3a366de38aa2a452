"""Landing-zone ingest: each micro-batch file parsed and validated inside DuckDB.

The SQL is the dbt project's (``dbt/macros/ingest.sql``, rendered once per manifest version by
the caller): DuckDB reads the file's lines with their numbers, extracts the JSON fields and
runs every validity check, one reason code per CASE branch, into a stage table. Quarantine,
duplicates (first seen ``event_id`` wins, across files and by line order within one) and the
per-file counts are then set operations on that stage.

Each file is ingested in one transaction: its valid rows, its quarantined lines and its row in
``raw.ingested_files`` land together or not at all, so a file counts exactly once even across
crashes and replays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

SOURCES: tuple[str, ...] = ("videos", "creators", "moderation", "events")
"""Landing folders in processing order: catalogue before events."""

IngestStatements = Mapping[str, Any]
"""The rendered ingest SQL by name (``hot_ingest_statements`` in dbt/macros/ingest.sql)."""

_PARAM = re.compile(r"\$([a-z_]+)")


@dataclass
class FileReport:
    """Accounting of one ingested file: ``valid + duplicates + quarantined == lines_read``."""

    source: str
    source_file: str
    batch_id: int
    lines_read: int = 0
    valid: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    skipped: bool = False


def is_landing_file(path: Path) -> bool:
    """A file counts once renamed to ``*.jsonl``/``*.parquet``; temp and hidden names don't."""
    name = path.name
    return (
        path.is_file()
        and not name.startswith(".")
        and not name.endswith(".tmp")
        and (name.endswith(".jsonl") or name.endswith(".parquet"))
    )


def pending_files(landing_dir: Path, con: duckdb.DuckDBPyConnection) -> list[Path]:
    """Landing files not yet ingested, catalogue folders first, by name within a folder."""
    done = {row[0] for row in con.execute("select source_file from raw.ingested_files").fetchall()}
    result: list[Path] = []
    for source in SOURCES:
        folder = landing_dir / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            if is_landing_file(path) and relative_name(landing_dir, path) not in done:
                result.append(path)
    return result


def relative_name(landing_dir: Path, path: Path) -> str:
    """The file's id in ``raw.*``: its path relative to the landing dir."""
    return path.resolve().relative_to(landing_dir.resolve()).as_posix()


def _utc_naive(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None)


class Ingestor:
    """Ingests landing files into one open DuckDB connection with the rendered ingest SQL."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, landing_dir: Path, statements: IngestStatements
    ) -> None:
        self.con = con
        self.landing_dir = landing_dir
        self.statements = statements

    def next_batch_id(self) -> int:
        """One more than the highest batch id so far."""
        row = self.con.execute(
            "select coalesce(max(batch_id), 0) from raw.ingested_files"
        ).fetchone()
        return int(row[0]) + 1 if row else 1

    def ingest_pending(self, now: datetime | None = None) -> list[FileReport]:
        """Ingest every pending landing file in order."""
        return [self.ingest_file(path, now) for path in pending_files(self.landing_dir, self.con)]

    def ingest_file(self, path: Path, now: datetime | None = None) -> FileReport:
        """Ingest one file atomically; a file already ingested is skipped (reported as such)."""
        source = path.parent.name
        if source not in SOURCES:
            raise ValueError(f"{path} is not inside a landing folder {sorted(SOURCES)}")
        name = relative_name(self.landing_dir, path)
        done = self.con.execute(
            "select 1 from raw.ingested_files where source_file = ?", [name]
        ).fetchone()
        batch_id = self.next_batch_id()
        if done:
            return FileReport(source=source, source_file=name, batch_id=batch_id, skipped=True)
        params = {
            "path": str(path),
            "file": name,
            "source": source,
            "batch_id": batch_id,
            "ingested_at": _utc_naive(datetime.now(UTC)),
            "now": _utc_naive(now or datetime.now(UTC)),
        }
        try:
            # The stage is a temporary table: it only reads raw.events (for replays), so it
            # is built before the transaction that writes.
            self._stage(source, path, params)
            self.con.execute("begin transaction")
            try:
                for statement in (f"{source}.insert", "quarantine", "ledger"):
                    self._run(statement, params)
                report = self._report(source, name, batch_id)
                self.con.execute("commit")
            except BaseException:
                self.con.execute("rollback")
                raise
        finally:
            for statement in self.statements["drop"]:
                self.con.execute(statement)
        return report

    def _stage(self, source: str, path: Path, params: dict[str, Any]) -> None:
        """Read the file's lines and validate them into the stage. A parquet file DuckDB cannot
        read is taken as lines of bytes: quarantined line by line, not a failed pass."""
        lines = "jsonl.lines"
        if path.suffix == ".parquet":
            try:
                self._run("parquet.lines", params)
                lines = ""
            except duckdb.Error:
                pass
        if lines:
            self._run(lines, params)
        self._run(f"{source}.stage", params)
        self._run(f"{source}.duplicates", params)

    def _run(self, name: str, params: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        sql: str = self.statements[name]
        return self.con.execute(sql, {k: params[k] for k in set(_PARAM.findall(sql))})

    def _report(self, source: str, name: str, batch_id: int) -> FileReport:
        row = self.con.execute(
            "select lines_read, valid, duplicates, quarantined from raw.ingested_files "
            "where source_file = ?",
            [name],
        ).fetchone()
        assert row is not None  # written by the ledger statement just before
        reasons = {str(r): int(n) for r, n in self._run("report", {}).fetchall()}
        return FileReport(source, name, batch_id, *map(int, row), reasons=reasons)
