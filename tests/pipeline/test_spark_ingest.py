"""The ingest SQL on Spark quarantines, deduplicates and counts as on DuckDB (SPEC §2, §9).

One landing zone with every kind of bad line of test_ingest.py, a replayed event, CRLF line
ends, a BOM, binary garbage, a file without a final newline, catalogue timestamps with
and without a valid offset and bad moderation decisions is ingested by each engine in a
process of its own (tests/pipeline/spark_ingest_dump.py): the ledger (valid + duplicates +
quarantined = lines read, per file), each quarantined line's number, reason code and raw line
(at most 4 KiB; for a line that is not UTF-8, see ``comparable``), and every accepted row
with its line number are the same. On Spark the raw tables are plain parquet, and Delta
tables in a third process (HOT_SPARK_TABLE_FORMAT=delta): both hold the same.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hot.landing import write_atomic
from tests.pipeline.test_ingest import BAD_LINES, _event, _line

pytestmark = pytest.mark.timeout(1500)  # two Spark processes (parquet, Delta)


def engine_process(
    module: str, data_dir: Path, engine: str, *args: str, timeout: float = 800, **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` on ``engine`` (Spark: ``local[2]``) with ``HOT_DATA_DIR`` at
    ``data_dir`` and the variables ``env``."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={
            **os.environ,
            "HOT_ENGINE": engine,
            "HOT_DATA_DIR": str(data_dir),
            "HOT_SPARK_MASTER": "local[2]",
            **env,
        },
    )


def dumped(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The ``HOT-DUMP`` JSON line a dump process printed (exit 0 asserted)."""
    assert result.returncode == 0, result.stderr[-4000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("HOT-DUMP ")]
    return json.loads(line.removeprefix("HOT-DUMP "))


def _dump(data_dir: Path, engine: str) -> dict[str, Any]:
    return dumped(engine_process("tests.pipeline.spark_ingest_dump", data_dir, engine))


def comparable(quarantine: list[list[Any]]) -> list[list[Any]]:
    """Quarantined lines (source, line, reason, raw text) without the raw text of those that
    are not UTF-8: its invalid bytes are a '?' each on DuckDB, one per invalid sequence on
    Spark (both printable, <= 4 KiB)."""
    return [row[:3] if row[2] == "invalid_utf8" else row for row in quarantine]


def test_spark_ingest_equals_duckdb(tmp_path: Path) -> None:
    landing = tmp_path / "duckdb" / "landing"
    good = [_line(_event("g1")), _line(_event("g2", type="watch", watch_time_sec=30.5))]
    write_atomic(landing / "events", "0001.jsonl", [good[0], *[b for b, _ in BAD_LINES], good[1]])
    write_atomic(landing / "events", "0002.jsonl", [_line(_event("g1")), _line(_event("g3"))])
    events = landing / "events"
    (events / "0003.jsonl").write_bytes(
        b"\xef\xbb\xbf" + _line(_event("bom")) + b"\r\n" + _line(_event("crlf")) + b"\r\n\r\n"
    )
    garbage = bytes(random.Random(5).randrange(256) for _ in range(20_000))
    (events / "0004.jsonl").write_bytes(
        garbage + b"\n\xf0\x9f\x98\n" + _line(_event("kept")) + b"\n" + _line(_event("last"))
    )
    stamps = ["2026-01-01T00:00:00+09:00", "2026-02-30T00:00:00Z", "2026-01-01 12:00:00.5-0130"]
    write_atomic(
        landing / "videos",
        "0001.jsonl",
        [
            _line({"video_id": f"v{i}", "title": "T", "creator_id": "c1", "published_at": ts})
            for i, ts in enumerate(stamps)
        ]
        + [_line({"video_id": "v9", "title": None})],
    )
    write_atomic(
        landing / "moderation",
        "0001.jsonl",
        [
            _line({"video_id": "v1", "status": status, "decided_at": stamps[0]})
            for status in ("approved", "maybe", None)
        ],
    )
    shutil.copytree(landing, tmp_path / "spark" / "landing")
    shutil.copytree(landing, tmp_path / "delta" / "landing")

    # Three independent processes (a data dir each), side by side: a Spark process spends
    # much of its time starting its JVM and session, not on the CPU.
    with ThreadPoolExecutor(3) as pool:
        duck_run = pool.submit(_dump, tmp_path / "duckdb", "duckdb")
        spark_run = pool.submit(_dump, tmp_path / "spark", "spark")
        delta_run = pool.submit(
            engine_process,
            "tests.pipeline.spark_ingest_dump",
            tmp_path / "delta",
            "spark",
            HOT_SPARK_TABLE_FORMAT="delta",
        )
        duck, spark, delta = duck_run.result(), spark_run.result(), dumped(delta_run.result())
    assert delta == spark

    assert spark["ledger"] == duck["ledger"]
    assert comparable(spark["quarantine"]) == comparable(duck["quarantine"])
    for table in ("events", "videos", "moderation"):
        assert spark[table] == duck[table], table
    # what the files went through
    assert [r[2] for r in duck["quarantine"][: len(BAD_LINES)]] == [c for _, c in BAD_LINES]
    assert not list((tmp_path / "spark").rglob("*.duckdb"))
