"""One pass of ``HOT_EVENTS_SOURCE=kafka`` on ``HOT_ENGINE``, then what the warehouse holds, as
JSON (run as a process by test_spark_kafka.py: one Spark session, one data dir per process).

``pass NOW``: the pipeline job (ingest, dbt build, publish) at ``NOW``; then every range the
ledger holds is read and ingested again, each refused, and the tables are dumped (the ledger,
the ranges, the quarantine, fct_hot_feed) with the table counts before and after the replays.
``kill NOW``: the catalogue and the topic's ranges are ingested, the process killing itself
(SIGKILL) when the second range has written everything but its ledger row.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from dagster_project.instance import ensure_dagster_home
from dagster_project.project import model_relation
from dagster_project.resources.dbt_inprocess import ingest_statements
from dagster_project.runner import run_pipeline
from hot.ingest import SOURCES, Ingestor
from hot.kafka import OffsetRange
from hot.kafka_ingest import OffsetsRefusedError, RangeIngestor
from hot.settings import get_settings
from hot.warehouse import as_warehouse, open_warehouse

QUERIES = {
    "ledger": "select source_file, lines_read, valid, duplicates, quarantined "
    "from raw.ingested_files where source_file like 'kafka:%' order by source_file",
    "ranges": "select topic, partition, start_offset, end_offset, source_file "
    "from raw.ingested_ranges order by partition, start_offset",
    "quarantine": "select source_file, line_no, reason, raw_line from raw.quarantine "
    "where source_file like 'kafka:%' order by source_file, line_no",
    "counts": "select (select count(*) from raw.events), (select count(*) from raw.quarantine), "
    "(select count(*) from raw.ingested_files), (select count(*) from raw.ingested_ranges)",
}


def _ingestor() -> RangeIngestor:
    settings = get_settings()
    return RangeIngestor(open_warehouse(settings), settings.landing_dir, ingest_statements())


def _rows(ingestor: Ingestor, sql: str) -> list[list[Any]]:
    return [list(row) for row in as_warehouse(ingestor.con).execute(sql).fetchall()]


def killed(now: datetime) -> None:
    """Ingest until the second range has written all but its ledger row, then SIGKILL."""
    settings = get_settings()
    ingestor = _ingestor()
    ingestor.ingest_pending(now, sources=[s for s in SOURCES if s != "events"])
    statement = ingestor.run
    ranges: list[str] = []

    def run(name: str, params: dict[str, Any]) -> Any:
        if name == "ledger" and params["file"].startswith("kafka:"):
            ranges.append(params["file"])
            if len(ranges) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        return statement(name, params)

    ingestor.run = run  # type: ignore[method-assign]
    ingestor.ingest_topic(settings.kafka_bootstrap, settings.kafka_topic, 1_000_000, now)
    raise SystemExit("the second range never came")


def one_pass(now: datetime) -> dict[str, Any]:
    """The pipeline job, then every ingested range replayed; the dump."""
    ensure_dagster_home()
    result = run_pipeline(now_epoch=now.timestamp(), quiet=True)
    assert result.success, result.error
    settings = get_settings()
    ingestor = _ingestor()
    before = _rows(ingestor, QUERIES["counts"])
    (topic_id,) = {r[0] for r in _rows(ingestor, "select topic_id from raw.ingested_ranges")}
    refused = []
    for topic, partition, start, end, _ in _rows(ingestor, QUERIES["ranges"]):
        try:
            ingestor.ingest_range(
                OffsetRange(topic, partition, start, end), topic_id, settings.kafka_bootstrap
            )
            refused.append("ingested")
        except OffsetsRefusedError as exc:
            refused.append(str(exc).split(": ")[-1])
    out: dict[str, Any] = {name: _rows(ingestor, sql) for name, sql in QUERIES.items()}
    out["before_replays"] = before
    out["replays"] = refused
    out["feed"] = _rows(
        ingestor, f"select video_id, hot_score from {model_relation('fct_hot_feed')}"
    )
    return out


def main() -> None:
    """``pass NOW`` or ``kill NOW`` (NOW: UNIX time)."""
    mode, now = sys.argv[1], datetime.fromtimestamp(float(sys.argv[2]), UTC)
    if mode == "kill":
        killed(now)
    out = one_pass(now)
    sys.stdout.write("HOT-DUMP " + json.dumps(out, default=str) + "\n")


if __name__ == "__main__":
    main()
