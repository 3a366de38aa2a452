"""`hot kafka`, as a user runs it: a broker in the foreground with the events topic, until
Ctrl-C, which leaves no JVM behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hot import kafka
from hot.local.processes import alive
from hot.local.redis_server import free_port
from tests.pipeline.conftest import PARTITIONS, produce

pytestmark = pytest.mark.timeout(240)


def _jvms_of(data_dir: Path) -> set[int]:
    """The Java processes whose command line names ``data_dir``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"java" in cmdline and str(data_dir).encode() in cmdline:
                found.add(int(entry.name))
    return alive(found)


def test_hot_kafka_serves_the_topic_until_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "hot"
    port = free_port()
    env = {
        **os.environ,
        "HOT_DATA_DIR": str(data_dir),
        "HOT_KAFKA_TOPIC": "cli.events",
        "PYTHONUNBUFFERED": "1",
    }
    hot = Path(sys.executable).parent / "hot"
    proc = subprocess.Popen(
        [str(hot), "kafka", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if f"broker at 127.0.0.1:{port}" not in line:
            proc.wait(timeout=60)
            pytest.fail(f"hot kafka did not start: {line}{proc.stdout.read()}")
        assert "cli.events (3 partitions)" in line
        bootstrap = f"127.0.0.1:{port}"
        state = kafka.topic_state(bootstrap, "cli.events")
        assert sorted(state.offsets) == list(range(PARTITIONS))
        produce(bootstrap, "cli.events", [b"one", b"two"])
        assert (data_dir / "kafka" / "server.properties").is_file()
        assert _jvms_of(data_dir)
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()
        assert proc.wait(timeout=60) == 128 + signal.SIGINT
        assert "hot kafka: stopped" in rest
        assert not _jvms_of(data_dir)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
