"""Pipeline benchmark: the engine ratio, a small pass, incremental cost, landing-to-Redis latency.

Prints, each measured in this one run (both sides of a ratio in the same run):
  0. `fixed`: `hot run` with nothing pending (the command's wall time, as a user runs it) /
     a bare Python importing dagster, dagster-dbt and dbt's runner, medians of 5 alternated
     (goal <= 1.5x); and a forced empty pass (`hot run --now`: Dagster, dbt build, publish);
  1. `hot run` (the command, as a user runs it) on one big batch (default 1M events), less
     the empty pass (`hot run --now` with nothing pending, just before) / a bare DuckDB
     read_json + group-by per video and type of the same file (goal <= 10x), and the run's
     ingest step alone / the same bare read and / DuckDB's own typed load of the file into a
     table; medians of --ratio-rounds rounds (default 3), each on a fresh deployment;
  2. a 2,000-event pass on a small history: job time and its per-step breakdown (goal <= 3 s);
  3. (a 100k batch on a 10M-event history) / (the same batch on an empty history), each the
     median of 3 batches - the incremental models keep it close to 1 (goal <= 1.3);
  4. seconds from a file's rename into landing/events/ to its snapshot in Redis with the
     sensor running under `dagster dev`, median of 3 rounds (goal <= 10 s), with where the
     time went (sensor tick, queue and launch, the run process's start-up, the steps);
  5. Kafka (SPEC §2b, on `hot kafka`'s broker): the same freshness from an event produced to
     the topic (goal <= 10 s), and one pass over a 1M-message range / a bare confluent-kafka
     consumer reading the same range (goal <= 10x);
  6. HOT_ENGINE=spark (SPEC §9): `hot run` on the same files (catalogue and a batch of
     --batch events, then 2,000 more) on a local Spark session and on DuckDB, and the ratio;
  7. `steady` (bench/freshness.py): under `hot demo`, a steady stream of files and of Kafka
     batches, landing → served p50/p95/max, lost/doubled, the passes' queue waits, the
     embeddings runs meanwhile, and the highest rate whose p95 stays <= 10 s.

Usage: python bench/pipeline.py [--quick] [--big N] [--history N] [--batch N] [--rounds N]
       [--ratio-rounds N] [--only fixed,ratio,pass,history,freshness,kafka,spark,steady]
`--quick` is a smaller run (100k batch, 1M history, 20k batch) for a first look; the figures
of record come from the full run (about 10 minutes on the 2-core machine).
The history is inserted straight into raw.events with SQL (the ingest path is what (1)
measures); dbt then builds its ledger once, untimed, before the timed batches.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from unittest import mock

import duckdb
import redis
from confluent_kafka import Consumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.deployments import WORLD_ARGS, fresh_deployment, wait_for, wait_quiet  # noqa: E402
from bench.freshness import bench_steady  # noqa: E402
from dagster_project.runner import PassResult, run_pipeline  # noqa: E402
from hot import keys  # noqa: E402
from hot.kafka import OffsetRange  # noqa: E402
from hot.kafka import topic_state as kafka_state  # noqa: E402
from hot.landing import write_atomic  # noqa: E402
from hot.local.kafka_server import EmbeddedKafka  # noqa: E402
from hot.local.kafka_topics import EventProducer, ensure_topic  # noqa: E402
from hot.local.redis_server import EmbeddedRedis, free_port  # noqa: E402
from hot.local.simulate import Simulator, World, build_world  # noqa: E402
from hot.settings import get_settings  # noqa: E402
from hot.warehouse import connect  # noqa: E402

FULL = {"big": 1_000_000, "history": 10_000_000, "batch": 100_000}
QUICK = {"big": 100_000, "history": 1_000_000, "batch": 20_000}


def write_batch(sim: Simulator, n: int, chunk: int = 200_000) -> Path:
    """Write ``n`` events as one landing file."""
    lines: list[bytes] = []
    while len(lines) < n:
        lines.extend(sim.events(min(chunk, n - len(lines)), bad_rate=0.001, replay_rate=0.0))
    return write_atomic(sim.landing_dir / "events", f"{time.time_ns():020d}-batch.jsonl", lines)


def timed_pass(label: str) -> PassResult:
    """One pipeline pass in this process; prints and returns it."""
    result = run_pipeline(quiet=True)
    if not result.success:
        raise SystemExit(f"{label}: pipeline failed: {result.error}")
    print(f"  {label}: {result.seconds:.2f} s ({result.items} items)", flush=True)
    return result


def breakdown(result: PassResult) -> str:
    """Per-step seconds of a pass, and what the run spent outside its steps."""
    steps = [(s.step, s.seconds) for s in result.steps]
    outside = result.seconds - sum(seconds for _, seconds in steps)
    parts = [f"{step} {seconds:.2f}" for step, seconds in steps]
    return " + ".join([*parts, f"run setup/teardown {outside:.2f}"]) + " s"


def bare_duckdb(path: Path) -> float:
    """Seconds for DuckDB alone to read the file and count events per video and type."""
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        "select video_id, type, count(*) from read_json(?, format = 'newline_delimited', "
        "ignore_errors = true, columns = {'video_id': 'VARCHAR', 'type': 'VARCHAR'}) "
        "group by all",
        [str(path)],
    ).fetchall()
    con.close()
    return time.perf_counter() - started


def bare_load(path: Path, db: Path) -> float:
    """Seconds for DuckDB alone to load the file's six event fields, typed, into a table of a
    new database file: its own loader doing the least a correct load does (no line numbers,
    no reasons, no duplicates, no lineage)."""
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(
        "create table events as select * from read_json(?, format = 'newline_delimited', "
        "ignore_errors = true, columns = {'event_id': 'VARCHAR', 'type': 'VARCHAR', "
        "'video_id': 'VARCHAR', 'user_id': 'VARCHAR', 'occurred_at': 'TIMESTAMPTZ', "
        "'watch_time_sec': 'DOUBLE'})",
        [str(path)],
    )
    con.close()
    seconds = time.perf_counter() - started
    db.unlink()
    return seconds


BARE_IMPORT = "import dagster, dagster_dbt; from dbt.cli.main import dbtRunner"
"""What any Dagster run of a dbt project imports first: the floor of `hot run`'s fixed cost."""


def bare_import() -> float:
    """Seconds for a new Python to import dagster, dagster-dbt and dbt's runner, and exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", BARE_IMPORT], check=True)
    return time.perf_counter() - started


def hot_run_command(*args: str) -> tuple[float, str]:
    """Seconds for `hot run ARGS` as a user runs it (a new process: start-up, imports, the
    pass), and what it printed."""
    hot = Path(sys.executable).parent / "hot"
    started = time.perf_counter()
    done = subprocess.run([str(hot), "run", *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout


def empty_pass_command() -> float:
    """Seconds for `hot run --now` with nothing pending: a pass that must score and publish
    (a pinned instant), through Dagster and dbt, on no new input."""
    seconds, _ = hot_run_command("--now", str(time.time()))
    return seconds


@contextmanager
def primed(data_dir: Path, redis_url: str, events: int) -> Iterator[Simulator]:
    """A fresh deployment in ``data_dir`` with the catalogue and ``events`` events already
    through a pass (untimed); yields its simulator."""
    with fresh_deployment(data_dir, redis_url) as landing:
        sim = Simulator(landing, build_world(**WORLD_ARGS))
        sim.write_catalogue()
        sim.write_events(events)
        timed_pass(f"catalogue + {events:,} events (untimed)")
        yield sim


def bench_fixed_cost(base: Path, redis_url: str, rounds: int = 5) -> tuple[float, float, float]:
    """Medians of ``rounds`` `hot run` with nothing pending and of as many bare imports,
    alternated so both see the same load; and one forced empty pass (`hot run --now`)."""
    print("[0] `hot run` with nothing pending vs the bare import of dagster, dbt", flush=True)
    with primed(base / "fixed", redis_url, 2000):
        idle, bare = [], []
        for _ in range(rounds):
            bare.append(bare_import())
            seconds, said = hot_run_command()
            if "nothing new" not in said:
                raise SystemExit(f"`hot run` with nothing pending did not say so: {said!r}")
            idle.append(seconds)
        forced = empty_pass_command()
    print(f"  bare import: {', '.join(f'{x:.2f}' for x in bare)} s", flush=True)
    print(f"  `hot run`, nothing pending: {', '.join(f'{x:.2f}' for x in idle)} s", flush=True)
    print(f"  `hot run --now`, nothing pending (a forced pass): {forced:.2f} s", flush=True)
    return statistics.median(idle), statistics.median(bare), forced


@dataclass(frozen=True)
class EngineRound:
    """One round of the engine ratio, on a fresh deployment: `hot run` on the big file, the
    empty pass just before it, the bare read of the file and the run's own ingest step."""

    command: float
    empty: float
    bare: float
    load: float
    ingest: float

    @property
    def ratio(self) -> float:
        """The big batch's cost beyond the empty pass ÷ the bare read (goal 4)."""
        return (self.command - self.empty) / self.bare

    @property
    def ingest_ratio(self) -> float:
        """The ingest step alone ÷ the bare read (the measure issue 24's last note proposed)."""
        return self.ingest / self.bare

    @property
    def load_ratio(self) -> float:
        """The ingest step alone ÷ DuckDB's own typed load of the file (the measure proposed
        now: what the ingest adds to a correct load)."""
        return self.ingest / self.load


def bench_engine_ratio(base: Path, redis_url: str, n: int, rounds: int) -> list[EngineRound]:
    """``rounds`` rounds, each on a fresh deployment: `hot run` on an ``n``-event file, the
    empty pass before it (`hot run --now` with nothing pending), the bare DuckDB read of the
    same file and the run's ingest step alone (the seconds its own ``ingest`` line gives).
    One round is not enough: a new process's empty pass alone moves by seconds."""
    print(f"[1] `hot run` on one batch of {n:,} events vs DuckDB alone", flush=True)
    result = []
    for k in range(rounds):
        with fresh_deployment(base / f"big-{k}", redis_url) as landing:
            sim = Simulator(landing, build_world(**WORLD_ARGS), seed=k)
            sim.write_catalogue()
            timed_pass(f"round {k + 1}: catalogue only (untimed)")
            empty = empty_pass_command()
            print(f"  the empty pass (`hot run --now`, nothing pending): {empty:.2f} s", flush=True)
            path = write_batch(sim, n)
            bare = statistics.median(bare_duckdb(path) for _ in range(3))
            print(f"  DuckDB read_json + group-by: {bare:.2f} s (median of 3)", flush=True)
            load = statistics.median(bare_load(path, base / "bare-load.duckdb") for _ in range(3))
            print(f"  DuckDB typed load into a table: {load:.2f} s (median of 3)", flush=True)
            command, said = hot_run_command()
            print(f"  `hot run`: {command:.2f} s", flush=True)
            # Where the time went: the command's own lines per step (ingest, dbt, publish).
            ingest = float("nan")
            for line in said.splitlines():
                if line.startswith(("ingest", "dbt build", "publish")):
                    print(f"    {line}", flush=True)
                if line.startswith("ingest") and line.endswith("s)"):
                    ingest = float(line[line.rindex("(") + 1 : -2])
            result.append(EngineRound(command, empty, bare, load, ingest))
    return result


def engine_ratio_line(n: int, rounds: list[EngineRound]) -> str:
    """The summary line of the engine ratio: medians over the rounds, and each round's."""
    median = statistics.median

    def figure(values: list[float]) -> str:
        each = ", ".join(f"{v:.1f}x" for v in values)
        return f"{median(values):.1f}x ({each})"

    command = median(r.command for r in rounds)
    return (
        f"engine ratio: `hot run` on {n:,} events less the empty pass before it / DuckDB "
        f"read_json + group-by, median of {len(rounds)} rounds = "
        f"{figure([r.ratio for r in rounds])} (goal <= 10x): {command:.2f} s - "
        f"{median(r.empty for r in rounds):.2f} s over {median(r.bare for r in rounds):.2f} s "
        f"(medians) [{n / command:,.0f} events/s]; its ingest step alone "
        f"{median(r.ingest for r in rounds):.1f} s / the bare read = "
        f"{figure([r.ingest_ratio for r in rounds])}, / DuckDB's typed load of the file "
        f"({median(r.load for r in rounds):.2f} s) = {figure([r.load_ratio for r in rounds])}"
    )


def hot_run_on(engine: str, data_dir: Path, redis_url: str, now: float) -> float:
    """Seconds for `hot run --now` as its own process on ``engine`` over ``data_dir``."""
    env = {
        **os.environ,
        "HOT_ENGINE": engine,
        "HOT_DATA_DIR": str(data_dir),
        "HOT_REDIS_URL": redis_url,
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
    }
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "hot"), "run", "--now", str(now)],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    return time.perf_counter() - started


def bench_spark(base: Path, redis_url: str, n: int) -> str:
    """The same landing files through `hot run` on a local Spark (``local[*]``) and on DuckDB,
    each in a data dir (and process) of its own: a first pass (catalogue and ``n`` events)
    and a second 2,000-event pass, as the command line runs them (process start-up and, on
    Spark, the JVM included)."""
    print(f"[6] the same batch of {n:,} events on local Spark vs DuckDB", flush=True)
    sim = Simulator(base / "spark-src" / "landing", build_world(**WORLD_ARGS))
    sim.write_catalogue()
    write_batch(sim, n)
    now = time.time()
    seconds: dict[str, list[float]] = {}
    for engine in ("duckdb", "spark"):
        data_dir = base / f"engine-{engine}"
        shutil.copytree(base / "spark-src" / "landing", data_dir / "landing")
        redis.Redis.from_url(redis_url).flushdb()
        big = hot_run_on(engine, data_dir, redis_url, now)
        write_batch(Simulator(data_dir / "landing", sim.world, seed=5), 2_000)
        small = hot_run_on(engine, data_dir, redis_url, now)
        seconds[engine] = [big, small]
        print(f"  {engine}: {big:.1f} s, then 2,000 events {small:.1f} s", flush=True)
    (duck_big, duck_small), (spark_big, spark_small) = seconds["duckdb"], seconds["spark"]
    return (
        f"spark: `hot run` on {n:,} events local Spark {spark_big:.1f} s / DuckDB "
        f"{duck_big:.1f} s = {spark_big / duck_big:.1f}x; a 2,000-event pass {spark_small:.1f} s "
        f"/ {duck_small:.1f} s = {spark_small / duck_small:.1f}x"
    )


def bench_small_pass(base: Path, redis_url: str, rounds: int = 3) -> PassResult:
    """The median of ``rounds`` 2,000-event passes on a small history, in one process."""
    print("[2] 2,000-event passes on a small history", flush=True)
    with primed(base / "small", redis_url, 20_000) as sim:
        results = []
        for i in range(rounds):
            sim.write_events(2000)
            results.append(timed_pass(f"2,000-event pass {i + 1}"))
    return sorted(results, key=lambda r: r.seconds)[len(results) // 2]


def seed_history(db: Path, world: World, n: int, batches: int = 100) -> None:
    """Insert ``n`` synthetic accepted events over the last week straight into raw.events."""
    con = connect(db)
    try:
        con.execute(
            "create temp table vids as select unnest(?) as video_id, "
            "generate_subscripts(?, 1) - 1 as ix",
            [[v["video_id"] for v in world.videos]] * 2,
        )
        nv = len(world.videos)
        con.execute(f"""
            insert into raw.events
            select 'h' || i::varchar,
                   case i % 20 when 0 then 'share' when 1 then 'comment' when 2 then 'comment'
                        when 3 then 'like' when 4 then 'like' when 5 then 'like'
                        when 6 then 'like' else 'watch' end,
                   v.video_id,
                   'u_' || lpad(((i * 7919) % 200000)::varchar, 6, '0'),
                   now()::timestamp - to_seconds(((i * 104729) % 604800)::bigint),
                   case when i % 20 >= 7 then ((i * 31) % 900)::double end,
                   1 + i % {batches}, 'events/history.jsonl', 1, now()::timestamp
            from range({n}) t(i)
            join vids v on v.ix = floor(pow(((i * 2654435761) % 1000003) / 1000003.0, 3)
                                        * {nv})::bigint
        """)
        con.execute(f"""
            insert into raw.ingested_files
            select 'events/history-' || b::varchar || '.jsonl', 'events', b, 0, 0, 0, 0,
                   now()::timestamp
            from range(1, {batches} + 1) t(b)
        """)
        count = con.execute("select count(*) from raw.events").fetchone()
        print(f"  history: {count[0] if count else 0:,} events in raw.events", flush=True)
    finally:
        con.close()


def bench_history_ratio(
    base: Path, redis_url: str, history: int, batch: int, rounds: int = 3
) -> tuple[float, float]:
    """Median seconds of ``rounds`` ``batch``-event passes on an empty history and on a
    ``history``-event one (the same batches, in the same order, in both)."""
    world = build_world(**WORLD_ARGS)
    times: dict[str, float] = {}
    for label, size in (("empty", 0), ("history", history)):
        print(f"[3] {batch:,}-event batches on {label} history ({size:,} events)", flush=True)
        with fresh_deployment(base / label, redis_url) as landing:
            sim = Simulator(landing, world, seed=5)
            sim.write_catalogue()
            if size:
                seed_history(get_settings().duckdb_path, world, size)
            timed_pass("catalogue + history build (untimed)")
            seconds = []
            for k in range(rounds):
                write_batch(Simulator(landing, world, seed=99 + k), batch)
                result = timed_pass(f"timed {batch:,}-event batch {k + 1} of {rounds}")
                print(f"    {breakdown(result)}", flush=True)
                seconds.append(result.seconds)
            times[label] = statistics.median(seconds)
    return times["empty"], times["history"]


def run_stages(instance_dir: Path, landed: float) -> str:
    """Where the run the landing requested (the first created after ``landed``) spent its
    time, from the Dagster instance's records."""
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

    os.environ["DAGSTER_HOME"] = str(instance_dir)
    after = datetime.fromtimestamp(landed, UTC)
    with DagsterInstance.get() as instance:
        # The first run requested after the landing published; it may still be finishing
        # (the snapshot is out before the run's last events are).
        runs = RunsFilter(job_name="hot_pipeline", created_after=after)
        wait_for(
            lambda: (
                instance.get_run_records(runs, ascending=True, limit=1)[0].dagster_run.status
                == DagsterRunStatus.SUCCESS
            ),
            60,
            "the run to finish",
        )
        record = instance.get_run_records(runs, ascending=True, limit=1)[0]
        run_id = record.dagster_run.run_id
        stats = instance.get_run_step_stats(run_id)
        marks = {
            kind: instance.get_records_for_run(run_id, of_type=kind).records[0].timestamp
            for kind in (DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START)
        }
    first_step = min(s.start_time for s in stats if s.start_time)
    created = record.create_timestamp.timestamp()
    steps = " + ".join(f"{s.step_key} {s.end_time - s.start_time:.2f}" for s in stats)
    return (
        f"sensor {created - landed:.2f} + queue "
        f"{marks[DagsterEventType.RUN_STARTING] - created:.2f} + launch "
        f"{marks[DagsterEventType.RUN_START] - marks[DagsterEventType.RUN_STARTING]:.2f} "
        f"+ run start-up {first_step - marks[DagsterEventType.RUN_START]:.2f} + "
        f"steps ({steps})"
    )


def bench_sensor_latency(
    base: Path, redis_url: str, rounds: int, kafka: EmbeddedKafka | None = None
) -> list[float]:
    """Seconds from 2,000 events sent (a file renamed into landing/, or with ``kafka``
    messages acknowledged by the broker) to a new ``keys.CURRENT`` under dagster dev."""
    what = "topic" if kafka else "landing"
    print(f"[4] {what} → snapshot latency with the sensor running ({rounds} rounds)", flush=True)
    client = redis.Redis.from_url(redis_url)
    with (
        kafka_source(kafka, "bench.fresh", 3) if kafka else nullcontext(),
        fresh_deployment(base / f"sensor-{what}", redis_url) as landing,
    ):
        home = Path(os.environ["DAGSTER_HOME"])
        sim = Simulator(landing, build_world(**WORLD_ARGS))
        sim.write_catalogue()
        send: Callable[[int], object] = sim.write_events
        if kafka:
            send = partial(_produce, EventProducer(kafka.bootstrap, "bench.fresh"), sim)
        send(2000)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(ROOT / "workspace.yaml"),
                "-p",
                str(free_port()),
            ],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: client.get(keys.CURRENT) is not None, 300, "first snapshot")
            latencies = []
            for _ in range(rounds):
                # A round starts on a quiet deployment: a run still queued from the set-up (the
                # catalogue's, a second Kafka range) would publish a snapshot without the
                # round's events.
                wait_quiet(home)
                before = client.get(keys.CURRENT)
                landed = time.time()
                started = time.perf_counter()
                send(2000)
                wait_for(lambda b=before: client.get(keys.CURRENT) != b, 300, "new snapshot")
                latencies.append(time.perf_counter() - started)
                print(f"  {what} → snapshot: {latencies[-1]:.2f} s", flush=True)
                print(f"    {run_stages(home, landed)}", flush=True)
        finally:
            proc.send_signal(signal.SIGINT)  # dagster dev shuts its daemon and servers down
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return latencies


def _produce(producer: EventProducer, sim: Simulator, n: int) -> int:
    return producer.send(sim.events(n))


@contextmanager
def kafka_source(kafka: EmbeddedKafka, topic: str, partitions: int) -> Iterator[None]:
    """``HOT_EVENTS_SOURCE=kafka`` on ``topic`` (created) of ``kafka`` for a while."""
    ensure_topic(kafka.bootstrap, topic, partitions)
    source = {
        "HOT_EVENTS_SOURCE": "kafka",
        "HOT_KAFKA_TOPIC": topic,
        "HOT_KAFKA_BOOTSTRAP": kafka.bootstrap,
    }
    try:
        with mock.patch.dict(os.environ, source):
            get_settings.cache_clear()
            yield
    finally:
        get_settings.cache_clear()


def bare_consumer(bootstrap: str, rng: OffsetRange) -> float:
    """Seconds for a plain confluent-kafka consumer to read ``rng`` (values only, no work)."""
    started = time.perf_counter()
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "bench-bare", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(rng.topic, rng.partition, rng.start)])
    read = 0
    while read < rng.size:
        batch = consumer.consume(min(rng.size - read, 50_000), timeout=1.0)
        read += sum(1 for m in batch if m.error() is None and m.value() is not None)
    consumer.close()
    return time.perf_counter() - started


def bench_kafka_range(base: Path, redis_url: str, kafka: EmbeddedKafka, n: int) -> str:
    """One pass over an ``n``-message range (one partition) / a bare consumer of that range."""
    print(f"[5] one pass over a {n:,}-message range vs a bare consumer", flush=True)
    world = build_world(**WORLD_ARGS)
    topic = "bench.range"
    with kafka_source(kafka, topic, 1), fresh_deployment(base / "range", redis_url) as landing:
        sim = Simulator(landing, world)
        sim.write_catalogue()
        producer = EventProducer(kafka.bootstrap, topic)
        while (sent := kafka_state(kafka.bootstrap, topic).offsets[0][1]) < n:
            lines = sim.events(min(200_000, n - sent), bad_rate=0.001, replay_rate=0.0)
            producer.send(lines)
        bare = statistics.median(
            bare_consumer(kafka.bootstrap, OffsetRange(topic, 0, 0, n)) for _ in range(3)
        )
        print(f"  bare consumer: {bare:.2f} s (median of 3)", flush=True)
        result = timed_pass(f"pass over {n:,} messages")
        print(f"    {breakdown(result)}", flush=True)
        ingest = next(s.seconds for s in result.steps if s.step == "landing_files")
    return (
        f"kafka range: one pass over {n:,} messages {result.seconds:.2f} s (its ingest step "
        f"{ingest:.2f} s) / bare confluent-kafka consumer {bare:.2f} s = "
        f"{result.seconds / bare:.1f}x (ingest {ingest / bare:.1f}x; goal <= 10x) "
        f"[{n / result.seconds:,.0f} messages/s]"
    )


def main() -> None:
    """Run the measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a first look")
    parser.add_argument("--big", type=int)
    parser.add_argument("--history", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds")
    parser.add_argument("--ratio-rounds", type=int, default=3, help="engine ratio rounds")
    parser.add_argument(
        "--only",
        default="fixed,ratio,pass,history,freshness,kafka,spark,steady",
        help="a comma list of measurements",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    sizes = {k: getattr(args, k) or v for k, v in (QUICK if args.quick else FULL).items()}
    started = time.perf_counter()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hot-bench-", ignore_cleanup_errors=True) as tmp:
        base = Path(tmp)
        server = EmbeddedRedis(base / "redis", persist=False).start()
        try:
            if "fixed" in only:
                idle, bare_imp, forced = bench_fixed_cost(base, server.url)
                lines.append(
                    f"fixed cost: `hot run` with nothing pending {idle:.2f} s / bare import of "
                    f"dagster, dagster-dbt and dbt's runner {bare_imp:.2f} s (medians of 5, "
                    f"alternated) = {idle / bare_imp:.2f}x (goal <= 1.5x); a forced empty pass "
                    f"(`hot run --now`) {forced:.2f} s = {forced / bare_imp:.2f}x"
                )
            if "ratio" in only:
                rounds = bench_engine_ratio(base, server.url, sizes["big"], args.ratio_rounds)
                lines.append(engine_ratio_line(sizes["big"], rounds))
            if "pass" in only:
                small = bench_small_pass(base, server.url)
                lines.append(
                    f"2,000-event pass: {small.seconds:.2f} s (goal <= 3 s) = {breakdown(small)}"
                )
            if "history" in only:
                empty, history = bench_history_ratio(
                    base, server.url, sizes["history"], sizes["batch"]
                )
                lines.append(
                    f"incremental: {sizes['batch']:,} batch on {sizes['history']:,} history "
                    f"{history:.2f} s / on empty {empty:.2f} s (medians of 3) = ratio "
                    f"{history / empty:.2f} "
                    "(goal <= 1.3)"
                )
            if "freshness" in only:
                latencies = bench_sensor_latency(base, server.url, args.rounds)
                lines.append(
                    "freshness: file landing → snapshot in Redis under dagster dev, median "
                    f"{statistics.median(latencies):.2f} s of "
                    f"{', '.join(f'{x:.2f}' for x in latencies)} (goal <= 10 s)"
                )
            if "kafka" in only:
                with EmbeddedKafka(base / "kafka", partitions=3) as kafka:
                    lines.append(bench_kafka_range(base, server.url, kafka, sizes["big"]))
                    latencies = bench_sensor_latency(base, server.url, args.rounds, kafka)
                lines.append(
                    "kafka freshness: events produced → snapshot in Redis under dagster dev, "
                    f"median {statistics.median(latencies):.2f} s of "
                    f"{', '.join(f'{x:.2f}' for x in latencies)} (goal <= 10 s)"
                )
            if "spark" in only:
                lines.append(bench_spark(base, server.url, sizes["batch"]))
            if "steady" in only:
                lines.extend(bench_steady(base, server.url, args.quick).summary())
        finally:
            server.stop()
    print("\n== pipeline benchmark ==")
    print("\n".join(lines))
    print(f"(benchmark took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
