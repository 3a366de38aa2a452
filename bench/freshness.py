"""Freshness under a steady stream (issue 24, goals 1 and 2), on the deployment a user runs.

`hot demo` (Dagster's daemon, sensors and webserver, the API, whatever else it starts) runs on
a fresh data dir with the bench's Redis; its own event stream is off. A file of
``rate x interval`` events is renamed into ``landing/events/`` every ``--interval`` seconds (or,
with ``--source kafka``, the same batch is produced to the events topic of the broker that
`hot demo --source kafka` starts), each batch carrying the watches of one video new to the
feed. Per batch: landing (the rename, or the producer's last acknowledgement) → that video's
positive score in ``hot:global`` (Redis polled every 50 ms). The embeddings job runs on its usual
trigger (``HOT_EMBED_EVERY_BATCHES``) meanwhile: it is the background load.

Per stage it reports the latency distribution, the batches never served, the passes' queue
waits (Dagster's run records: creation → ``RUN_STARTING``), how long passes waited when an
embeddings run was under way as they were created, and the embeddings runs that overlapped
the stream. The first stage is the steady stream (goal p50 <= 5 s, p95 <= 8 s); then the rate
steps up (shorter stages) while p95 stays <= 10 s and nothing is lost: the highest such rate is
reported. Once the deployment is quiet and stopped, the warehouse must hold every new video's
events exactly once (``raw.events`` and the score ledger ``int_counted_events``).

The background events come from the simulator once (a pool, re-keyed with fresh event ids for
each batch), so producing a batch costs the machine little at any rate.

Usage: python bench/freshness.py [--quick] [--sources files,kafka] [--rates 5000,10000,...]
       [--steady-sec S] [--step-sec S] [--interval S]
(or `python bench/pipeline.py --only steady`).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.deployments import fresh_deployment, wait_for, wait_quiet  # noqa: E402
from dagster_project.jobs import hot_full_scan_checks_job, hot_republish_job  # noqa: E402
from dagster_project.lanes import TRIGGER_TAG  # noqa: E402
from dagster_project.sensors.embeddings import hot_embeddings_job  # noqa: E402
from hot import keys  # noqa: E402
from hot.kafka import KafkaUnavailableError, UnknownTopicError, topic_state  # noqa: E402
from hot.landing import format_ts, write_atomic  # noqa: E402
from hot.local.kafka_topics import EventProducer  # noqa: E402
from hot.local.processes import spawn, terminate  # noqa: E402
from hot.local.redis_server import EmbeddedRedis, free_port  # noqa: E402
from hot.local.simulate import Simulator, build_world  # noqa: E402
from hot.settings import get_settings  # noqa: E402

GOAL_P50, GOAL_P95, STEP_P95 = 5.0, 8.0, 10.0
"""Seconds: the steady stream's goals, and the p95 a rate step must keep to pass."""
GOAL_QUEUE = 1.0
"""Seconds a pass may wait in the run queue behind an embeddings run (goal 2)."""
FULL = {"steady_sec": 90.0, "step_sec": 30.0, "rates": (5_000, 10_000, 20_000, 50_000)}
QUICK = {"steady_sec": 20.0, "step_sec": 10.0, "rates": (5_000, 50_000)}
HISTORY_BATCHES = 5
"""Batches of background events sent before the stream (the demo's "first hour")."""
DRAIN_SEC = 120.0
"""How long after a stage's last batch its videos may still come out before the stage ends."""
EMBED_JOB = hot_embeddings_job.name
BACKGROUND = {EMBED_JOB, hot_full_scan_checks_job.name}
"""The background lane's jobs (:mod:`dagster_project.lanes`)."""
NOT_PASSES = BACKGROUND | {hot_republish_job.name}
"""Every other job's run is a pass (whichever job the push path or a sensor submits)."""
_ID_HEAD = b'{"event_id":"e_'
"""How every simulated event line starts; the 16 hex digits after it are its id."""


def _pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values`` by the nearest rank (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _dist(values: Sequence[float]) -> str:
    """``p50/p95/max`` of ``values`` in seconds, or ``-`` when there are none."""
    if not values:
        return "-"
    return f"{_pct(values, 0.5):.1f}/{_pct(values, 0.95):.1f}/{max(values):.1f}"


class EventPool:
    """Background events drawn from the simulator once; each batch gets fresh event ids, and
    the watches of its new video appended."""

    def __init__(self, sim: Simulator, size: int) -> None:
        self.lines = sim.events(size, bad_rate=0.001, replay_rate=0.0)
        self.watches = [
            event
            for line in self.lines
            if b'"type":"watch"' in line and (event := json.loads(line))["watch_time_sec"] > 0
        ]
        self._offset = 0
        self._ids = itertools.count(random.getrandbits(62))

    def _fresh(self, line: bytes) -> bytes:
        if not line.startswith(_ID_HEAD):
            return line  # a malformed line: quarantined again, as the first time
        return b"%s%016x%s" % (_ID_HEAD, next(self._ids), line[len(_ID_HEAD) + 16 :])

    def batch(self, n: int, video: str | None) -> tuple[list[bytes], int]:
        """``n`` event lines, ``n // 100`` (at least 20) of them watches of ``video``; the
        lines and how many are the video's."""
        own = max(20, n // 100) if video else 0
        take = n - own
        start = self._offset
        picked = [self.lines[(start + i) % len(self.lines)] for i in range(take)]
        self._offset = (start + take) % len(self.lines)
        lines = [self._fresh(line) for line in picked]
        for j in range(own):
            event = self.watches[(start + j) % len(self.watches)]
            mine = {**event, "event_id": f"e_{next(self._ids):016x}", "video_id": video}
            lines.append(json.dumps(mine, separators=(",", ":")).encode())
        return lines, own


def write_new_videos(landing: Path, creators: Sequence[str], count: int) -> list[str]:
    """``count`` approved catalogue videos with no events yet (``v_new_NNNNN``); their ids."""
    now = datetime.now(UTC)
    ids = [f"v_new_{i:05d}" for i in range(count)]
    videos = [
        {
            "video_id": vid,
            "title": f"Steady stream {i}",
            "thumbnail_url": f"/media/thumbnails/{vid}.svg",
            "creator_id": creators[i % len(creators)],
            "published_at": format_ts(now - timedelta(hours=1)),
        }
        for i, vid in enumerate(ids)
    ]
    decisions = [
        {"video_id": vid, "status": "approved", "decided_at": format_ts(now), "reason": "bench"}
        for vid in ids
    ]
    for folder, rows in (("videos", videos), ("moderation", decisions)):
        lines = (json.dumps(row).encode() for row in rows)
        write_atomic(landing / folder, f"{time.time_ns():020d}-new-videos.jsonl", lines)
    return ids


class Sink(Protocol):
    """Where a batch lands: ``prepare`` does the slow part ahead of time, ``land`` makes it
    visible and returns when it did (epoch seconds)."""

    def prepare(self, lines: list[bytes]) -> object:
        """Get ``lines`` ready to land."""
        ...

    def land(self, prepared: object) -> float:
        """Make the batch visible to the pipeline; the time it became so."""
        ...


class FileSink:
    """A landing file written (and fsynced) in a staging folder, renamed in on time."""

    def __init__(self, landing: Path) -> None:
        self.events = landing / "events"
        self.staging = landing.parent / "staging"
        self._seq = itertools.count()

    def prepare(self, lines: list[bytes]) -> object:
        """The batch as a complete file outside the landing zone."""
        return write_atomic(self.staging, f"steady-{next(self._seq):06d}.jsonl", lines)

    def land(self, prepared: object) -> float:
        """Rename the file into ``landing/events/``; the time after the rename."""
        assert isinstance(prepared, Path)
        self.events.mkdir(parents=True, exist_ok=True)
        prepared.rename(self.events / f"{time.time_ns():020d}-{prepared.name}")
        return time.time()


class KafkaSink:
    """The batch produced to the events topic; landed once every message is acknowledged."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.producer = EventProducer(bootstrap, topic)

    def prepare(self, lines: list[bytes]) -> object:
        """Nothing to do ahead of time."""
        return lines

    def land(self, prepared: object) -> float:
        """Produce the lines and wait for the acknowledgements; the time of the last one."""
        assert isinstance(prepared, list)
        self.producer.send(prepared)
        return time.time()


class ServedWatch:
    """Polls ``hot:global`` every 50 ms for the videos landed and not yet served."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.landed: dict[str, float] = {}
        self.served: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> ServedWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def expect(self, video: str, landed: float) -> None:
        """``video``'s batch became visible at ``landed``."""
        with self._lock:
            self.landed[video] = landed

    def waiting(self, videos: Sequence[str]) -> list[str]:
        """Those of ``videos`` not served yet."""
        with self._lock:
            return [v for v in videos if v not in self.served]

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            with self._lock:
                pending = [v for v in self.landed if v not in self.served]
            if not pending:
                continue
            scores = self.client.zmscore(keys.GLOBAL, pending)
            now = time.time()
            with self._lock:
                for video, score in zip(pending, scores, strict=True):
                    if score is not None and score > 0:
                        self.served[video] = now


@dataclass
class Stage:
    """One stage of the stream: its rate, batches, and what came out."""

    source: str
    rate: int
    seconds: float
    videos: list[str] = field(default_factory=list)
    expected: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    """Videos not served (within the stage's drain; at the end, at all)."""
    slip: float = 0.0
    """How late the last batch landed against its schedule (the producer falling behind)."""
    window: tuple[float, float] = (0.0, 0.0)
    queue: list[float] = field(default_factory=list)
    """Queue waits of the passes created during the stage."""
    beside_embeddings: list[float] = field(default_factory=list)
    """Of the passes created while an embeddings run was under way, how long each waited
    once the pass lane was free (the pass before it ended): the wait behind anything else,
    the embeddings run included (goal 2)."""
    startup: list[float] = field(default_factory=list)
    """Per pass: launch to the run's start (its process forked, the run set up)."""
    steps: list[float] = field(default_factory=list)
    """Per pass: the run's start to its end (ingest, dbt, publish)."""
    embeddings: int = 0
    triggers: dict[str, int] = field(default_factory=dict)
    """Passes created during the stage, by what launched them (push, sensor)."""

    def collect(self, watch: ServedWatch) -> None:
        """The latencies of the stage's videos served so far, how many are not, and the
        stage's window (first landing to last landing or serving)."""
        served = {v: watch.served[v] for v in self.videos if v in watch.served}
        landed = [watch.landed[v] for v in self.videos]
        self.latencies = [t - watch.landed[v] for v, t in served.items()]
        self.lost = len(self.videos) - len(served)
        self.window = (min(landed), max([*landed, *served.values()]))

    @property
    def passed(self) -> bool:
        """Whether the stage kept p95 within a step's limit with nothing lost."""
        return not self.lost and bool(self.latencies) and _pct(self.latencies, 0.95) <= STEP_P95

    def row(self) -> str:
        """The stage's row of the table."""
        cells = (
            self.source,
            f"{self.rate:,}",
            str(len(self.videos)),
            _dist(self.latencies),
            str(self.lost),
            f"{self.slip:.1f}",
            " ".join(f"{k} {n}" for k, n in sorted(self.triggers.items())) or "0",
            _dist(self.queue),
            _dist(self.beside_embeddings),
            str(self.embeddings),
        )
        return "  ".join(cell.rjust(width) for cell, width in zip(cells, WIDTHS, strict=True))


COLUMNS = (
    "source",
    "events/s",
    "batches",
    "served p50/95/max",
    "lost",
    "slip",
    "passes",
    "queue p50/95/max",
    "q. beside embed",
    "embed runs",
)
WIDTHS = (6, 8, 7, 17, 4, 4, 18, 16, 16, 10)
HEADER = "  ".join(c.rjust(w) for c, w in zip(COLUMNS, WIDTHS, strict=True))
"""Seconds; slip: the latest a batch landed against its schedule; passes by trigger; queue:
creation to launch; q. beside embed: of the passes created while an embeddings run was under
way, the wait after the pass lane was free (the pass ahead of it ended)."""


@dataclass
class SourceRun:
    """The stages of one source on one deployment, and its exactly-once check."""

    source: str
    stages: list[Stage]
    short: int = 0
    """New videos with fewer events in the warehouse than were sent."""
    doubled: int = 0
    """New videos with more events in the warehouse than were sent."""
    duplicates: int = 0
    """Event lines the ingest dropped as already ingested (none were sent twice)."""

    def highest_passing(self) -> str:
        """The highest rate whose stage passed, and the first that did not."""
        passing = [s.rate for s in itertools.takewhile(lambda s: s.passed, self.stages)]
        failed = next((s for s in self.stages if not s.passed), None)
        text = f"{passing[-1]:,} events/s" if passing else f"below {self.stages[0].rate:,}"
        if failed:
            text += (
                f" ({failed.rate:,}: p95 {_pct(failed.latencies, 0.95):.1f} s, {failed.lost} lost)"
            )
        elif len(self.stages) > 1:
            text += " (every rate tried passed)"
        return text

    def summary(self) -> list[str]:
        """The figures of record, one line each."""
        steady = self.stages[0]
        lat = steady.latencies
        return [
            f"steady {self.source}: {steady.rate:,} events/s for {steady.seconds:.0f} s "
            f"({len(steady.videos)} batches), landing → served p50 {_pct(lat, 0.5):.2f} s, "
            f"p95 {_pct(lat, 0.95):.2f} s, max {max(lat, default=float('nan')):.2f} s "
            f"(goal p50 <= {GOAL_P50:.0f}, p95 <= {GOAL_P95:.0f}); never served "
            f"{sum(s.lost for s in self.stages)}, events short {self.short} / doubled "
            f"{self.doubled} videos, {self.duplicates} re-read lines",
            f"steady {self.source} queue: {len(steady.queue)} passes "
            f"({', '.join(f'{k} {n}' for k, n in sorted(steady.triggers.items()))}) waited "
            f"p50/p95/max {_dist(steady.queue)} s (behind the pass before them); those created "
            f"while an embeddings run was under way, once the pass lane was free: "
            f"{_dist(steady.beside_embeddings)} s (goal <= {GOAL_QUEUE:.0f} s behind one); "
            f"{steady.embeddings} embeddings runs overlapped the stream",
            f"steady {self.source} passes: launch to start p50/p95/max {_dist(steady.startup)} s, "
            f"start to end {_dist(steady.steps)} s",
            f"steady {self.source}: highest rate with p95 <= {STEP_P95:.0f} s: "
            + self.highest_passing(),
        ]


@dataclass
class SteadyReport:
    """Every source's run: what bench/pipeline.py prints."""

    runs: list[SourceRun]

    def table(self) -> str:
        """Every stage, one row each (seconds)."""
        rows = [s.row() for run in self.runs for s in run.stages]
        return "\n".join([HEADER, *rows])

    def summary(self) -> list[str]:
        """The figures of record of every source."""
        return [line for run in self.runs for line in run.summary()]


@dataclass
class Demo:
    """A running `hot demo` and where to reach what it runs."""

    landing: Path
    home: Path
    proc: subprocess.Popen[bytes]
    log: Path
    dagster_port: int
    bootstrap: str | None

    def check(self) -> bool:
        """True; fails at once if the demo has exited."""
        if self.proc.poll() is not None:
            raise SystemExit(f"hot demo exited ({self.proc.returncode}); see {self.log}")
        return True

    def ui_up(self) -> bool:
        """Whether the Dagster webserver answers: the demo's own first pass and embeddings
        run are over, and what the demo runs after them has started."""
        self.check()
        try:
            url = f"http://127.0.0.1:{self.dagster_port}/server_info"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


@contextmanager
def running_demo(landing: Path, base: Path, source: str) -> Iterator[Demo]:
    """`hot demo` on the data dir of ``landing`` (its catalogue written already, so the demo
    writes none; its own stream off) until exit."""
    kafka_port, dagster_port = free_port(), free_port()
    log = base / f"steady-{source}-demo.log"
    args = ["demo", "--port", str(free_port()), "--dagster-port", str(dagster_port)]
    # Its own stream off: no event (one empty file) now, the next a day later.
    args += ["--events", "0", "--interval", "86400", "--source", source]
    args += ["--kafka-port", str(kafka_port)]
    with log.open("wb") as sink:
        proc = spawn(
            [str(Path(sys.executable).parent / "hot"), *args],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    bootstrap = f"127.0.0.1:{kafka_port}" if source == "kafka" else None
    try:
        yield Demo(landing, Path(os.environ["DAGSTER_HOME"]), proc, log, dagster_port, bootstrap)
    finally:
        terminate(proc, grace=60)  # `hot` stops everything it started


def _topic_ready(demo: Demo, topic: str) -> bool:
    demo.check()
    try:
        topic_state(demo.bootstrap or "", topic, timeout=2)
    except (UnknownTopicError, KafkaUnavailableError):
        return False
    return True


def run_stage(
    sink: Sink,
    pool: EventPool,
    watch: ServedWatch,
    stage: Stage,
    videos: Iterator[str],
    interval: float,
    demo: Demo,
) -> None:
    """Land a batch every ``interval`` seconds for the stage, then wait for its videos."""
    per_batch = round(stage.rate * interval)
    count = max(1, round(stage.seconds / interval))
    print(f"  {stage.source} {stage.rate:,} events/s: {count} batches of {per_batch:,}", flush=True)
    start = time.monotonic() + interval
    for i in range(count):
        video = next(videos)
        lines, own = pool.batch(per_batch, video)
        prepared = sink.prepare(lines)
        time.sleep(max(0.0, start + i * interval - time.monotonic()))
        stage.slip = max(stage.slip, time.monotonic() - (start + i * interval))
        watch.expect(video, sink.land(prepared))
        stage.videos.append(video)
        stage.expected[video] = own
    deadline = time.monotonic() + DRAIN_SEC
    while watch.waiting(stage.videos) and time.monotonic() < deadline and demo.check():
        time.sleep(0.2)
    stage.collect(watch)
    print(f"    served p50/p95/max {_dist(stage.latencies)} s, {stage.lost} not served", flush=True)


def queue_waits(home: Path, stages: Sequence[Stage]) -> None:
    """Fill each stage's run figures from the Dagster instance's run records."""
    from dagster import DagsterInstance, RunsFilter

    os.environ["DAGSTER_HOME"] = str(home)
    with DagsterInstance.get() as instance:
        records = instance.get_run_records(RunsFilter(), ascending=True)
        embeds = [
            (r.start_time, r.end_time or time.time())
            for r in records
            if r.dagster_run.job_name == EMBED_JOB and r.start_time
        ]
        # The pass lane's runs (passes and republishes): a pass queued behind one of these
        # waits for the lane, not for a background run.
        lane_ends = sorted(
            r.end_time for r in records if r.dagster_run.job_name not in BACKGROUND and r.end_time
        )
        for stage in stages:
            lo, hi = stage.window
            stage.embeddings = sum(1 for s, e in embeds if s < hi and e > lo)
            for record in records:
                created = record.create_timestamp.timestamp()
                job = record.dagster_run.job_name
                if not lo <= created <= hi:
                    continue
                if job in NOT_PASSES:
                    continue
                trigger = record.dagster_run.tags.get(TRIGGER_TAG, "sensor")
                stage.triggers[trigger] = stage.triggers.get(trigger, 0) + 1
                launched = instance.get_run_stats(record.dagster_run.run_id).launch_time
                if launched is None:
                    continue  # never left the queue (canceled at the stop)
                stage.queue.append(launched - created)
                if record.start_time and record.end_time:
                    stage.startup.append(record.start_time - launched)
                    stage.steps.append(record.end_time - record.start_time)
                if any(s <= created < e for s, e in embeds):
                    freed = max([created, *(e for e in lane_ends if e <= launched)])
                    stage.beside_embeddings.append(launched - freed)


def exactly_once(run: SourceRun) -> None:
    """Compare each new video's events in the warehouse (raw and the score ledger) with what
    was sent; the deployment is stopped, so the file is free."""
    from dagster_project.project import model_relation
    from hot.warehouse import connect

    expected = {v: n for stage in run.stages for v, n in stage.expected.items()}
    con = connect(get_settings().duckdb_path, read_only=True)
    try:
        con.execute("create temp table sent(video_id varchar, n bigint)")
        con.executemany("insert into sent values (?, ?)", list(expected.items()))
        ledger = model_relation("int_counted_events")
        mine = "video_id in (select video_id from sent)"
        counts = con.execute(f"""
            select s.video_id, s.n, coalesce(r.n, 0), coalesce(l.n, 0)
            from sent s
            left join (select video_id, count(*) as n from raw.events where {mine} group by 1) r
                using (video_id)
            left join (select video_id, sum(sign) as n from {ledger} where {mine} group by 1) l
                using (video_id)
        """).fetchall()
        row = con.execute("select coalesce(sum(duplicates), 0) from raw.ingested_files").fetchone()
    finally:
        con.close()
    run.short = sum(1 for _, n, raw, led in counts if raw < n or led < n)
    run.doubled = sum(1 for _, n, raw, led in counts if raw > n or led > n)
    run.duplicates = int(row[0]) if row else 0


def bench_source(
    base: Path,
    redis_url: str,
    source: str,
    rates: Sequence[int],
    steady_sec: float,
    step_sec: float,
    interval: float,
) -> SourceRun:
    """The steady stream, then the rate steps, on one `hot demo` of ``source``."""
    print(f"[steady] {source}: `hot demo`, a batch every {interval:g} s", flush=True)
    client = redis.Redis.from_url(redis_url)
    stages: list[Stage] = []
    world = build_world()  # the demo's own: its embeddings runs take what they take there
    with fresh_deployment(base / f"steady-{source}", redis_url) as landing:
        sim = Simulator(landing, world)
        sim.write_catalogue()
        per_stage = [max(1, round(s / interval)) for s in (steady_sec, *[step_sec] * len(rates))]
        creators = [c["creator_id"] for c in world.creators]
        videos = iter(write_new_videos(landing, creators, 1 + sum(per_stage)))
        pool = EventPool(sim, max(20_000, round(max(rates) * interval)))
        history = [pool.batch(10_000, None)[0] for _ in range(HISTORY_BATCHES)]
        sink: Sink = FileSink(landing)
        if source == "files":  # before the demo starts: its first pass ingests them
            for lines in history:
                sink.land(sink.prepare(lines))
        with running_demo(landing, base, source) as demo, ServedWatch(client) as watch:
            if demo.bootstrap:
                topic = get_settings().kafka_topic
                wait_for(lambda: _topic_ready(demo, topic), 600, "the demo's Kafka topic")
                sink = KafkaSink(demo.bootstrap, topic)
                for lines in history:
                    sink.land(sink.prepare(lines))
            # Warm-up: once the demo is up, a batch served by what it runs.
            wait_for(demo.ui_up, 900, "the demo's Dagster UI")
            warm = next(videos)
            watch.expect(warm, sink.land(sink.prepare(pool.batch(10_000, warm)[0])))
            wait_for(lambda: demo.check() and not watch.waiting([warm]), 900, "the demo")
            # No pass pending; an embeddings run may go on: it is the load to measure under.
            wait_quiet(demo.home, timeout=900, ignore_jobs=[EMBED_JOB])
            for i, rate in enumerate(rates):
                stage = Stage(source, rate, steady_sec if i == 0 else step_sec)
                stages.append(stage)
                run_stage(sink, pool, watch, stage, videos, interval, demo)
                if not stage.passed:
                    break
            wait_quiet(demo.home, timeout=900, ignore_jobs=[EMBED_JOB])
            for stage in stages:  # served late after all, or never
                stage.collect(watch)
        run = SourceRun(source, stages)
        queue_waits(demo.home, stages)
        exactly_once(run)
    return run


def bench_steady(
    base: Path,
    redis_url: str,
    quick: bool = False,
    sources: Sequence[str] = ("files", "kafka"),
    rates: Sequence[int] | None = None,
    steady_sec: float | None = None,
    step_sec: float | None = None,
    interval: float = 2.0,
) -> SteadyReport:
    """Every source's steady stream and rate steps; prints the table and returns the report."""
    sizes = QUICK if quick else FULL
    report = SteadyReport([])
    for source in sources:
        run = bench_source(
            base,
            redis_url,
            source,
            rates or sizes["rates"],  # type: ignore[arg-type]
            steady_sec or sizes["steady_sec"],  # type: ignore[arg-type]
            step_sec or sizes["step_sec"],  # type: ignore[arg-type]
            interval,
        )
        report.runs.append(run)
        print("\n".join(["", *run.summary()]), flush=True)  # each source's figures as it ends
    print(report.table(), flush=True)
    return report


def main() -> None:
    """Run the steady-stream bench alone and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 s stream, 10 s steps")
    parser.add_argument("--sources", default="files,kafka")
    parser.add_argument("--rates", help="events/s of the stages, the first the steady stream")
    parser.add_argument("--steady-sec", type=float)
    parser.add_argument("--step-sec", type=float)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between batches")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hot-steady-", ignore_cleanup_errors=True) as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis", persist=False).start()
        try:
            report = bench_steady(
                Path(tmp),
                server.url,
                args.quick,
                args.sources.split(","),
                [int(r) for r in args.rates.split(",")] if args.rates else None,
                args.steady_sec,
                args.step_sec,
                args.interval,
            )
        finally:
            server.stop()
    print("\n== steady-stream freshness ==")
    print("\n".join(report.summary()))
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
