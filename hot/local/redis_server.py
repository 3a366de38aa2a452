"""An embedded ``redis-server``: started on loopback under a data dir, stopped on exit.

Used by `hot demo`/`hot run`/`hot serve` when ``HOT_REDIS_URL`` is unset, and by the
test fixtures (each test session starts its own on a free port).
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
from pathlib import Path

import redis
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from hot.local.processes import terminate, while_starting


class RedisNotInstalledError(RuntimeError):
    """``redis-server`` is not on PATH (the setup script installs it)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A ``redis-server`` child process bound to 127.0.0.1."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        persist: bool = True,
        cluster: bool = False,
    ) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.persist = persist
        self.cluster = cluster
        """Start as a Redis Cluster node (no slots until :class:`EmbeddedRedisCluster` joins it)."""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while this object runs it."""
        return self._proc.pid if self._proc is not None else None

    @property
    def url(self) -> str:
        """Connection URL of the server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisNotInstalledError(
                "redis-server is not installed; run `make setup` (or apt-get install redis-server)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.directory),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        if self.persist:
            args += ["--appendonly", "yes", "--save", "60 1"]
        else:
            args += ["--appendonly", "no", "--save", ""]
        if self.cluster:
            # An explicit bus port: the default (port + 10000) may be taken or above 65535.
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-port", str(free_port())]
        # In a session of its own: a Ctrl-C at the terminal must not stop Redis under the
        # command still writing to it; the command stops it, last.
        self._proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        atexit.register(self.stop)
        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        try:
            while_starting(self._proc, retry_if_exception_type(redis.RedisError), timeout, 0.05)(
                client.ping
            )
        except RetryError:
            log = self.directory / "redis.log"
            detail = log.read_text()[-2000:] if log.exists() else ""
            self.stop()
            raise RuntimeError(
                f"redis-server did not start on port {self.port}: {detail}"
            ) from None
        finally:
            client.close()
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period)."""
        proc, self._proc = self._proc, None
        terminate(proc, grace=10)

    def kill(self) -> None:
        """Kill the server abruptly (failure tests)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_local_redis(directory: Path) -> tuple[str, EmbeddedRedis | None]:
    """The URL of the data dir's embedded Redis, starting it unless one already runs there.

    Returns the server object when this process started it (and so must stop it), else
    ``None`` (another `hot` process owns it). The port is kept in ``directory/port``.
    """
    port_file = directory / "port"
    if port_file.is_file():
        url = f"redis://127.0.0.1:{port_file.read_text().strip()}/0"
        try:
            if redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5).ping():
                return url, None
        except (redis.RedisError, ValueError):
            pass
    server = EmbeddedRedis(directory).start()
    port_file.write_text(str(server.port))
    return server.url, server


class EmbeddedRedisCluster:
    """A Redis Cluster of ``masters`` embedded nodes on loopback, no replicas, no persistence.

    For tests and benchmarks of ``HOT_REDIS_CLUSTER=1``: the slots are spread over the
    nodes by ``redis-cli --cluster create``, as an operator would.
    """

    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.nodes = [
            EmbeddedRedis(directory / f"node{i}", persist=False, cluster=True)
            for i in range(masters)
        ]

    @property
    def url(self) -> str:
        """The URL of one node (a cluster client discovers the others from it)."""
        return self.nodes[0].url

    def start(self, timeout: float = 30.0) -> EmbeddedRedisCluster:
        """Start the nodes, assign the slots and wait until every node says ``cluster_state:ok``."""
        try:
            for node in self.nodes:
                node.start()
            create = subprocess.run(
                [
                    shutil.which("redis-cli") or "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{node.port}" for node in self.nodes),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
            if create.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout[-2000:]!r}")
            self._wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def restart(self, node: EmbeddedRedis, timeout: float = 30.0) -> None:
        """Start ``node`` again after a stop or kill (failure tests) and wait for the cluster.

        It rejoins with the slots its ``nodes.conf`` records, and no data.
        """
        node.start()
        self._wait_ok(timeout)

    def _wait_ok(self, timeout: float) -> None:
        clients = [redis.Redis.from_url(n.url, socket_timeout=0.5) for n in self.nodes]
        try:
            # Every node must agree, or a client may be sent to one that still refuses.
            Retrying(
                retry=retry_if_result(lambda ok: not ok),
                stop=stop_after_delay(timeout),
                wait=wait_fixed(0.1),
            )(lambda: all(c.cluster("info").get("cluster_state") == "ok" for c in clients))
        except RetryError:
            raise RuntimeError("the Redis Cluster did not reach cluster_state:ok") from None
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedRedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
