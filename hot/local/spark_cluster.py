"""A standalone Spark cluster on loopback (SPEC §9b): a master, ``workers`` workers and the
Spark Thrift Server, each its own JVM, for `hot cluster`, the cluster tests and benchmarks.

Every JVM is started with ``spark-class`` from the pyspark wheel (the ``spark`` extra ships
the master's, the worker's and the Thrift Server's classes), with one core and a capped heap.
The Thrift Server is the one driver: submitted to the master in client mode, so its executors
run in the workers' JVMs and a shuffle crosses processes; it holds the one metastore
(embedded Derby). Its settings are the local session's (:func:`hot.warehouse.spark_env.
driver_conf`): UTC, the warehouse and metastore under ``directory/spark/``, Delta Lake and
Spark's Kafka source when ``make setup`` fetched their jars (the Delta catalogue keeps plain
parquet tables as they are, so one cluster serves either ``HOT_SPARK_TABLE_FORMAT``).

The processes share nothing but the network and ``directory`` (the shared disk the landing
files and the warehouse live on), as on separate machines.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenacity import RetryError, retry_if_exception_type, retry_if_result

from hot.local.processes import alive, descendants, spawn, terminate, wait_gone, while_starting
from hot.local.redis_server import free_ports
from hot.warehouse.seam import EngineUnavailable
from hot.warehouse.spark_env import DELTA_JARS, SPARK_KAFKA_JARS, driver_conf

THRIFT_SERVER = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
APP_NAME = "hot-thrift"
STOP_GRACE_SEC = 20.0
LOG4J2 = """\
# Written by EmbeddedSparkCluster: warnings and errors only, to the role's log file.
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""


def spark_home() -> Path:
    """The pyspark wheel's directory: its ``bin/spark-class`` and ``jars/``."""
    try:
        import pyspark
    except ImportError:
        raise EngineUnavailable(
            "a Spark cluster needs pyspark: install the spark extra: pip install -e '.[spark]'"
        ) from None
    return Path(pyspark.__file__).parent


def _fetched(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jar"))


class EmbeddedSparkCluster:
    """A Spark standalone master, ``workers`` workers and the Thrift Server on 127.0.0.1,
    their data under ``directory``.

    Roles: ``spark-master``, ``spark-worker-1``, …, ``spark-thrift``. Each worker offers one
    core and ``worker_memory``; the Thrift Server's driver runs in ``driver_memory`` and asks
    one executor of ``executor_memory`` per worker. ``table_format`` is what :meth:`env`
    gives the job (``HOT_SPARK_TABLE_FORMAT``).
    """

    def __init__(
        self,
        directory: Path,
        workers: int = 2,
        *,
        table_format: str = "parquet",
        daemon_memory: str = "256m",
        worker_memory: str = "1g",
        executor_memory: str = "768m",
        driver_memory: str = "1g",
    ) -> None:
        self.directory = directory.resolve()
        self.workers = workers
        self.table_format = table_format
        self.daemon_memory = daemon_memory
        self.worker_memory = worker_memory
        self.executor_memory = executor_memory
        self.driver_memory = driver_memory
        ports = free_ports(3 + workers)
        self.master_port, self.master_ui_port, self.thrift_port = ports[:3]
        self._worker_ports = {f"spark-worker-{i + 1}": p for i, p in enumerate(ports[3:])}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def roles(self) -> list[str]:
        """Every role, in start order."""
        return ["spark-master", *self._worker_ports, "spark-thrift"]

    @property
    def master_url(self) -> str:
        """The master's ``spark://`` URL."""
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def warehouse_dir(self) -> Path:
        """Where the tables' files are (``spark.sql.warehouse.dir``)."""
        return self.directory / "spark" / "warehouse"

    def worker_port(self, role: str) -> int:
        """The port of the worker ``role`` (how the master's :meth:`status` names it)."""
        return self._worker_ports[role]

    def log_file(self, role: str) -> Path:
        """The role's stdout and stderr."""
        return self.directory / "logs" / f"{role}.log"

    def start(self, timeout: float = 300.0) -> EmbeddedSparkCluster:
        """Start the master, the workers and the Thrift Server; return once the Thrift Server
        answers and its application holds a core on every worker. A cluster already started
        is a ``RuntimeError``: its ports are taken (a second master would bind the next one
        and its workers register with the first)."""
        if self._procs:
            raise RuntimeError(f"the Spark cluster in {self.directory} is already started")
        if self.table_format == "delta" and not _fetched(DELTA_JARS):
            raise EngineUnavailable(
                f"HOT_SPARK_TABLE_FORMAT=delta needs Delta Lake's jars in {DELTA_JARS}: run "
                "`make setup` (it fetches the jars with mvn)"
            )
        (self.directory / "conf").mkdir(parents=True, exist_ok=True)
        (self.directory / "conf" / "log4j2.properties").write_text(LOG4J2)
        self.log_file("spark-master").parent.mkdir(exist_ok=True)
        try:
            self._launch("spark-master", timeout)
            # The workers and the Thrift Server start side by side: each JVM takes seconds.
            for role in self.roles[1:]:
                self._spawn(role)
            for role in self.roles[1:]:
                self._wait(role, self._ready(role), timeout)
            self._wait("spark-thrift", self._app_has_every_worker, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, role: str, timeout: float = 120.0) -> None:
        """Start ``role`` again (a worker that was killed: it registers with the master, and
        the Thrift Server's application gets an executor on it again)."""
        self.kill(role)
        self._launch(role, timeout)
        if role.startswith("spark-worker-"):
            self._wait(role, self._app_has_every_worker, timeout)

    def kill(self, role: str) -> None:
        """SIGKILL ``role`` and what it started (a worker's executor: the machine is lost)."""
        proc = self._procs.pop(role, None)
        if proc is None or proc.poll() is not None:
            return
        tree = {proc.pid, *descendants(proc.pid)}
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
        wait_gone(lambda: alive(tree), timeout=10, poll=0.05)

    def stop(self) -> None:
        """Stop the Thrift Server, the workers (their executors with them), then the master:
        SIGTERM, SIGKILL after a grace period."""
        for role in reversed(self.roles):
            proc = self._procs.pop(role, None)
            if proc is None:
                continue
            tree = {proc.pid, *descendants(proc.pid)}
            terminate(proc, grace=STOP_GRACE_SEC)
            for pid in alive(tree):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def pids(self) -> dict[str, int]:
        """The process id of each running role."""
        return {r: p.pid for r, p in self._procs.items() if p.poll() is None}

    def env(self) -> dict[str, str]:
        """The settings that point the job at this cluster (SPEC §9b)."""
        return {
            "HOT_ENGINE": "spark",
            "HOT_SPARK_HOST": "127.0.0.1",
            "HOT_SPARK_PORT": str(self.thrift_port),
            "HOT_SPARK_TABLE_FORMAT": self.table_format,
        }

    def status(self) -> dict[str, Any]:
        """The master's view of the cluster (its web UI's JSON: workers, applications)."""
        url = f"http://127.0.0.1:{self.master_ui_port}/json/"
        with urllib.request.urlopen(url, timeout=5) as response:
            result: dict[str, Any] = json.load(response)
        return result

    def __enter__(self) -> EmbeddedSparkCluster:
        # `with EmbeddedSparkCluster(...).start(timeout) as cluster` must not start it twice.
        return self if self._procs else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _command(self, role: str) -> list[str]:
        spark_class = str(spark_home() / "bin" / "spark-class")
        if role == "spark-master":
            return [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                *("--host", "127.0.0.1", "--port", str(self.master_port)),
                *("--webui-port", str(self.master_ui_port)),
            ]
        if role in self._worker_ports:
            return [
                spark_class,
                "org.apache.spark.deploy.worker.Worker",
                *("--host", "127.0.0.1", "--port", str(self._worker_ports[role])),
                *("--webui-port", "0", "--cores", "1", "--memory", self.worker_memory),
                *("--work-dir", str(self.directory / role / "work")),
                self.master_url,
            ]
        # On the class path of the driver and of every executor (the shared disk has them at
        # the same path), not in spark.jars: the Thrift Server runs statements in threads of
        # its own, which do not see classes added at run time (NoClassDefFoundError in Delta).
        classpath = ":".join(map(str, _fetched(DELTA_JARS) + _fetched(SPARK_KAFKA_JARS)))
        conf = {
            **driver_conf(
                self.directory / "spark", self.master_url, [], bool(_fetched(DELTA_JARS))
            ),
            "spark.driver.extraClassPath": classpath,
            "spark.executor.extraClassPath": classpath,
            "spark.app.name": APP_NAME,
            "spark.executor.cores": "1",
            "spark.cores.max": str(self.workers),
            "spark.executor.memory": self.executor_memory,
        }
        return [
            spark_class,
            "org.apache.spark.deploy.SparkSubmit",
            *("--class", THRIFT_SERVER, "--driver-memory", self.driver_memory),
            *(a for key, value in conf.items() for a in ("--conf", f"{key}={value}")),
            *("--hiveconf", f"hive.server2.thrift.port={self.thrift_port}"),
            *("--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1"),
            "spark-internal",
        ]

    def _launch(self, role: str, timeout: float) -> None:
        """Start ``role`` and wait until it answers."""
        self._spawn(role)
        self._wait(role, self._ready(role), timeout)

    def _ready(self, role: str) -> Callable[[], bool]:
        """Whether ``role`` answers: the master's JSON, a worker registered and alive there,
        the Thrift Server's port."""
        if role == "spark-master":
            return self._master_answers
        if role == "spark-thrift":
            return self._thrift_answers
        return lambda: self._worker_alive(role)

    def _spawn(self, role: str) -> None:
        """Start ``role`` in a session of its own (a Ctrl-C reaches only the command)."""
        local = self.directory / role / "local"
        local.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "SPARK_HOME": str(spark_home()),
            "SPARK_CONF_DIR": str(self.directory / "conf"),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOCAL_DIRS": str(local),  # shuffle and spill files of this "machine"
            # The heap of a daemon; spark-submit takes it for the Thrift Server's driver too
            # (before --driver-memory), so that one gets the driver's.
            "SPARK_DAEMON_MEMORY": (
                self.driver_memory if role == "spark-thrift" else self.daemon_memory
            ),
        }
        with self.log_file(role).open("ab") as log:
            self._procs[role] = spawn(
                self._command(role),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=str(self.directory / role),
            )

    def _wait(self, role: str, ready: Callable[[], bool], timeout: float) -> None:
        try:
            # A web UI still starting may answer with an empty page (not JSON yet).
            retry = retry_if_result(lambda ok: not ok) | retry_if_exception_type(
                (OSError, ValueError)
            )
            while_starting(self._procs[role], retry, timeout, 0.25)(ready)
        except RetryError:
            log = self.log_file(role)
            detail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{role} did not start: {detail}") from None

    def _master_answers(self) -> bool:
        return bool(self.status())

    def _worker_alive(self, role: str) -> bool:
        port = self.worker_port(role)
        return any(w["state"] == "ALIVE" and w["port"] == port for w in self.status()["workers"])

    def _thrift_answers(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", self.thrift_port)) == 0

    def _app_has_every_worker(self) -> bool:
        apps = [a for a in self.status()["activeapps"] if a["name"] == APP_NAME]
        return bool(apps) and apps[0]["cores"] >= self.workers
