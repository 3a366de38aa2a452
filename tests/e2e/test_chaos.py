"""Chaos, bounded for CI: the whole stack under load while files land and Redis is wiped.

Runs ``bench/chaos.py`` (dagster dev with its sensors, ``hot serve``, a Redis without
persistence) in a short mode: every request must be a 200, no page may mix two snapshots,
and ``hot:global`` must be back within 60 s of the wipe (the harness enforces those).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_feed_survives_a_redis_wipe_under_load(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/chaos.py", "--seconds", "40", "--wipes", "1", "--keep", tmp_path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
    )
    summary_lines = [line for line in done.stdout.splitlines() if line.startswith("CHAOS ")]
    assert summary_lines, done.stdout + done.stderr + (tmp_path / "dagster.log").read_text()[-5000:]
    summary = json.loads(summary_lines[-1].removeprefix("CHAOS "))
    assert summary["problems"] == [], summary
    assert summary["requests"] > 100
    assert set(summary["statuses"]) == {"200"}, summary["statuses"]
    assert summary["wipes"] == 1
    assert summary["stale_responses"] > 0  # the wipe was seen, and served through
    assert summary["snapshots_after_last_wipe"] >= 1  # a snapshot published after the wipe
    assert done.returncode == 0, done.stdout
