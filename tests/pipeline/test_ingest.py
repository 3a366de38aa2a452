"""Ingest: validation, quarantine accounting, replays and the landing file rules (real DuckDB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hot.ingest import Ingestor, pending_files
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


@pytest.fixture
def ingestor(tmp_path: Path) -> Ingestor:
    landing = tmp_path / "landing"
    landing.mkdir()
    return Ingestor(connect(tmp_path / "w.duckdb"), landing)


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
