"""Ingest: validation, quarantine accounting, replays, the landing file rules and bad input
(the dbt project's ingest SQL, rendered by dbt, run on a real DuckDB)."""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dagster_project.resources.dbt_inprocess import ingest_statements
from hot.ingest import FileReport, Ingestor, file_lines, pending_files
from hot.landing import format_ts, write_atomic
from hot.warehouse import connect

NOW = datetime.now(UTC)


def _event(event_id: str, **overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": event_id,
        "type": "like",
        "video_id": "v1",
        "user_id": "u1",
        "occurred_at": format_ts(NOW - timedelta(minutes=1)),
    }
    event.update(overrides)
    return event


def _line(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.fixture(scope="session")
def statements() -> dict[str, Any]:
    """The ingest SQL as dbt renders it for the DuckDB profile."""
    return ingest_statements()


@pytest.fixture
def ingestor(tmp_path: Path, statements: dict[str, Any]) -> Ingestor:
    landing = tmp_path / "landing"
    landing.mkdir()
    return Ingestor(connect(tmp_path / "w.duckdb"), landing, statements)


def _write_bytes(folder: Path, name: str, data: bytes) -> Path:
    """A landing file with exactly these bytes (temp name, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    return tmp.rename(folder / name)


def _accounted(report: FileReport) -> FileReport:
    assert report.valid + report.duplicates + report.quarantined == report.lines_read
    return report


# (line, expected reason code) — one per way a line can be bad.
BAD_LINES: list[tuple[bytes, str]] = [
    (_line(_event("b1", video_id=42)), "invalid_field"),
    (_line(_event("b2", user_id=["u"])), "invalid_field"),
    (_line({k: v for k, v in _event("b3").items() if k != "video_id"}), "missing_field"),
    (_line({k: v for k, v in _event("b4").items() if k != "occurred_at"}), "missing_field"),
    (_line({k: v for k, v in _event("x").items() if k != "event_id"}), "missing_field"),
    (_line(_event("b5", type="dislike")), "unknown_event_type"),
    (_line(_event("b6", occurred_at="last tuesday")), "invalid_timestamp"),
    (_line(_event("b7", occurred_at="2026-01-01T00:00:00")), "invalid_timestamp"),
    (_line(_event("b8", occurred_at=format_ts(NOW + timedelta(hours=2)))), "future_timestamp"),
    (
        b'{"event_id":"b9","type":"watch","video_id":"v","user_id":"u",'
        b'"occurred_at":"2026-01-01T00:00:00Z","watch_time_sec":NaN}',
        "invalid_json",
    ),
    (_line(_event("b10", type="watch", watch_time_sec=-5)), "invalid_watch_time"),
    (_line(_event("b11", type="watch", watch_time_sec="12")), "invalid_watch_time"),
    (_line(_event("b12", type="watch")), "missing_field"),
    (b'{"event_id": "b13", "type": "li', "invalid_json"),
    (b"", "empty_line"),
    (b"   ", "empty_line"),
    (b'{"event_id": "' + b"a" * (10 * 1024 * 1024) + b'"}', "line_too_long"),
    (b'{"event_id": "b14\xff\xfe"}', "invalid_utf8"),
    (_line([_event("b15")]), "not_an_object"),
    (_line("just a string"), "not_an_object"),
    (_line(_event("e" * 129)), "invalid_field"),
    (_line(_event("")), "invalid_field"),
]


def test_file_of_bad_lines_is_quarantined_and_accounted(ingestor: Ingestor) -> None:
    good = [_line(_event("g1")), _line(_event("g2", type="watch", watch_time_sec=30.5))]
    replay = _line(_event("g1"))  # same event_id again: a duplicate, not a new count
    lines = [good[0], *[b for b, _ in BAD_LINES], good[1], replay]
    path = write_atomic(ingestor.landing_dir / "events", "0001.jsonl", lines)

    report = ingestor.ingest_file(path)

    assert report.lines_read == len(lines)
    assert (report.valid, report.duplicates, report.quarantined) == (2, 1, len(BAD_LINES))
    assert report.valid + report.duplicates + report.quarantined == report.lines_read
    rows = ingestor.con.execute(
        "select line_no, reason, length(raw_line) from raw.quarantine order by line_no"
    ).fetchall()
    assert [r[1] for r in rows] == [code for _, code in BAD_LINES]
    assert [r[0] for r in rows] == list(range(2, 2 + len(BAD_LINES)))
    assert max(r[2] for r in rows) <= 4096  # raw line truncated to 4 KiB
    stored = ingestor.con.execute(
        "select lines_read, valid, duplicates, quarantined from raw.ingested_files"
    ).fetchone()
    assert stored == (len(lines), 2, 1, len(BAD_LINES))


def test_replayed_file_and_replayed_events_count_once(ingestor: Ingestor) -> None:
    events = ingestor.landing_dir / "events"
    first = write_atomic(events, "0001.jsonl", [_line(_event("e1")), _line(_event("e2"))])
    assert ingestor.ingest_file(first).valid == 2
    assert ingestor.ingest_file(first).skipped  # the same file again: not read twice
    # The same events in a new file (a producer retry) are duplicates; first seen wins.
    retry = write_atomic(
        events, "0002.jsonl", [_line(_event("e1", video_id="other")), _line(_event("e3"))]
    )
    report = ingestor.ingest_file(retry)
    assert (report.valid, report.duplicates) == (1, 1)
    rows = ingestor.con.execute("select event_id, video_id from raw.events order by 1").fetchall()
    assert rows == [("e1", "v1"), ("e2", "v1"), ("e3", "v1")]


def test_only_renamed_files_count_in_order_catalogue_first(ingestor: Ingestor) -> None:
    land = ingestor.landing_dir
    write_atomic(land / "events", "0002.jsonl", [_line(_event("e2"))])
    write_atomic(land / "events", "0001.jsonl", [_line(_event("e1"))])
    write_atomic(
        land / "videos", "0009.jsonl", [_line({"video_id": "v1", "title": "t", "creator_id": "c1"})]
    )
    (land / "events" / "0003.jsonl.tmp").write_text("{}\n")  # still being written
    (land / "events" / ".0004.jsonl").write_text("{}\n")  # hidden temp name
    (land / "events" / "notes.txt").write_text("ignored\n")
    names = [p.relative_to(land).as_posix() for p in pending_files(land, ingestor.con)]
    assert names == ["videos/0009.jsonl", "events/0001.jsonl", "events/0002.jsonl"]
    reports = ingestor.ingest_pending()
    assert [r.batch_id for r in reports] == [1, 2, 3]
    assert pending_files(land, ingestor.con) == []


def test_parquet_files_are_accepted(ingestor: Ingestor) -> None:
    folder = ingestor.landing_dir / "events"
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "event_id": ["p1", "p2"],
            "type": ["watch", "bogus"],
            "video_id": ["v1", "v1"],
            "user_id": ["u1", "u2"],
            "occurred_at": [format_ts(NOW - timedelta(minutes=3))] * 2,
            "watch_time_sec": [12.0, None],
        }
    )
    pq.write_table(table, folder / "0001.parquet")
    report = ingestor.ingest_file(folder / "0001.parquet")
    assert (report.valid, report.quarantined) == (1, 1)
    assert report.reasons == {"unknown_event_type": 1}


def test_catalogue_and_moderation_validation(ingestor: Ingestor) -> None:
    land = ingestor.landing_dir
    videos = write_atomic(
        land / "videos",
        "0001.jsonl",
        [
            _line(
                {
                    "video_id": "v1",
                    "title": "A",
                    "creator_id": "c1",
                    "published_at": "2026-01-01T00:00:00+09:00",
                }
            ),
            _line({"video_id": "v2", "title": "B"}),
        ],
    )
    moderation = write_atomic(
        land / "moderation",
        "0001.jsonl",
        [
            _line({"video_id": "v1", "status": "approved", "decided_at": "2026-01-01T00:00:00Z"}),
            _line({"video_id": "v1", "status": "maybe", "decided_at": "2026-01-01T00:00:00Z"}),
            _line({"video_id": "v1", "status": "removed"}),
        ],
    )
    assert ingestor.ingest_file(videos).reasons == {"missing_field": 1}
    assert ingestor.ingest_file(moderation).reasons == {"invalid_status": 1, "missing_field": 1}
    published = ingestor.con.execute("select published_at from raw.videos").fetchone()
    assert published == (datetime(2025, 12, 31, 15, 0),)  # offset applied, stored as UTC


# --- bad input: each is ingested or quarantined, a pass never crashes, no valid line is lost ---


def test_large_file_is_ingested_whole(ingestor: Ingestor) -> None:
    """A 130 MB file of events (about 860,000 lines) in one pass."""
    template = _line(_event("{id}", video_id="v" + "x" * 60, user_id="u" + "y" * 30))
    lines = [template.replace(b"{id}", b"e%07d" % i) for i in range(860_000)]
    path = write_atomic(ingestor.landing_dir / "events", "0001.jsonl", lines)
    assert path.stat().st_size > 130_000_000
    report = _accounted(ingestor.ingest_file(path))
    assert (report.lines_read, report.valid, report.quarantined) == (860_000, 860_000, 0)
    assert ingestor.con.execute("select count(distinct event_id) from raw.events").fetchone() == (
        860_000,
    )


def test_single_50_mb_line_is_quarantined_truncated(ingestor: Ingestor) -> None:
    huge = b'{"event_id": "' + "\u00e9".encode() * 10 + "é".encode() * (25 * 1024 * 1024) + b'"}'
    assert len(huge) > 50 * 1024 * 1024
    path = write_atomic(
        ingestor.landing_dir / "events", "0001.jsonl", [huge, _line(_event("after"))]
    )
    report = _accounted(ingestor.ingest_file(path))
    assert (report.lines_read, report.valid, report.reasons) == (2, 1, {"line_too_long": 1})
    raw = ingestor.con.execute("select raw_line from raw.quarantine").fetchone()
    assert raw is not None
    assert 4000 < len(raw[0].encode()) <= 4096  # 4 KiB of bytes, cut on a character boundary
    assert raw[0].startswith('{"event_id": "')


def test_empty_file_counts_zero_lines(ingestor: Ingestor) -> None:
    path = _write_bytes(ingestor.landing_dir / "events", "0001.jsonl", b"")
    report = _accounted(ingestor.ingest_file(path))
    assert (report.lines_read, report.skipped) == (0, False)
    stored = ingestor.con.execute("select lines_read from raw.ingested_files").fetchall()
    assert stored == [(0,)]  # recorded, so it is never read again
    assert pending_files(ingestor.landing_dir, ingestor.con) == []


def test_binary_garbage_is_quarantined_and_valid_lines_survive(ingestor: Ingestor) -> None:
    rng = random.Random(11)
    garbage = bytes(rng.randrange(256) for _ in range(200_000))
    # Truncated multi-byte sequences right before a newline must not swallow the newline.
    data = garbage + b"\n\xf0\x9f\x98\n\xe3\x81\n" + _line(_event("kept")) + b"\n\xc3"
    path = _write_bytes(ingestor.landing_dir / "events", "0001.jsonl", data)
    report = _accounted(ingestor.ingest_file(path))
    assert report.lines_read == data.count(b"\n") + 1  # no final newline: the last line counts
    assert report.valid == 1
    assert set(report.reasons) <= {"empty_line", "invalid_utf8", "invalid_json", "line_too_long"}
    kept = ingestor.con.execute("select event_id, line_no from raw.events").fetchall()
    assert kept == [("kept", garbage.count(b"\n") + 4)]
    assert ingestor.con.execute(
        "select max(strlen(raw_line)) <= 4096, count(*) from raw.quarantine"
    ).fetchone() == (True, report.quarantined)


def test_crlf_line_endings(ingestor: Ingestor) -> None:
    data = b"\r\n".join(_line(_event(f"c{i}")) for i in range(3)) + b"\r\n\r\n"
    path = _write_bytes(ingestor.landing_dir / "events", "0001.jsonl", data)
    report = _accounted(ingestor.ingest_file(path))
    assert (report.lines_read, report.valid, report.reasons) == (4, 3, {"empty_line": 1})


def test_utf8_bom_first_line_counts(ingestor: Ingestor) -> None:
    data = b"\xef\xbb\xbf" + _line(_event("bom")) + b"\n" + _line(_event("second")) + b"\n"
    path = _write_bytes(ingestor.landing_dir / "events", "0001.jsonl", data)
    report = _accounted(ingestor.ingest_file(path))
    assert (report.lines_read, report.valid, report.quarantined) == (2, 2, 0)
    ids = ingestor.con.execute("select event_id from raw.events order by line_no").fetchall()
    assert ids == [("bom",), ("second",)]


def test_no_final_newline_last_line_counts(ingestor: Ingestor) -> None:
    data = _line(_event("a")) + b"\n" + _line(_event("b", type="watch", watch_time_sec=7))
    path = _write_bytes(ingestor.landing_dir / "events", "0001.jsonl", data)
    report = _accounted(ingestor.ingest_file(path))
    assert (report.lines_read, report.valid) == (2, 2)
    watch = ingestor.con.execute("select watch_time_sec from raw.events where event_id = 'b'")
    assert watch.fetchone() == (7.0,)


def test_parquet_that_is_not_parquet_is_quarantined(ingestor: Ingestor) -> None:
    path = _write_bytes(
        ingestor.landing_dir / "events", "0001.parquet", b"PAR1 not really\n" + os.urandom(64)
    )
    report = _accounted(ingestor.ingest_file(path))
    assert report.lines_read >= 1
    assert report.valid == 0
    assert report.quarantined == report.lines_read


def test_duplicates_within_a_file_first_line_wins(ingestor: Ingestor) -> None:
    lines = [
        _line(_event("d1", video_id="first")),
        _line(_event("d1", type="dislike")),  # quarantined: does not take the id
        _line(_event("d1", video_id="second")),
        _line(_event("d2")),
    ]
    path = write_atomic(ingestor.landing_dir / "events", "0001.jsonl", lines)
    report = _accounted(ingestor.ingest_file(path))
    assert (report.valid, report.duplicates, report.quarantined) == (2, 1, 1)
    rows = ingestor.con.execute("select event_id, video_id, line_no from raw.events order by 1")
    assert rows.fetchall() == [("d1", "first", 1), ("d2", "v1", 4)]


@pytest.mark.parametrize(
    ("data", "lines"),
    [
        (b"", []),
        (b"\n", [b"\n"]),
        (b"a", [b"a\n"]),
        (b"a\n", [b"a\n"]),
        (b"a\n\nb\xff\r", [b"a\n", b"\n", b"b\xff\r\n"]),
    ],
)
def test_file_lines_split_bytes_on_line_feeds(tmp_path: Path, data: bytes, lines: list) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(data)
    table = file_lines(path)
    assert table.column("line_no").to_pylist() == list(range(1, len(lines) + 1))
    assert table.column("value").to_pylist() == lines


def test_each_line_is_utf8_or_not_on_its_own(ingestor: Ingestor) -> None:
    """A file that is not UTF-8 as a whole is taken line by line: a line is quarantined as
    invalid_utf8 exactly when Python's decoder refuses it (DuckDB's decode 'ignore' drops only
    the bytes that are not UTF-8; an upgrade that changes that fails here)."""
    rng = random.Random(5)
    alphabet = [0x41, 0x0D, 0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xA9, 0xE2, 0xED, 0xA0, 0xF0, 0x9F]
    alphabet += [0xF4, 0x90, 0xFF]
    texts = [bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(2000)]
    lines = [
        _line(_event(f"u{i}", user_id="x")).replace(b'"x"', b'"' + t + b'"')
        for i, t in enumerate(texts)
    ]
    path = _write_bytes(ingestor.landing_dir / "events", "0001.jsonl", b"\n".join(lines))
    _accounted(ingestor.ingest_file(path))

    def utf8(line: bytes) -> bool:
        try:
            line.decode()
        except UnicodeDecodeError:
            return False
        return True

    expected = sorted(n for n, line in enumerate(lines, 1) if not utf8(line))
    assert 0 < len(expected) < len(lines)
    got = ingestor.con.execute(
        "select line_no from raw.quarantine where reason = 'invalid_utf8' order by line_no"
    ).fetchall()
    assert [n for (n,) in got] == expected
