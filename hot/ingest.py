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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from hot.warehouse import Rows, Warehouse, as_warehouse

SOURCES: tuple[str, ...] = ("videos", "creators", "moderation", "events")
"""Landing folders in processing order: catalogue before events."""

IngestStatements = Mapping[str, Any]
"""The rendered ingest SQL by name (``hot_ingest_statements`` in dbt/macros/ingest.sql)."""

FILE_RELATION = "hot_ingest_file"
"""The name a landing file's lines are registered under (``hot_ingest_file_relation``)."""


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


def pending_files(
    landing_dir: Path,
    con: duckdb.DuckDBPyConnection | Warehouse,
    sources: Iterable[str] = SOURCES,
) -> list[Path]:
    """Landing files of ``sources`` not yet ingested, catalogue folders first, by name within
    a folder."""
    done = {row[0] for row in con.execute("select source_file from raw.ingested_files").fetchall()}
    result: list[Path] = []
    for source in (s for s in SOURCES if s in sources):
        folder = landing_dir / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            if is_landing_file(path) and relative_name(landing_dir, path) not in done:
                result.append(path)
    return result


def batch_watermark(con: duckdb.DuckDBPyConnection | Warehouse) -> int:
    """The highest batch id ingested so far (0 before the first): every landing file and
    Kafka range is one batch."""
    # fetchall: a result left half-read would block registering a Kafka range's table.
    (row,) = con.execute("select coalesce(max(batch_id), 0) from raw.ingested_files").fetchall()
    return int(row[0])


def file_lines(path: Path) -> pa.Table:
    """The lines of a file split on line feeds: ``line_no`` (from 1) and ``value`` (the line's
    bytes with the line feed that ends it; a last line without one gets one). A final line
    feed does not open an empty last line.

    Split as bytes, so a line that is not UTF-8 keeps its number and its bytes; the engine
    decodes each line on its own (``hot_ingest_byte_lines``)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data += b"\n"
    # The file's own buffer, cut at each line feed: no Python object per line, and each
    # line keeps its feed because an Arrow value is the bytes between two offsets.
    feeds = _line_feeds(data)
    offsets = np.zeros(len(feeds) + 1, dtype=np.int64)
    offsets[1:] = feeds + 1
    values = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(feeds), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pa.table({"line_no": pa.array(np.arange(1, len(feeds) + 1)), "value": values})


_SCAN_CHUNK = 1 << 22
"""Bytes searched for line feeds at a time: a file's worth of fresh memory for the comparison
would cost more than the search (the first touch of new pages is slow on a VM)."""


def _line_feeds(data: bytes) -> np.ndarray:
    """The positions of the line feeds in ``data``."""
    array = np.frombuffer(data, dtype=np.uint8)
    chunks = [
        np.flatnonzero(array[start : start + _SCAN_CHUNK] == ord("\n")) + start
        for start in range(0, len(array), _SCAN_CHUNK)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def relative_name(landing_dir: Path, path: Path) -> str:
    """The file's id in ``raw.*``: its path relative to the landing dir."""
    return path.resolve().relative_to(landing_dir.resolve()).as_posix()


def _utc_naive(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None)


class Ingestor:
    """Ingests landing files into one open warehouse (a DuckDB connection or a
    :class:`~hot.warehouse.SparkWarehouse`) with the ingest SQL rendered for its engine."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection | Warehouse,
        landing_dir: Path,
        statements: IngestStatements,
    ) -> None:
        self.con = con
        self.warehouse = as_warehouse(con)
        # A batch a killed process left half-written is discarded before any new one.
        self.warehouse.recover()
        self.landing_dir = landing_dir
        self.statements = statements

    def next_batch_id(self) -> int:
        """One more than the highest batch id so far."""
        return batch_watermark(self.warehouse) + 1

    def ingest_pending(
        self, now: datetime | None = None, sources: Iterable[str] = SOURCES
    ) -> list[FileReport]:
        """Ingest every pending landing file (of ``sources``) in order."""
        pending = pending_files(self.landing_dir, self.con, sources)
        return [self.ingest_file(path, now) for path in pending]

    def ingest_file(self, path: Path, now: datetime | None = None) -> FileReport:
        """Ingest one file atomically; a file already ingested is skipped (reported as such)."""
        source = path.parent.name
        if source not in SOURCES:
            raise ValueError(f"{path} is not inside a landing folder {sorted(SOURCES)}")
        name = relative_name(self.landing_dir, path)
        done = self.warehouse.execute(
            f"select 1 from raw.ingested_files where source_file = {self.warehouse.param('file')}",
            {"file": name},
        ).fetchone()
        if done:
            return FileReport(source, name, self.next_batch_id(), skipped=True)
        params = {**self.batch_params(source, name, now), "path": str(path)}
        return self.ingest_staged(params, lambda: self._stage(source, path, params))

    def batch_params(self, source: str, name: str, now: datetime | None) -> dict[str, Any]:
        """The parameters of a batch's statements: its source, name (``file``), batch id and
        times."""
        return {
            "file": name,
            "source": source,
            "batch_id": self.next_batch_id(),
            "ingested_at": _utc_naive(datetime.now(UTC)),
            "now": _utc_naive(now or datetime.now(UTC)),
        }

    def ingest_staged(
        self, params: dict[str, Any], stage: Callable[[], None], also: Sequence[str] = ()
    ) -> FileReport:
        """One batch (a file, or a range of Kafka messages): ``stage()`` builds its stage and
        duplicates, then its rows, quarantined lines, the statements ``also`` and its ledger
        entry are written in one transaction (the ledger entry last: on Spark, where the
        transaction is the ledger row, it is the commit point)."""
        source = params["source"]
        # What a killed batch left of its stage goes first (on Spark the stage is a table).
        self._drop_stage()
        try:
            # The stage is a temporary table: it only reads raw.events (for replays), so it
            # is built before the transaction that writes.
            stage()
            with self.warehouse.transaction():
                for statement in (f"{source}.insert", "quarantine", *also, "ledger"):
                    self.run(statement, params)
                report = self._report(source, params["file"], params["batch_id"])
        finally:
            self._drop_stage()
        return report

    def _drop_stage(self) -> None:
        for statement in self.statements["drop"]:
            self.warehouse.execute(statement)

    def _stage(self, source: str, path: Path, params: dict[str, Any]) -> None:
        """Read the file's lines and validate them into the stage. A parquet file the engine
        cannot read is taken as lines of bytes: quarantined line by line, not a failed pass.
        A file the engine cannot split as text (DuckDB: not UTF-8 as a whole) is handed over
        as lines of bytes."""
        lines = "jsonl.lines"
        if path.suffix == ".parquet":
            try:
                self.run("parquet.lines", params)
                lines = ""
            except self.warehouse.errors:
                pass
        if lines:
            try:
                self.run(lines, params)
            except self.warehouse.errors:
                if not self.statements["bytes.lines"]:
                    raise
                self._stage_byte_lines(path, params)
        self.run(f"{source}.stage", params)
        self.run(f"{source}.duplicates", params)

    def _stage_byte_lines(self, path: Path, params: dict[str, Any]) -> None:
        """The lines of a file the engine does not split itself (DuckDB: a file that is not
        UTF-8 as a whole), handed over as bytes and decoded line by line."""
        self.con.register(FILE_RELATION, file_lines(path))
        try:
            self.run("bytes.lines", params)
        finally:
            self.con.unregister(FILE_RELATION)

    def run(self, name: str, params: dict[str, Any]) -> Rows:
        """Execute the rendered statement ``name`` with the parameters it names."""
        return self.warehouse.execute(self.statements[name], params)

    def _report(self, source: str, name: str, batch_id: int) -> FileReport:
        row = self.warehouse.execute(
            "select lines_read, valid, duplicates, quarantined from raw.ingested_files "
            f"where source_file = {self.warehouse.param('file')}",
            {"file": name},
        ).fetchone()
        assert row is not None  # written by the ledger statement just before
        reasons = {str(r): int(n) for r, n in self.run("report", {}).fetchall()}
        return FileReport(source, name, batch_id, *map(int, row), reasons=reasons)
