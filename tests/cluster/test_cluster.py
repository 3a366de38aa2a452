"""`hot cluster` (SPEC §9b): the topology it starts, a pass through all of it, and the loss of a
Kafka broker while the topic is written and of a Redis master while the API serves.

Every test runs against the session's one cluster (``hot_cluster``) with data of its own: its
own videos, creators and event ids, or its own snapshot. A part a test kills is started again
by the command; the test waits for that, so the next one finds the cluster whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import psycopg2
import pytest
import redis
from confluent_kafka import TopicCollection
from confluent_kafka.admin import ConfigResource
from pyhive import hive
from redis.cluster import RedisCluster
from tenacity import retry_if_exception_type, retry_if_result

from hot import keys
from hot.kafka import OffsetRange, admin_client, read_range, topic_state
from hot.landing import write_atomic
from hot.local.kafka_topics import EventProducer
from hot.local.processes import while_starting
from hot.local.redis_server import free_port
from hot.local.simulate import Simulator, World, build_world
from tests.cluster.conftest import HotCluster, hot_command
from tests.oracle import landing_oracle, published, rel_close
from tests.serving.api_support import FLAG_ON, SECRET, bearer, publish, random_items, token
from tests.serving.conftest import ApiServer

pytestmark = pytest.mark.timeout(900)

ROLES = [
    "spark-master",
    "spark-worker-1",
    "spark-worker-2",
    "spark-thrift",
    "kafka-1",
    "kafka-2",
    "kafka-3",
    *(f"redis-{i}" for i in range(1, 7)),
    "postgres",
]
"""The pids file of the default topology, in its order (SPEC §9b)."""
BATCHES = 12
BATCH = 250
"""Events sent while a broker is lost: 12 acknowledged sends of 250 lines."""
RUN_TIMEOUT_SEC = 1200.0
"""A pass on the Thrift Server: 5-10 min on two cores shared with other work (load 20-45)."""
WAIT_SEC = 120.0
"""How long a poll for something the cluster does on its own may take."""


def _until(what: str, check: object, timeout: float = WAIT_SEC) -> None:
    """Poll ``check()`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}"
        time.sleep(0.2)


def _own_world(tag: str) -> World:
    """A small world whose creator and video ids carry ``tag``: nothing another test sends
    touches its videos."""
    world = build_world(n_creators=12, videos_per_creator=5, n_users=300)

    def own(name: str) -> str:
        return name.replace("_", f"_{tag}_", 1)

    return World(
        [{**c, "creator_id": own(c["creator_id"])} for c in world.creators],
        [
            {**v, "video_id": own(v["video_id"]), "creator_id": own(v["creator_id"])}
            for v in world.videos
        ],
        {own(v): t for v, t in world.video_topic.items()},
        world.users,
        world.user_topics,
        world.popularity,
    )


def _redis_ports(cluster: HotCluster) -> dict[str, int]:
    """Role → port of each Redis node (a node's process title is ``redis-server host:port``)."""
    ports = {}
    for role, pid in cluster.pids().items():
        if role.startswith("redis-"):
            title = " ".join(psutil.Process(pid).cmdline()).split()
            address = next(word for word in title if word.startswith("127.0.0.1:"))
            ports[role] = int(address.rsplit(":", 1)[1])
    return ports


def _cluster_client(ports: dict[str, int], avoid: str | None = None) -> RedisCluster:
    """A cluster client started from a node of ``ports`` (role → port) other than ``avoid``."""
    port = next(p for r, p in ports.items() if r != avoid)
    return RedisCluster(host="127.0.0.1", port=port, socket_timeout=5)


def test_the_topology_is_up_and_its_files_say_where(hot_cluster: HotCluster) -> None:
    """Every role of SPEC §9b runs and answers, and the env and pids files name them."""
    pids = hot_cluster.pids()
    assert list(pids) == ROLES
    assert all(psutil.pid_exists(pid) for pid in pids.values())
    env = hot_cluster.env
    assert env["HOT_ENGINE"] == "spark" and env["HOT_REDIS_CLUSTER"] == "1"
    assert "HOT_EVENTS_SOURCE" not in env  # the user's choice
    assert all(name.startswith("HOT_") for name in env)

    # Spark: the Thrift Server runs SQL.
    thrift = hive.connect(env["HOT_SPARK_HOST"], int(env["HOT_SPARK_PORT"]), "hot")
    try:
        cursor = thrift.cursor()
        cursor.execute("SELECT 1 + 1")
        assert cursor.fetchall() == [(2,)]
    finally:
        thrift.close()
    # PostgreSQL: Dagster's database takes the URL.
    pg = psycopg2.connect(env["HOT_DAGSTER_PG_URL"], connect_timeout=5)
    try:
        with pg.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == ("dagster",)
    finally:
        pg.close()
    # Kafka: three brokers; the events topic has three replicas in sync, two needed.
    bootstrap, topic = env["HOT_KAFKA_BOOTSTRAP"], env["HOT_KAFKA_TOPIC"]
    assert len(bootstrap.split(",")) == 3
    admin = admin_client(bootstrap)
    assert len(admin.list_topics(timeout=10).brokers) == 3
    description = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=10)
    for partition in description.partitions:
        assert len(partition.replicas) == 3 and len(partition.isr) == 3, partition
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["min.insync.replicas"].value == "2"
    # Redis: three masters (redis-1..3), each with one replica (redis-4..6).
    ports = _redis_ports(hot_cluster)
    client = RedisCluster.from_url(env["HOT_REDIS_URL"])
    try:
        masters = {n.port for n in client.get_primaries()}
        assert masters == {ports[f"redis-{i}"] for i in (1, 2, 3)}
        for i in (4, 5, 6):
            info = redis.Redis(port=ports[f"redis-{i}"]).info("replication")
            assert info["role"] == "slave" and info["master_port"] in masters
    finally:
        client.close()


def _hot_run(cluster: HotCluster, **env: str) -> None:
    """`hot run` with the cluster's settings: one pass, which must succeed."""
    run = subprocess.run(
        [hot_command(), "run"],
        env=cluster.client_env(**env),
        cwd=cluster.data_dir,
        capture_output=True,
        timeout=RUN_TIMEOUT_SEC,
        check=False,
    )
    assert run.returncode == 0, (run.stdout.decode()[-3000:], run.stderr.decode()[-3000:])


def _leader(bootstrap: str, topic: str, partition: int) -> int:
    admin = admin_client(bootstrap)
    description = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=10)
    return next(p.leader.id for p in description.partitions if p.id == partition)


def _topic_lines(bootstrap: str, topic: str) -> list[bytes]:
    """Every message of the topic, read back."""
    state = topic_state(bootstrap, topic)
    return [
        value
        for partition, (low, high) in state.offsets.items()
        for value in read_range(bootstrap, OffsetRange(topic, partition, low, high))[
            "value"
        ].to_pylist()
    ]


def _in_sync(bootstrap: str, topic: str) -> bool:
    admin = admin_client(bootstrap)
    description = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=10)
    return all(len(p.isr) == 3 for p in description.partitions)


@pytest.mark.timeout(1800)
def test_a_kafka_broker_lost_mid_stream_loses_and_doubles_nothing(
    hot_cluster: HotCluster, tmp_path: Path
) -> None:
    """The leader of a partition SIGKILLed while events are sent (acks=all, idempotent): every
    acknowledged line is in the topic exactly as often as it was sent, and a pass over the
    whole topology (Kafka → Spark over Thrift → the Redis Cluster) scores them as the oracle."""
    env = hot_cluster.env
    bootstrap, topic = env["HOT_KAFKA_BOOTSTRAP"], env["HOT_KAFKA_TOPIC"]
    tag = uuid.uuid4().hex[:8]
    world = _own_world(tag)
    sim = Simulator(hot_cluster.data_dir / "landing", world, seed=int(tag, 16))
    oracle_landing = tmp_path / "landing"
    for path in sim.write_catalogue():
        (oracle_landing / path.parent.name).mkdir(parents=True, exist_ok=True)
        (oracle_landing / path.parent.name / path.name).write_bytes(path.read_bytes())
    now = datetime.now(UTC)
    batches = [sim.events(BATCH, now=now) for _ in range(BATCHES)]
    write_atomic(oracle_landing / "events", "0.jsonl", [line for b in batches for line in b])

    victim = f"kafka-{_leader(bootstrap, topic, 0)}"
    victim_pid = hot_cluster.pids()[victim]
    acknowledged = threading.Semaphore(0)
    failures: list[BaseException] = []

    def send() -> None:
        producer = EventProducer(bootstrap, topic)
        try:
            for batch in batches:
                producer.send(batch)
                acknowledged.release()
        except BaseException as exc:  # handed to the test's thread
            failures.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    for _ in range(BATCHES // 3):
        assert acknowledged.acquire(timeout=WAIT_SEC)
    os.kill(victim_pid, signal.SIGKILL)  # mid-stream: the sender goes on
    sender.join(timeout=RUN_TIMEOUT_SEC)
    assert not sender.is_alive() and not failures, failures

    sent = Counter(line for b in batches for line in b if tag.encode() in line)
    stored = Counter(line for line in _topic_lines(bootstrap, topic) if tag.encode() in line)
    assert stored == sent

    _hot_run(hot_cluster, HOT_EVENTS_SOURCE="kafka")
    oracle = landing_oracle(oracle_landing)
    client = RedisCluster.from_url(env["HOT_REDIS_URL"])
    try:
        pub = published(client)  # type: ignore[arg-type]
    finally:
        client.close()
    ours = {vid: score for vid, score in pub.feed.items() if f"_{tag}_" in vid}
    expected = oracle.feed(top_n=1000)
    assert len(expected) > 10
    assert set(ours) == set(expected)
    for vid in expected:
        assert rel_close(ours[vid], oracle.score(vid, pub.generated_at)), vid
        stats, ref = pub.items[vid]["stats"], oracle.videos[vid]
        assert (stats["likes"], stats["comments"], stats["shares"]) == (
            ref.likes,
            ref.comments,
            ref.shares,
        ), vid

    hot_cluster.wait_restarted(victim, victim_pid)
    _until("the restarted broker back in every ISR", lambda: _in_sync(bootstrap, topic))


@pytest.fixture
def cluster_api(hot_cluster: HotCluster, tmp_path: Path) -> Iterator[ApiServer]:
    """`hot serve` on the cluster's settings (the Redis Cluster), stopped after the test."""
    port = free_port()
    log = tmp_path / "api.log"
    env = hot_cluster.client_env(HOT_JWT_SECRET=SECRET, HOT_FEATURE_FLAG_DEFAULT="1")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [hot_command(), "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = ApiServer(f"http://127.0.0.1:{port}", process, log)
    try:
        while_starting(
            process,
            retry_if_exception_type(httpx.HTTPError) | retry_if_result(lambda ok: not ok),
            WAIT_SEC,
            0.2,
        )(lambda: httpx.get(f"{server.url}/healthz", timeout=2.0).status_code == 200)
        yield server
    finally:
        server.stop()


def test_a_redis_master_lost_while_serving(hot_cluster: HotCluster, cluster_api: ApiServer) -> None:
    """The master of the ``hot:global`` slot SIGKILLed under a stream of reads: every answer
    is a 200 (the held snapshot, stale, while its replica takes over), a publish through
    the promoted replica lands and is served, and the lost node comes back as a replica."""
    ports = _redis_ports(hot_cluster)
    client = _cluster_client(ports)
    held_sid = publish(client, random_items(60, 8, seed=3))
    owner_port = client.get_node_from_key(keys.GLOBAL).port
    client.close()
    victim = next(role for role, port in ports.items() if port == owner_port)
    victim_pid = hot_cluster.pids()[victim]

    headers = {**FLAG_ON, **bearer(token())}
    answers: list[tuple[int, str | None, bool]] = []
    stop = threading.Event()

    def read() -> None:
        with cluster_api.client(headers=headers) as http:
            while not stop.is_set():
                response = http.get("/api/v1/hot", params={"limit": 20})
                sid = response.json().get("snapshotId") if response.status_code == 200 else None
                answers.append((response.status_code, sid, "X-Hot-Stale-Age" in response.headers))
                time.sleep(0.05)

    reader = threading.Thread(target=read)
    with cluster_api.client(headers=headers) as http:
        _until("the held snapshot served", lambda: _served(http) == held_sid)
    reader.start()
    try:
        os.kill(victim_pid, signal.SIGKILL)
        survivor = _cluster_client(ports, avoid=victim)
        _until(
            "the replica promoted",
            lambda: _promoted(survivor, owner_port),
        )
        new_sid = publish(survivor, random_items(60, 8, seed=4))
        survivor.close()
        with cluster_api.client(headers=headers) as http:
            _until("the new snapshot served", lambda: _served(http) == new_sid)
    finally:
        stop.set()
        reader.join()
    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) == {200}, statuses
    assert any(stale for _, _, stale in answers)  # the held snapshot, from the API's memory
    served = [sid for _, sid, _ in answers]
    order = [held_sid, new_sid]
    assert served == sorted(served, key=order.index)  # the held one, then only the new one

    hot_cluster.wait_restarted(victim, victim_pid)
    replica = redis.Redis(port=owner_port)
    _until(
        "the lost master back as a replica",
        lambda: replica.info("replication").get("master_link_status") == "up",
    )
    assert replica.info("replication")["role"] == "slave"


def _served(http: httpx.Client) -> str | None:
    response = http.get("/api/v1/hot", params={"limit": 20})
    return response.json().get("snapshotId") if response.status_code == 200 else None


def _promoted(client: RedisCluster, lost_port: int) -> bool:
    """Whether the slot of ``hot:global`` is served by a node other than the lost one."""
    try:
        client.nodes_manager.initialize()
        return client.get_node_from_key(keys.GLOBAL).port != lost_port
    except (redis.RedisError, redis.exceptions.RedisClusterException):
        return False
