"""`hot run` on HOT_ENGINE=spark publishes what it publishes on DuckDB (SPEC §9).

The same landing files go through both engines, each in a data dir of its own, in two passes
of `hot run` (real processes, a real Redis, Spark as a local session with ``local[2]``):
several event files, a file replayed under a new name, a bad line or two, events for a video
the catalogue only names in the second pass, and a takedown in the second pass. After each
pass ``hot:global`` and the items' stats of Spark equal DuckDB's (scores to 1e-9 relative).
The Spark run writes no DuckDB file. Its second pass is first killed (SIGKILL, the process
and its JVM) once it has written a partition of the pass's event file: the last snapshot stays
served, and the pass run again counts that file once. Without Java, HOT_ENGINE=spark fails at
once with one line saying what to install.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from hot import keys
from hot.landing import format_ts, write_atomic
from hot.local.processes import alive, descendants
from hot.local.redis_server import EmbeddedRedis

# Five `hot run` processes (two on DuckDB, three on Spark), each starting Dagster (and a JVM
# on Spark): minutes on an idle 2-core machine, much more on a loaded one.
pytestmark = pytest.mark.timeout(2400)

NOW = float(int(time.time()))


def hot_run_env(data_dir: Path, redis_url: str, engine: str, **extra: str) -> dict[str, str]:
    """The environment of ``hot run`` on ``engine`` (a local session on Spark), ``extra``
    over it (e.g. a cluster's Thrift Server)."""
    return {
        **os.environ,
        "HOT_DATA_DIR": str(data_dir),
        "HOT_REDIS_URL": redis_url,
        "HOT_ENGINE": engine,
        "HOT_SPARK_MASTER": "local[2]",
        "HOT_JWT_SECRET": "test-secret-" + "x" * 32,
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        **extra,
    }


HOT_RUN = [sys.executable, "-m", "hot.cli", "run", "--now", str(NOW)]


def hot_run(data_dir: Path, redis_url: str, engine: str, **extra: str) -> str:
    """``hot run --now NOW`` as a process on ``engine`` (:func:`hot_run_env`); its stdout
    (exit 0 asserted)."""
    result = subprocess.run(
        HOT_RUN,
        capture_output=True,
        text=True,
        timeout=1800,
        env=hot_run_env(data_dir, redis_url, engine, **extra),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def _killed_while_ingesting(data_dir: Path, redis_url: str, partition: Path) -> None:
    """``hot run`` on Spark, SIGKILLed with every process it started (the JVM too) as soon as
    ``partition`` exists: the ingest has written rows of a file whose ledger row may not."""
    proc = subprocess.Popen(
        HOT_RUN,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=hot_run_env(data_dir, redis_url, "spark"),
    )
    try:
        while not partition.exists():
            assert proc.poll() is None, "the pass ended before it wrote the partition"
            time.sleep(0.05)
    finally:
        tree = {proc.pid, *descendants(proc.pid)}
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        while alive(tree):
            time.sleep(0.1)


def _event(n: int, video: str, user: str, kind: str = "like", ago_min: float = 30) -> bytes:
    event: dict[str, object] = {
        "event_id": f"e{n:04d}",
        "type": kind,
        "video_id": video,
        "user_id": user,
        "occurred_at": format_ts(datetime.fromtimestamp(NOW, UTC) - timedelta(minutes=ago_min)),
    }
    if kind == "watch":
        event["watch_time_sec"] = 40.0 + n % 300
    return json.dumps(event).encode()


def _events(first: int, count: int, videos: list[str]) -> list[bytes]:
    kinds = ["like", "watch", "comment", "share", "watch"]
    return [
        _event(n, videos[n % len(videos)], f"u{n % 17}", kinds[n % 5], ago_min=(n * 7) % 600)
        for n in range(first, first + count)
    ]


def _line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj).encode()


def land_pass(landing: Path, pass_no: int) -> None:
    """The files of one pass (the same bytes for both engines)."""
    decided = format_ts(datetime.fromtimestamp(NOW, UTC) - timedelta(hours=2 - pass_no))
    if pass_no == 1:
        videos = [f"v{i}" for i in range(1, 9)]
        write_atomic(
            landing / "creators",
            "0001.jsonl",
            [_line({"creator_id": f"c{i}", "name": f"Creator {i}"}) for i in range(1, 4)],
        )
        write_atomic(
            landing / "videos",
            "0001.jsonl",
            [
                _line({"video_id": v, "title": v.upper(), "creator_id": f"c{i % 3 + 1}"})
                for i, v in enumerate(videos)
            ],
        )
        write_atomic(
            landing / "moderation",
            "0001.jsonl",
            [_line({"video_id": v, "status": "approved", "decided_at": decided}) for v in videos],
        )
        # v9 has events before the catalogue knows it (it arrives in pass 2).
        first = _events(0, 120, [*videos, "v9"])
        write_atomic(landing / "events", "0001.jsonl", first)
        write_atomic(landing / "events", "0002.jsonl", [*_events(120, 80, videos), b"not json"])
        write_atomic(landing / "events", "0003.jsonl", first)  # a producer's replay
    else:
        write_atomic(
            landing / "videos",
            "0002.jsonl",
            [_line({"video_id": "v9", "title": "Late", "creator_id": "c2"})],
        )
        write_atomic(
            landing / "moderation",
            "0002.jsonl",
            [
                _line({"video_id": "v9", "status": "approved", "decided_at": decided}),
                _line({"video_id": "v3", "status": "removed", "decided_at": decided}),
            ],
        )
        write_atomic(
            landing / "events",
            "0004.jsonl",
            [*_events(200, 100, ["v1", "v3", "v9", "v4"]), *_events(10, 5, ["v2"])],
        )


def published(client: redis.Redis) -> tuple[list[tuple[str, float]], dict[str, dict]]:
    """``hot:global`` (member, score) in order, and each item's stats."""
    feed = [(m.decode(), s) for m, s in client.zrevrange(keys.GLOBAL, 0, -1, withscores=True)]
    current = client.get(keys.CURRENT)
    assert current is not None
    payloads = client.hgetall(keys.snapshot_items(current.decode()))
    return feed, {v.decode(): json.loads(p)["stats"] for v, p in payloads.items()}


def assert_same_published(spark: tuple, duck: tuple, pass_no: int) -> None:
    """What Spark published (:func:`published`) is DuckDB's: the same order, scores to 1e-9
    relative, the same items' stats."""
    (spark_feed, spark_items), (duck_feed, duck_items) = spark, duck
    assert [v for v, _ in spark_feed] == [v for v, _ in duck_feed], pass_no
    for (_, s), (_, d) in zip(spark_feed, duck_feed, strict=True):
        assert abs(s - d) <= 1e-9 * max(abs(d), 1e-300), pass_no
    assert spark_items == duck_items, pass_no


@pytest.fixture
def redis_pair(tmp_path: Path) -> tuple[EmbeddedRedis, EmbeddedRedis]:
    servers = tuple(EmbeddedRedis(tmp_path / f"redis{i}", persist=False).start() for i in (1, 2))
    yield servers  # type: ignore[misc]
    for server in servers:
        server.stop()


def test_spark_run_publishes_what_duckdb_publishes(tmp_path: Path, redis_pair) -> None:
    runs = {
        "duckdb": (tmp_path / "duck", redis_pair[0]),
        "spark": (tmp_path / "spark", redis_pair[1]),
    }
    for pass_no in (1, 2):
        seen = {}
        for engine, (data_dir, server) in runs.items():
            land_pass(data_dir / "landing", pass_no)
            client = redis.Redis.from_url(server.url)
            if engine == "spark" and pass_no == 2:
                served = client.get(keys.CURRENT)
                # batches 1-6 are pass 1's files; 7, 8 its catalogue and moderation, 9 events
                raw = data_dir / "spark" / "warehouse" / "raw.db"
                _killed_while_ingesting(data_dir, server.url, raw / "events" / "batch_id=9")
                assert client.get(keys.CURRENT) == served  # the last snapshot stays served
            assert "published snapshot" in hot_run(data_dir, server.url, engine)
            seen[engine] = published(client)
            client.close()
        assert_same_published(seen["spark"], seen["duckdb"], pass_no)
        # what the passes went through: the late video counts, the takedown leaves the feed
        feed = [v for v, _ in seen["duckdb"][0]]
        assert ("v9" in feed) == (pass_no == 2) and ("v3" in feed) == (pass_no == 1)
    spark_dir = runs["spark"][0]
    assert not list(spark_dir.rglob("*.duckdb")), "HOT_ENGINE=spark wrote a DuckDB file"
    assert (spark_dir / "spark" / "warehouse").is_dir()


def test_spark_without_java_fails_at_once_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "no-java"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "hot.cli", "run"],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "HOT_ENGINE": "spark",
            "HOT_DATA_DIR": str(tmp_path / "hot"),
            "HOT_REDIS_URL": "redis://127.0.0.1:1/0",
            "JAVA_HOME": str(empty),
            "PATH": str(empty),
        },
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "HOT_ENGINE=spark needs Java 17 or later" in lines[0]
    assert "install" in lines[0]
