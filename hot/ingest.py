"""Landing-zone ingest: validate micro-batch files line by line into DuckDB ``raw.*``.

Each file is processed in one transaction: its valid rows, its quarantined lines and its
row in ``raw.ingested_files`` land together or not at all, so a file counts exactly once
even across crashes and replays. Replayed ``event_id``s (already in ``raw.events`` or
earlier in the same file) are counted as duplicates and dropped: first seen wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

SOURCES: tuple[str, ...] = ("videos", "creators", "moderation", "events")
"""Landing folders in processing order: catalogue before events."""

EVENT_TYPES = frozenset({"like", "watch", "comment", "share"})
MODERATION_STATUSES = frozenset({"approved", "pending_review", "restricted", "removed"})
MAX_ID_LEN = 128
MAX_TEXT_LEN = 2048
RAW_LINE_KEEP = 4096
MAX_LINE_BYTES = 1 << 20
FUTURE_TOLERANCE = timedelta(minutes=5)

_decoder = msgspec.json.Decoder()


class Rejected(Exception):
    """A line that goes to quarantine: ``code`` is the machine-readable reason."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


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


# --- field validation -------------------------------------------------------------------


def _string(obj: dict[str, Any], name: str, *, required: bool, max_len: int = MAX_ID_LEN) -> Any:
    value = obj.get(name)
    if value is None:
        if required:
            raise Rejected("missing_field", name)
        return None
    if not isinstance(value, str):
        raise Rejected("invalid_field", f"{name}: expected string")
    if required and not value:
        raise Rejected("invalid_field", f"{name}: empty")
    if len(value) > max_len:
        raise Rejected("invalid_field", f"{name}: longer than {max_len}")
    return value


def parse_timestamp(value: Any, name: str) -> datetime:
    """RFC 3339 with an explicit offset, returned as naive UTC."""
    if not isinstance(value, str):
        raise Rejected("invalid_timestamp", f"{name}: expected RFC 3339 string")
    text = value.strip()
    if len(text) < 20 or text[10] not in "Tt ":
        raise Rejected("invalid_timestamp", f"{name}: not RFC 3339")
    try:
        ts = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    except ValueError:
        raise Rejected("invalid_timestamp", f"{name}: not RFC 3339") from None
    if ts.tzinfo is None:
        raise Rejected("invalid_timestamp", f"{name}: offset required")
    return ts.astimezone(UTC).replace(tzinfo=None)


def _required_timestamp(obj: dict[str, Any], name: str) -> datetime:
    if obj.get(name) is None:
        raise Rejected("missing_field", name)
    return parse_timestamp(obj[name], name)


def validate_event(obj: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """An engagement event as a raw.events tuple (without lineage columns)."""
    event_id = _string(obj, "event_id", required=True)
    event_type = obj.get("type")
    if event_type is None:
        raise Rejected("missing_field", "type")
    if event_type not in EVENT_TYPES:
        raise Rejected("unknown_event_type", str(event_type)[:64])
    video_id = _string(obj, "video_id", required=True)
    user_id = _string(obj, "user_id", required=True)
    occurred_at = _required_timestamp(obj, "occurred_at")
    if occurred_at > now + FUTURE_TOLERANCE:
        raise Rejected("future_timestamp", "occurred_at more than 5 minutes ahead")
    watch: float | None = None
    if event_type == "watch":
        raw_watch = obj.get("watch_time_sec")
        if raw_watch is None:
            raise Rejected("missing_field", "watch_time_sec")
        if isinstance(raw_watch, bool) or not isinstance(raw_watch, int | float):
            raise Rejected("invalid_watch_time", "not a number")
        watch = float(raw_watch)
        if not math.isfinite(watch) or watch < 0:
            raise Rejected("invalid_watch_time", "must be finite and >= 0")
    return (event_id, event_type, video_id, user_id, occurred_at, watch)


def validate_video(obj: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """A catalogue video as a raw.videos tuple."""
    published = obj.get("published_at")
    return (
        _string(obj, "video_id", required=True),
        _string(obj, "title", required=True, max_len=MAX_TEXT_LEN),
        _string(obj, "thumbnail_url", required=False, max_len=MAX_TEXT_LEN),
        _string(obj, "creator_id", required=True),
        None if published is None else parse_timestamp(published, "published_at"),
    )


def validate_creator(obj: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """A catalogue creator as a raw.creators tuple."""
    return (
        _string(obj, "creator_id", required=True),
        _string(obj, "name", required=True, max_len=MAX_TEXT_LEN),
        _string(obj, "avatar_url", required=False, max_len=MAX_TEXT_LEN),
    )


def validate_moderation(obj: dict[str, Any], now: datetime) -> tuple[Any, ...]:
    """A moderation decision as a raw.moderation tuple."""
    video_id = _string(obj, "video_id", required=True)
    status = obj.get("status")
    if status is None:
        raise Rejected("missing_field", "status")
    if status not in MODERATION_STATUSES:
        raise Rejected("invalid_status", str(status)[:64])
    return (
        video_id,
        status,
        _required_timestamp(obj, "decided_at"),
        _string(obj, "reason", required=False, max_len=MAX_TEXT_LEN),
    )


@dataclass(frozen=True)
class SourceSpec:
    """How one landing folder maps to its raw table."""

    table: str
    columns: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    validate: Callable[[dict[str, Any], datetime], tuple[Any, ...]]


_TS = pa.timestamp("us")
SPECS: dict[str, SourceSpec] = {
    "events": SourceSpec(
        "raw.events",
        ("event_id", "type", "video_id", "user_id", "occurred_at", "watch_time_sec"),
        (pa.string(), pa.string(), pa.string(), pa.string(), _TS, pa.float64()),
        validate_event,
    ),
    "videos": SourceSpec(
        "raw.videos",
        ("video_id", "title", "thumbnail_url", "creator_id", "published_at"),
        (pa.string(), pa.string(), pa.string(), pa.string(), _TS),
        validate_video,
    ),
    "creators": SourceSpec(
        "raw.creators",
        ("creator_id", "name", "avatar_url"),
        (pa.string(), pa.string(), pa.string()),
        validate_creator,
    ),
    "moderation": SourceSpec(
        "raw.moderation",
        ("video_id", "status", "decided_at", "reason"),
        (pa.string(), pa.string(), _TS, pa.string()),
        validate_moderation,
    ),
}


# --- reading files ------------------------------------------------------------------------


def _jsonl_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            yield line_no, line.rstrip(b"\r\n")


def _decode_line(line: bytes) -> dict[str, Any]:
    if not line.strip():
        raise Rejected("empty_line")
    if len(line) > MAX_LINE_BYTES:
        raise Rejected("line_too_long", f"{len(line)} bytes > {MAX_LINE_BYTES}")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("invalid_utf8", str(exc)[:200]) from None
    try:
        obj = _decoder.decode(line)
    except msgspec.DecodeError as exc:
        raise Rejected("invalid_json", str(exc)[:200]) from None
    if not isinstance(obj, dict):
        raise Rejected("not_an_object", type(obj).__name__)
    return obj


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """Parquet rows as (row number, dict); a raw line for quarantine is its JSON form."""
    table = pq.read_table(path)
    yield from enumerate(table.to_pylist(), start=1)


def _parquet_value(value: Any) -> Any:
    if isinstance(value, datetime):
        ts = value if value.tzinfo else value.replace(tzinfo=UTC)
        return ts.isoformat()
    return value


def _raw_text(line: Any) -> str:
    if isinstance(line, bytes):
        return line[:RAW_LINE_KEEP].decode("utf-8", errors="replace")
    return msgspec.json.encode(line, enc_hook=str).decode()[:RAW_LINE_KEEP]


# --- the ingest ---------------------------------------------------------------------------


class Ingestor:
    """Ingests landing files into one open DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, landing_dir: Path) -> None:
        self.con = con
        self.landing_dir = landing_dir

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
        if source not in SPECS:
            raise ValueError(f"{path} is not inside a landing folder {sorted(SPECS)}")
        name = relative_name(self.landing_dir, path)
        done = self.con.execute(
            "select 1 from raw.ingested_files where source_file = ?", [name]
        ).fetchone()
        batch_id = self.next_batch_id()
        report = FileReport(source=source, source_file=name, batch_id=batch_id)
        if done:
            report.skipped = True
            return report
        ingested_at = datetime.now(UTC).replace(tzinfo=None)
        check_now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        spec = SPECS[source]
        rows: list[tuple[Any, ...]] = []
        quarantine: list[tuple[Any, ...]] = []
        for line_no, line in self._lines(path):
            report.lines_read += 1
            try:
                obj = _decode_line(line) if isinstance(line, bytes) else line
                values = spec.validate(obj, check_now)
            except Rejected as rej:
                quarantine.append(
                    (
                        source,
                        name,
                        line_no,
                        rej.code,
                        rej.detail,
                        _raw_text(line),
                        batch_id,
                        ingested_at,
                    )
                )
                report.reasons[rej.code] = report.reasons.get(rej.code, 0) + 1
                continue
            rows.append((*values, line_no))
        report.quarantined = len(quarantine)
        self.con.execute("begin transaction")
        try:
            report.valid = self._insert_rows(spec, source, rows, name, batch_id, ingested_at)
            report.duplicates = len(rows) - report.valid
            if quarantine:
                self.con.executemany(
                    "insert into raw.quarantine values (?, ?, ?, ?, ?, ?, ?, ?)", quarantine
                )
            self.con.execute(
                "insert into raw.ingested_files values (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    source,
                    batch_id,
                    report.lines_read,
                    report.valid,
                    report.duplicates,
                    report.quarantined,
                    ingested_at,
                ],
            )
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise
        return report

    def _lines(self, path: Path) -> Iterator[tuple[int, Any]]:
        if path.suffix == ".parquet":
            for row_no, row in _parquet_rows(path):
                yield row_no, {k: _parquet_value(v) for k, v in row.items()}
        else:
            yield from _jsonl_lines(path)

    def _insert_rows(
        self,
        spec: SourceSpec,
        source: str,
        rows: list[tuple[Any, ...]],
        name: str,
        batch_id: int,
        ingested_at: datetime,
    ) -> int:
        """Insert validated rows; events dedupe on event_id (first seen wins). Returns inserted."""
        if not rows:
            return 0
        columns = list(zip(*rows, strict=True))
        arrays = [pa.array(col, type=t) for col, t in zip(columns, spec.types, strict=False)]
        arrays.append(pa.array(columns[-1], type=pa.int32()))
        staged = pa.table(arrays, names=[*spec.columns, "line_no"])
        self.con.register("staged", staged)
        cols = ", ".join(spec.columns)
        lineage = "?::bigint, ?, line_no, ?::timestamp"
        params = [batch_id, name, ingested_at]
        try:
            if source != "events":
                return self._inserted(
                    f"insert into {spec.table} select {cols}, {lineage} from staged", params
                )
            return self._inserted(
                f"""
                insert into {spec.table}
                select {cols}, {lineage} from (
                    select *, row_number() over (partition by event_id order by line_no) as rn
                    from staged
                ) s
                where rn = 1
                  and not exists (select 1 from raw.events e where e.event_id = s.event_id)
                """,
                params,
            )
        finally:
            self.con.unregister("staged")

    def _inserted(self, sql: str, params: list[Any]) -> int:
        row = self.con.execute(sql, params).fetchone()
        return int(row[0]) if row else 0
