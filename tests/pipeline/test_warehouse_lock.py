"""Opening the DuckDB file while another process holds it: a pass waits for it (bounded) and
says how long, instead of failing; without a wait the open fails at once, as before."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from hot.warehouse import connect

HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("held", flush=True)
sys.stdin.readline()
con.close()
"""


@contextmanager
def _held(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with ``path`` open (read-only: that alone keeps a writer out)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    try:
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait()


def test_open_waits_for_the_file_and_says_how_long(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    connect(path).close()
    waits: list[float] = []
    opened: list[duckdb.DuckDBPyConnection] = []
    with _held(path) as holder:
        opener = threading.Thread(
            target=lambda: opened.append(connect(path, wait_sec=120, on_wait=waits.append))
        )
        opener.start()
        opener.join(timeout=1.0)
        assert opener.is_alive() and not opened  # still waiting while the file is held
        assert holder.stdin is not None
        holder.stdin.write("let go\n")
        holder.stdin.close()
        holder.wait()
        opener.join()
    assert len(opened) == 1
    (con,) = opened
    assert con.execute("select count(*) from raw.ingested_files").fetchall() == [(0,)]
    con.close()
    assert len(waits) == 1 and waits[0] > 0


def test_open_without_a_wait_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    connect(path).close()
    with _held(path), pytest.raises(duckdb.IOException, match="lock"):
        connect(path)
