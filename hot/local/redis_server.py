"""An embedded ``redis-server``: started on loopback under a data dir, stopped on exit.

Used by `hot demo`/`hot run`/`hot serve` when ``HOT_REDIS_URL`` is unset, and by the
test fixtures (each test session starts its own on a free port).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

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

CLUSTER_NODE_TIMEOUT_MS = 5000
"""How long a cluster node may not answer before the others count it failed and promote its
replica (15 s by default; short enough for a local failover, long enough for a loaded
machine's pauses)."""
ROLE = "redis"
"""Roles of a cluster's nodes: ``redis-1``, … masters first, then their replicas."""


class RedisNotInstalledError(RuntimeError):
    """``redis-server`` is not on PATH (the setup script installs it)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that are free right now."""
    with contextlib.ExitStack() as held:  # all bound at once: no port handed out twice
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


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
        # An explicit bus port, kept across restarts: the default (port + 10000) may be taken
        # or above 65535.
        self.cluster_port = free_port() if cluster else None
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
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-port", str(self.cluster_port)]
            args += ["--cluster-node-timeout", str(CLUSTER_NODE_TIMEOUT_MS)]
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
    """A Redis Cluster of ``masters`` embedded nodes on loopback, each with ``replicas``
    replicas (none by default), persisted or not.

    For `hot cluster` (three masters, a replica each, persisted) and the tests and benchmarks
    of ``HOT_REDIS_CLUSTER=1``: the slots are spread over the nodes, and the replicas
    attached, by ``redis-cli --cluster create``, as an operator would.
    """

    def __init__(
        self, directory: Path, masters: int = 3, replicas: int = 0, persist: bool = False
    ) -> None:
        self.masters = masters
        self.replicas = replicas
        self.nodes = [
            EmbeddedRedis(directory / f"node{i}", persist=persist, cluster=True)
            for i in range(masters * (1 + replicas))
        ]
        self.roles: dict[str, EmbeddedRedis] = {}
        """The nodes by role, as :meth:`start` found them: ``redis-1``, … the masters (in the
        order of their slots), then the replicas (in the order of their masters). A failover
        swaps what a node is, not its role."""

    @property
    def url(self) -> str:
        """The URL of one node, a master at start (a cluster client discovers the others)."""
        return next(iter(self.roles.values()), self.nodes[0]).url

    def start(self, timeout: float = 30.0) -> EmbeddedRedisCluster:
        """Start the nodes, assign the slots, attach the replicas, and wait until every node
        says ``cluster_state:ok`` and every replica is in sync. The cluster is new at each
        start: what a previous one left in the directories is removed (its ``nodes.conf``
        would name peers on ports that are gone)."""
        try:
            for node in self.nodes:
                shutil.rmtree(node.directory, ignore_errors=True)
                node.start()
            create = subprocess.run(
                [
                    shutil.which("redis-cli") or "redis-cli",
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{node.port}" for node in self.nodes),
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
            if create.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout[-2000:]!r}")
            self._wait_ok(timeout)
            self.roles = self._find_roles(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _find_roles(self, timeout: float) -> dict[str, EmbeddedRedis]:
        """Name the nodes by role once every replica has a master it is in sync with."""
        by_port = {node.port: node for node in self.nodes}

        def replication() -> dict[int, dict[str, Any]] | None:
            infos = {}
            for node in self.nodes:
                with redis.Redis.from_url(node.url, socket_timeout=0.5) as client:
                    infos[node.port] = client.info("replication")
            settled = sum(info["role"] == "master" for info in infos.values()) == self.masters
            synced = all(
                info.get("master_link_status") == "up"
                for info in infos.values()
                if info["role"] == "slave"
            )
            return infos if settled and synced else None

        try:
            infos = Retrying(
                retry=retry_if_result(lambda found: found is None),
                stop=stop_after_delay(timeout),
                wait=wait_fixed(0.1),
            )(replication)
        except RetryError:
            raise RuntimeError("the Redis Cluster's replicas did not sync") from None
        masters = [port for port, info in infos.items() if info["role"] == "master"]
        replicas = sorted(
            (port for port in infos if port not in masters),
            key=lambda port: masters.index(int(infos[port]["master_port"])),
        )
        return {f"{ROLE}-{i}": by_port[port] for i, port in enumerate(masters + replicas, 1)}

    def pids(self) -> dict[str, int]:
        """The process id of each node this object runs, by role."""
        return {role: node.pid for role, node in self.roles.items() if node.pid is not None}

    def env(self) -> dict[str, str]:
        """The settings that point the pipeline, the API and moderation at this cluster."""
        return {"HOT_REDIS_URL": self.url, "HOT_REDIS_CLUSTER": "1"}

    def restart(self, role: str, timeout: float = 30.0) -> None:
        """Start the node ``role`` again after a stop or kill and wait for the cluster.

        It rejoins with what its ``nodes.conf`` records: a master whose replica was promoted
        meanwhile comes back as that replica's replica; without persistence, with no data.
        """
        node = self.roles[role]
        node.stop()  # reaps a killed one
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
