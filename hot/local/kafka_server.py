"""An embedded Apache Kafka broker (KRaft, one node): `hot kafka`, `hot demo --source kafka`
and the Kafka tests.

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
# Written by `hot kafka` at each start: one node that is both broker and KRaft controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dirs}
num.partitions={partitions}
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
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


def _classpath() -> str:
    if not any(JARS_DIR.glob("kafka_2.13-*.jar")):
        raise KafkaNotInstalledError(
            f"the Kafka jars are not in {JARS_DIR}; run `make setup` (it fetches them with mvn)"
        )
    return str(JARS_DIR / "*")


class EmbeddedKafka:
    """A single-node KRaft Kafka child process listening on 127.0.0.1:``port``."""

    def __init__(self, directory: Path, port: int | None = None, partitions: int = 3) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.partitions = partitions
        """Partitions of a topic the broker creates on first use."""
        self._proc: subprocess.Popen[bytes] | None = None

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
                port=self.port,
                controller_port=self._controller_port(),
                log_dirs=data,
                partitions=self.partitions,
            )
        )
        (self.directory / "log4j2.properties").write_text(
            LOG4J2_PROPERTIES.format(log_file=self.log_file)
        )
        if not (data / "meta.properties").exists():
            cluster_id = "-"
            # As Kafka's own Uuid.randomUuid: an id opening with '-' reads as an option.
            while cluster_id.startswith("-"):
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            storage = ["kafka.tools.StorageTool", "format", "--ignore-formatted"]
            fmt = subprocess.run(
                [*self._jvm(), *storage, "-t", cluster_id, "-c", str(config)],
                capture_output=True,
                timeout=120,
                check=False,
            )
            if fmt.returncode != 0:
                raise RuntimeError(f"kafka storage format failed: {fmt.stderr[-2000:]!r}")
        return config

    def _controller_port(self) -> int:
        """A free port for the KRaft controller, never the broker's own."""
        while (port := free_port()) == self.port:
            pass
        return port

    def _jvm(self) -> list[str]:
        return [
            _java(),
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.directory / 'log4j2.properties'}",
            "-cp",
            _classpath(),
        ]

    def start(self, timeout: float = 90.0) -> EmbeddedKafka:
        """Start the broker and wait until it answers a metadata request."""
        from hot.kafka import KafkaUnavailableError
        from hot.local.kafka_topics import broker_ready

        config = self._configure()
        with (self.directory / "kafka.out").open("ab") as out:
            self._proc = subprocess.Popen(
                [*self._jvm(), "kafka.Kafka", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        atexit.register(self.stop)
        try:
            while_starting(
                self._proc, retry_if_exception_type(KafkaUnavailableError), timeout, 0.2
            )(broker_ready, self.bootstrap, timeout=2.0)
        except RetryError:
            detail = self._log_tail()
            self.stop()
            raise RuntimeError(f"Kafka did not start on port {self.port}: {detail}") from None
        return self

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
