"""The landing sensor: one run per batch of newly renamed-in landing files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    RunConfig,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dagster_project.assets.ingest import IngestConfig
from dagster_project.jobs import hot_pipeline_job
from dagster_project.lanes import COVERS_TAG, TRIGGER_TAG
from dagster_project.sensors.runs import WAITING, covered_ctime_ns, run_in
from hot.ingest import SOURCES, is_landing_file
from hot.settings import get_settings


def scan(landing_dir: Path, cursor: dict[str, object]) -> tuple[list[str], dict[str, object]]:
    """New landing files since ``cursor`` and the cursor to store next.

    A rename into a folder sets the file's ctime, so a file is new when its ctime is past
    the high-water mark; names seen *at* the mark are remembered so ties are not missed.
    """
    mark = int(cursor.get("ctime_ns", 0))  # type: ignore[call-overload]
    seen_at_mark = set(cursor.get("at_mark", []))  # type: ignore[call-overload]
    found: list[tuple[int, str]] = []
    for source in SOURCES:
        folder = landing_dir / source
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if not is_landing_file(path):
                continue
            ctime = path.stat().st_ctime_ns
            name = f"{source}/{path.name}"
            if ctime > mark or (ctime == mark and name not in seen_at_mark):
                found.append((ctime, name))
    if not found:
        return [], cursor
    new_mark = max(mark, *(c for c, _ in found))
    at_mark = sorted(
        {n for c, n in found if c == new_mark} | (seen_at_mark if new_mark == mark else set())
    )
    order = {s: i for i, s in enumerate(SOURCES)}
    names = sorted((n for _, n in found), key=lambda n: (order[n.split("/")[0]], n))
    return names, {"ctime_ns": new_mark, "at_mark": at_mark}


@sensor(
    job=hot_pipeline_job,
    minimum_interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
)
def landing_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    """Launch the pipeline for files renamed into the landing zone since the last tick.

    The run key is derived from the file set, so a file is never launched twice; the ingest
    itself records each file in ``raw.ingested_files``, so a file is never counted twice.
    """
    if run_in(context.instance, hot_pipeline_job.name, WAITING):
        # That run ingests every pending file when it starts, these included; queueing more
        # would only pile up passes when files land faster than a pass takes. The cursor
        # stays put, so the files are looked at again next tick.
        return SkipReason("a queued pipeline run will pick the new files up")
    cursor = json.loads(context.cursor) if context.cursor else {}
    names, new_cursor = scan(get_settings().landing_dir, cursor)
    if not names:
        return SkipReason("no new landing files")
    # The push watcher (dagster_project.push) usually requested a pass for these files
    # already: a pass requested after a file landed ingests it, so the sensor requests one
    # only for files no such pass covers (or when that pass failed: the safety net).
    newest = int(new_cursor["ctime_ns"])  # type: ignore[call-overload]
    done, going = covered_ctime_ns(context.instance)
    if newest <= done:
        context.update_cursor(json.dumps(new_cursor))
        return SkipReason(f"{len(names)} new file(s), ingested by a pass requested after them")
    if newest <= going:
        # The cursor stays put: if that pass fails, the files are requested next tick.
        return SkipReason(f"{len(names)} new file(s), which a pass under way will ingest")
    context.update_cursor(json.dumps(new_cursor))
    run_key = hashlib.sha256("\n".join(names).encode()).hexdigest()[:32]
    return RunRequest(
        run_key=run_key,
        run_config=RunConfig(ops={"landing_files": IngestConfig(files=names)}),
        tags={"hot/files": str(len(names)), TRIGGER_TAG: "sensor", COVERS_TAG: str(newest)},
    )
