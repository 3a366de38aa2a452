"""Writing landing files as every producer must (the landing contract, SPEC §2).

A file appears under its final name only once complete (temp name, fsync, rename), and
timestamps are RFC 3339 UTC with a ``Z`` suffix. The moderation service and the simulator
both write through here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path


def format_ts(ts: datetime) -> str:
    """RFC 3339 UTC timestamp with a Z suffix."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_atomic(folder: Path, name: str, lines: Iterable[bytes]) -> Path:
    """Write a landing file under a temp name, fsync, then rename it into place."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.tmp"
    with tmp.open("wb") as fh:
        for line in lines:
            fh.write(line)
            fh.write(b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    final = folder / name
    tmp.rename(final)
    return final
