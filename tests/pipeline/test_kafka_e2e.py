"""Events from Kafka through the whole pipeline (SPEC §2b): the same events sent by an
independent producer give the landing-zone run's scores; a `hot run` killed with SIGKILL in
the middle of a range is made whole by the next run; a run while the broker is down fails and
says so, and the next one catches up."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from dagster_project.runner import run_pipeline
from hot.landing import write_atomic
from hot.local.deployment import deployment
from hot.local.kafka_server import EmbeddedKafka
from hot.local.kafka_topics import ensure_topic, event_key
from hot.local.redis_server import EmbeddedRedis
from hot.local.simulate import Simulator, World, build_world
from hot.warehouse import connect
from tests.oracle import assert_published, landing_oracle, published, rel_close
from tests.pipeline.conftest import PARTITIONS, produce

pytestmark = pytest.mark.timeout(600)

NOW = time.time()
LATE_VIDEOS = 10
"""Videos whose catalogue entry and moderation decision only come with the second pass."""


def _lines(rows: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(r).encode() for r in rows]


def _catalogue(landing: Path, world: World, late: bool) -> None:
    """The catalogue files of one pass: every creator and the early videos first, the late
    videos (whose events came before them) with the second pass; all approved."""
    videos = world.videos[-LATE_VIDEOS:] if late else world.videos[:-LATE_VIDEOS]
    name = "1.jsonl" if late else "0.jsonl"
    if not late:
        write_atomic(landing / "creators", name, _lines(world.creators))
    write_atomic(landing / "videos", name, _lines(videos))
    decisions = [
        {"video_id": v["video_id"], "status": "approved", "decided_at": "2026-01-01T00:00:00Z"}
        for v in videos
    ]
    write_atomic(landing / "moderation", name, _lines(decisions))


def _send(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    produce(bootstrap, topic, lines, keys=[event_key(line) for line in lines])


@contextmanager
def _source(monkeypatch: pytest.MonkeyPatch, source: str) -> Iterator[None]:
    """``HOT_EVENTS_SOURCE`` for a while (the deployment clears the settings on entry)."""
    with monkeypatch.context() as patch:
        patch.setenv("HOT_EVENTS_SOURCE", source)
        yield


def _db(redis_server: EmbeddedRedis, n: int) -> str:
    url = redis_server.url.rsplit("/", 1)[0] + f"/{n}"
    redis.Redis.from_url(url).flushdb()
    return url


def _pass(now: float) -> None:
    result = run_pipeline(now_epoch=now, quiet=True)
    assert result.success, result.error


def _feed(url: str) -> dict[str, float]:
    client = redis.Redis.from_url(url)
    try:
        return published(client).feed
    finally:
        client.close()


def _assert_same_feed(got: dict[str, float], want: dict[str, float]) -> None:
    assert set(got) == set(want)
    assert len(want) > 20
    for vid, score in want.items():
        assert rel_close(got[vid], score), (vid, got[vid], score)


def test_topic_gives_the_landing_zone_scores(
    tmp_path: Path,
    redis_server: EmbeddedRedis,
    kafka_broker: EmbeddedKafka,
    kafka_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = build_world(n_creators=12, videos_per_creator=5, n_users=300)
    sim = Simulator(tmp_path / "unused", world, seed=5)
    now_dt = datetime.fromtimestamp(NOW, UTC)
    halves = [sim.events(3000, now=now_dt), sim.events(3000, now=now_dt)]
    retried = random.Random(9).choices(halves[0] + halves[1], k=3000)
    batches = [halves[0], halves[1] + retried]

    files_url = _db(redis_server, 1)
    with _source(monkeypatch, "files"), deployment(tmp_path / "files", files_url) as landing:
        for i, batch in enumerate(batches):
            _catalogue(landing, world, late=i == 1)
            write_atomic(landing / "events", f"{i}.jsonl", batch)
            _pass(NOW + i)
    oracle = landing_oracle(tmp_path / "files" / "landing")
    client = redis.Redis.from_url(files_url)
    assert_published(client, oracle, top_n=1000)
    client.close()

    kafka_url = _db(redis_server, 2)
    with _source(monkeypatch, "kafka"), deployment(tmp_path / "kafka", kafka_url) as landing:
        for i, batch in enumerate(batches):
            _catalogue(landing, world, late=i == 1)
            _send(kafka_broker.bootstrap, kafka_topic, batch)
            _pass(NOW + i)
        con = connect(tmp_path / "kafka" / "warehouse.duckdb", read_only=True)
        try:
            (accounting,) = con.execute(
                "select count(*), sum(lines_read), "
                "count(*) filter (where valid + duplicates + quarantined <> lines_read) "
                "from raw.ingested_files where source_file like 'kafka:%'"
            ).fetchall()
        finally:
            con.close()
    assert accounting == (2 * PARTITIONS, 9000, 0)
    client = redis.Redis.from_url(kafka_url)
    assert_published(client, oracle, top_n=1000)
    client.close()
    _assert_same_feed(_feed(kafka_url), _feed(files_url))


KILLED_RUN = """
import os, signal, sys
from hot.ingest import Ingestor
from hot.cli import main

ranges = []
statement = Ingestor.run

def run(self, name, params):
    # SIGKILL once the second range's events are written, before its transaction commits.
    if name == "ranges":
        ranges.append(params["file"])
        if len(ranges) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    return statement(self, name, params)

Ingestor.run = run
sys.exit(main(["run", "--now", sys.argv[1]]))
"""


def _raw_state(data_dir: Path) -> tuple[Any, ...]:
    con = connect(data_dir / "warehouse.duckdb", read_only=True)
    try:
        return tuple(
            con.execute(sql).fetchall()
            for sql in (
                "select count(*), count(distinct event_id) from raw.events",
                "select count(*) from raw.quarantine",
                "select sum(lines_read), sum(valid), sum(duplicates), sum(quarantined) "
                "from raw.ingested_files where source_file like 'kafka:%'",
            )
        )
    finally:
        con.close()


def test_a_run_killed_midway_is_made_whole_by_the_next(
    tmp_path: Path,
    redis_server: EmbeddedRedis,
    kafka_broker: EmbeddedKafka,
    kafka_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = build_world(n_creators=8, videos_per_creator=5, n_users=200)
    sim = Simulator(tmp_path / "unused", world, seed=3)
    lines = sim.events(4000, now=datetime.fromtimestamp(NOW, UTC))
    _send(kafka_broker.bootstrap, kafka_topic, lines + lines[:500])

    killed_url = _db(redis_server, 3)
    with deployment(tmp_path / "killed", killed_url) as landing:
        _catalogue(landing, world, late=False)
        _catalogue(landing, world, late=True)
        env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_RUN, str(NOW)], env=env, timeout=300, check=False
        )
        assert killed.returncode == -9
        # The first range is in; the second rolled back whole.
        (files,) = _raw_state(tmp_path / "killed")[2]
        assert files[0] is not None and 0 < files[0] < 4500
        _pass(NOW)
    clean_url = _db(redis_server, 4)
    with deployment(tmp_path / "clean", clean_url) as landing:
        _catalogue(landing, world, late=False)
        _catalogue(landing, world, late=True)
        _pass(NOW)

    assert _raw_state(tmp_path / "killed") == _raw_state(tmp_path / "clean")
    _assert_same_feed(_feed(killed_url), _feed(clean_url))


def test_a_run_while_the_broker_is_down_fails_and_the_next_catches_up(
    hot_env: Path,
    tmp_path: Path,
    kafka_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = EmbeddedKafka(tmp_path / "own-kafka").start()
    try:
        monkeypatch.setenv("HOT_KAFKA_BOOTSTRAP", broker.bootstrap)
        ensure_topic(broker.bootstrap, kafka_topic, PARTITIONS)
        world = build_world(n_creators=8, videos_per_creator=5, n_users=100)
        lines = Simulator(tmp_path / "unused", world, seed=4).events(600)
        _send(broker.bootstrap, kafka_topic, lines)
        with deployment(hot_env, os.environ["HOT_REDIS_URL"]) as landing:
            _catalogue(landing, world, late=False)
            broker.kill()
            down = run_pipeline(quiet=True)
            assert not down.success
            assert "did not answer" in (down.error or "")
            assert _raw_state(hot_env)[2] == [(None, None, None, None)]
            broker.start()
            _pass(time.time())
        assert _raw_state(hot_env)[2][0][0] == 600
    finally:
        broker.stop()
