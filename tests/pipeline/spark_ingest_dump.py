"""Ingest every landing file of ``HOT_DATA_DIR`` on ``HOT_ENGINE`` and print, as JSON, what the
warehouse then holds: the ledger, the quarantine and the ingested rows (run as a process by
test_spark_ingest.py: one Spark session, one data dir per process)."""

from __future__ import annotations

import json
import sys

from dagster_project.resources.dbt_inprocess import ingest_statements
from hot.ingest import Ingestor
from hot.settings import get_settings
from hot.warehouse import as_warehouse, open_warehouse

QUERIES = {
    "ledger": "select source_file, lines_read, valid, duplicates, quarantined "
    "from raw.ingested_files order by source_file",
    "quarantine": "select source_file, line_no, reason, raw_line from raw.quarantine "
    "order by source_file, line_no",
    "events": "select event_id, video_id, type, watch_time_sec, occurred_at, source_file, "
    "line_no from raw.events order by source_file, line_no",
    "videos": "select video_id, title, creator_id, published_at, line_no from raw.videos "
    "order by line_no",
    "moderation": "select video_id, status, decided_at, line_no from raw.moderation "
    "order by line_no",
}


def main() -> None:
    """Ingest, then dump the tables."""
    settings = get_settings()
    con = open_warehouse(settings)
    Ingestor(con, settings.landing_dir, ingest_statements()).ingest_pending()
    warehouse = as_warehouse(con)
    out = {
        name: [[str(v) for v in row] for row in warehouse.execute(sql).fetchall()]
        for name, sql in QUERIES.items()
    }
    sys.stdout.write("HOT-DUMP " + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
