"""A Kafka cluster on loopback: N KRaft nodes, each broker and controller in a JVM of its own
with a capped heap, and the events topic replicated on three of them (`hot cluster`, SPEC §9b).
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hot.local.kafka_server import EmbeddedKafka, Quorum, new_cluster_id
from hot.local.redis_server import free_ports

ROLE = "kafka"
"""Roles are ``kafka-1``, ``kafka-2``, … (the node ids)."""
HEAP = "512m"
"""Each node's maximum heap: plenty for a local topic, and three fit beside Spark."""
MAX_REPLICATION = 3
"""Replicas of a topic: every node's, up to three (one may be lost, with two still in sync)."""


class KafkaCluster:
    """``brokers`` Kafka nodes forming one KRaft quorum, with ``topic`` created on them.

    A topic has ``min(brokers, 3)`` replicas and ``min.insync.replicas`` one fewer (at least
    one): with three brokers, one can be lost without losing an acknowledged record or
    refusing writes. The cluster is new at each :meth:`start` (its directory is emptied).
    """

    def __init__(
        self, directory: Path, brokers: int = 3, topic: str = "hot.events", partitions: int = 3
    ) -> None:
        if brokers < 1:
            raise ValueError("a Kafka cluster needs at least one broker")
        self.directory = directory
        self.topic = topic
        self.partitions = partitions
        replication = min(brokers, MAX_REPLICATION)
        ports = free_ports(2 * brokers)
        ids = range(1, brokers + 1)
        controllers = dict(zip(ids, ports[brokers:], strict=True))
        quorum = Quorum(
            new_cluster_id(),
            ",".join(f"{i}@127.0.0.1:{port}" for i, port in controllers.items()),
            replication=replication,
            min_insync=max(replication - 1, 1),
        )
        self.quorum = quorum
        self.nodes = {
            f"{ROLE}-{i}": EmbeddedKafka(
                directory / f"{ROLE}-{i}",
                port,
                partitions,
                node_id=i,
                controller_port=controllers[i],
                quorum=quorum,
                heap=HEAP,
            )
            for i, port in zip(ids, ports[:brokers], strict=True)
        }

    @property
    def bootstrap(self) -> str:
        """``bootstrap.servers``: every broker, so a client finds the cluster with one down."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    def start(self, timeout: float = 180.0) -> KafkaCluster:
        """Start every node, wait until each answers, and create the topic."""
        from hot.local.kafka_topics import ensure_topic

        deadline = time.monotonic() + timeout
        shutil.rmtree(self.directory, ignore_errors=True)
        try:
            # Together: a node answers only once a majority of the controllers runs.
            for node in self.nodes.values():
                node.launch()
            for node in self.nodes.values():
                node.wait_ready(max(deadline - time.monotonic(), 1.0))
            ensure_topic(
                self.bootstrap,
                self.topic,
                self.partitions,
                max(deadline - time.monotonic(), 1.0),
                replication=self.quorum.replication,
                min_insync=self.quorum.min_insync,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def pids(self) -> dict[str, int]:
        """The process id of each node this object runs, by role."""
        return {role: node.pid for role, node in self.nodes.items() if node.pid is not None}

    def env(self) -> dict[str, str]:
        """The settings that point the pipeline at this cluster and its topic."""
        return {"HOT_KAFKA_BOOTSTRAP": self.bootstrap, "HOT_KAFKA_TOPIC": self.topic}

    def restart(self, role: str, timeout: float = 90.0) -> None:
        """Start the node ``role`` again (after it was killed or stopped) with its data; it
        catches up on the topic from the others."""
        node = self.nodes[role]
        node.stop()  # reaps a killed one
        node.start(timeout)

    def stop(self) -> None:
        """Stop every node, all at once: one by one, the last would wait for a quorum of
        controllers that has gone (and be killed after its grace period)."""
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            for node in self.nodes.values():
                pool.submit(node.stop)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
