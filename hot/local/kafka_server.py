"""An embedded Apache Kafka broker (KRaft, broker and controller in one JVM): `hot kafka`,
`hot demo --source kafka` and the Kafka tests run one alone; :mod:`hot.local.kafka_cluster`
runs several as one cluster (a :class:`Quorum` shared by its nodes).

It runs from the jars the setup fetched (``vendor/kafka/jars``, by ``mvn`` from
``vendor/kafka/pom.xml``): ``kafka.tools.StorageTool format`` once, then ``kafka.Kafka`` in a
session of its own (a Ctrl-C at the terminal reaches only the command, which stops the broker
last), with its configuration, log and data under one directory (``$HOT_DATA_DIR/kafka/``).
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from tenacity import (
    RetryError,
    retry_if_exception_type,
)

from hot.local.processes import terminate, while_starting
from hot.local.redis_server import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
JARS_DIR = PROJECT_ROOT / "vendor" / "kafka" / "jars"
"""Where scripts/setup.sh copies kafka_2.13 and its runtime dependencies."""
STOP_GRACE_SEC = 20.0
"""A controlled shutdown flushes the logs; past this the broker is killed."""

SERVER_PROPERTIES = """\
# Written by `hot kafka` / `hot cluster` at each start: a node that is both broker and KRaft
# controller, one of the voters of its quorum.
process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dirs}
num.partitions={partitions}
# Copies of every topic (internal ones too), and how many must have a record before a producer
# with acks=all hears it is written: 1 and 1 on one node.
default.replication.factor={replication}
min.insync.replicas={min_insync}
offsets.topic.replication.factor={replication}
offsets.topic.num.partitions=1
transaction.state.log.replication.factor={replication}
transaction.state.log.min.isr={min_insync}
share.coordinator.state.topic.replication.factor={replication}
share.coordinator.state.topic.min.isr={min_insync}
group.initial.rebalance.delay.ms=0
# A node that stops heartbeating is fenced, and leaves the in-sync replicas, after 6 s (9 s
# by default): what a lost broker costs the producers waiting on its acknowledgements.
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
"""

LOG4J2_PROPERTIES = """\
# Written by `hot kafka`: the broker's log goes to a file beside its data.
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
"""


class KafkaNotInstalledError(RuntimeError):
    """The broker's jars or Java are missing (scripts/setup.sh fetches and installs them)."""


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise KafkaNotInstalledError("java is not installed; run `make setup` (Java 17+)")
    return java


def new_cluster_id() -> str:
    """A random KRaft cluster id, as Kafka's own ``Uuid.randomUuid``."""
    cluster_id = "-"
    # An id opening with '-' would read as an option of the storage tool.
    while cluster_id.startswith("-"):
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    return cluster_id


@dataclass(frozen=True)
class Quorum:
    """What every node of one KRaft cluster shares."""

    cluster_id: str
    voters: str
    """``controller.quorum.voters``: ``id@host:port`` of each controller, comma-separated."""
    replication: int = 1
    """Replicas of every topic."""
    min_insync: int = 1
    """``min.insync.replicas``: the replicas an acks=all write needs."""


def _classpath() -> str:
    if not any(JARS_DIR.glob("kafka_2.13-*.jar")):
        raise KafkaNotInstalledError(
            f"the Kafka jars are not in {JARS_DIR}; run `make setup` (it fetches them with mvn)"
        )
    return str(JARS_DIR / "*")


class EmbeddedKafka:
    """A KRaft Kafka node (broker and controller) child process on 127.0.0.1:``port``.

    Alone by default (its own quorum of one); a node of a cluster is given its ``node_id``,
    its ``controller_port`` and the cluster's :class:`Quorum`.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        partitions: int = 3,
        *,
        node_id: int = 1,
        controller_port: int | None = None,
        quorum: Quorum | None = None,
        heap: str = "1g",
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.partitions = partitions
        """Partitions of a topic the broker creates on first use."""
        self.node_id = node_id
        self.controller_port = controller_port or self._free_controller_port()
        self.quorum = quorum or Quorum(new_cluster_id(), f"{node_id}@{self.controller_address}")
        self.heap = heap
        """The JVM's maximum heap (``-Xmx``)."""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def controller_address(self) -> str:
        """``host:port`` of the node's KRaft controller listener."""
        return f"127.0.0.1:{self.controller_port}"

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` of the broker."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while this object runs it."""
        return self._proc.pid if self._proc is not None else None

    @property
    def log_file(self) -> Path:
        """The broker's own log."""
        return self.directory / "server.log"

    def _configure(self) -> Path:
        """Write the properties and log settings; format the storage once."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = self.directory / "data"
        config = self.directory / "server.properties"
        config.write_text(
            SERVER_PROPERTIES.format(
                node_id=self.node_id,
                voters=self.quorum.voters,
                port=self.port,
                controller_port=self.controller_port,
                log_dirs=data,
                partitions=self.partitions,
                replication=self.quorum.replication,
                min_insync=self.quorum.min_insync,
            )
        )
        (self.directory / "log4j2.properties").write_text(
            LOG4J2_PROPERTIES.format(log_file=self.log_file)
        )
        if not (data / "meta.properties").exists():
            storage = ["kafka.tools.StorageTool", "format", "--ignore-formatted"]
            fmt = subprocess.run(
                [*self._jvm(), *storage, "-t", self.quorum.cluster_id, "-c", str(config)],
                capture_output=True,
                timeout=120,
                check=False,
            )
            if fmt.returncode != 0:
                raise RuntimeError(f"kafka storage format failed: {fmt.stderr[-2000:]!r}")
        return config

    def _free_controller_port(self) -> int:
        """A free port for the KRaft controller, never the broker's own."""
        while (port := free_port()) == self.port:
            pass
        return port

    def _jvm(self) -> list[str]:
        return [
            _java(),
            "-Xms256m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.directory / 'log4j2.properties'}",
            "-cp",
            _classpath(),
        ]

    def start(self, timeout: float = 90.0) -> EmbeddedKafka:
        """Start the broker and wait until it answers a metadata request."""
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the node's JVM without waiting for it (the nodes of a cluster start together:
        none answers before a majority of the controllers runs)."""
        config = self._configure()
        with (self.directory / "kafka.out").open("ab") as out:
            self._proc = subprocess.Popen(
                [*self._jvm(), "kafka.Kafka", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        atexit.register(self.stop)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until the launched broker answers a metadata request (stopped if it does not)."""
        from hot.kafka import KafkaUnavailableError
        from hot.local.kafka_topics import broker_ready

        assert self._proc is not None, "launch() first"
        try:
            while_starting(
                self._proc, retry_if_exception_type(KafkaUnavailableError), timeout, 0.2
            )(broker_ready, self.bootstrap, timeout=2.0)
        except RetryError:
            detail = self._log_tail()
            self.stop()
            raise RuntimeError(f"Kafka did not start on port {self.port}: {detail}") from None

    def _log_tail(self) -> str:
        for path in (self.directory / "kafka.out", self.log_file):
            text = path.read_text(errors="replace") if path.exists() else ""
            if "ERROR" in text or "Exception" in text:
                return text[-2000:]
        return ""

    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Stop the broker (SIGTERM: a controlled shutdown; SIGKILL after a grace period)."""
        proc, self._proc = self._proc, None
        terminate(proc, STOP_GRACE_SEC)

    def kill(self) -> None:
        """Kill the broker abruptly (failure tests)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> EmbeddedKafka:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
