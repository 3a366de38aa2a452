"""Fixtures of the API tests: real uvicorn servers (``serving.server.serve``) on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tenacity import (
    RetryError,
    retry_if_exception_type,
    retry_if_result,
)

from hot.local.processes import while_starting
from hot.local.redis_server import EmbeddedRedis, EmbeddedRedisCluster, free_port
from tests.serving.api_support import SECRET

AUDIENCE = "hot-api"
ISSUER = "https://issuer.example"


@dataclass
class ApiServer:
    """A running API process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, **kwargs: object) -> httpx.Client:
        """An HTTP client of this server."""
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_api(directory: Path, redis_url: str, **env: str) -> ApiServer:
    """Start ``serve()`` in a child process with ``HOT_*`` settings; wait for /healthz."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "api.log"
    child_env = {
        **os.environ,
        "HOT_DATA_DIR": str(directory / "data"),
        "HOT_REDIS_URL": redis_url,
        "HOT_JWT_SECRET": SECRET,
        "HOT_SNAPSHOTS_RETAINED": "3",
        **env,
    }
    child_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    code = f"from serving.server import serve; serve('127.0.0.1', {port}, 1)"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", code], env=child_env, stdout=sink, stderr=subprocess.STDOUT
        )
    server = ApiServer(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        while_starting(
            process,
            retry_if_exception_type(httpx.HTTPError) | retry_if_result(lambda ok: not ok),
            30,
            0.1,
        )(lambda: httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200)
    except RetryError:
        server.stop()
        raise RuntimeError(f"the API did not start:\n{log.read_text()[-3000:]}") from None
    return server


@pytest.fixture(scope="session")
def api_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ApiServer]]:
    """Start extra API servers (stopped at the end of the session)."""
    servers: list[ApiServer] = []

    def factory(redis_url: str, **env: str) -> ApiServer:
        server = start_api(tmp_path_factory.mktemp("api"), redis_url, **env)
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def api(api_factory: Callable[..., ApiServer], redis_server: EmbeddedRedis) -> ApiServer:
    """The main API: HS256 secret, flag off by default, creator cap 2, 3 snapshots retained."""
    return api_factory(redis_server.url)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """An RSA key pair generated for this session."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def public_pem(rsa_key: rsa.RSAPrivateKey) -> bytes:
    """The session RSA public key, PEM."""
    return rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="session")
def rsa_api(
    api_factory: Callable[..., ApiServer],
    redis_server: EmbeddedRedis,
    public_pem: bytes,
    tmp_path_factory: pytest.TempPathFactory,
) -> ApiServer:
    """An API verifying RS256 (public key file) and HS256 (secret), with audience and issuer
    required, and the feature flag on by default."""
    key_file = tmp_path_factory.mktemp("keys") / "public.pem"
    key_file.write_bytes(public_pem)
    return api_factory(
        redis_server.url,
        HOT_JWT_PUBLIC_KEY=str(key_file),
        HOT_JWT_ALGORITHMS="RS256,HS256",
        HOT_JWT_AUDIENCE=AUDIENCE,
        HOT_JWT_ISSUER=ISSUER,
        HOT_FEATURE_FLAG_DEFAULT="1",
    )


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedisCluster]:
    """A real three-master Redis Cluster on loopback (free ports, no persistence).

    ``redis-server --cluster-enabled yes`` three times, ``redis-cli --cluster create`` over
    them, and every node at ``cluster_state:ok``; stopped at the end of the session.
    """
    cluster = EmbeddedRedisCluster(tmp_path_factory.mktemp("redis-cluster"), masters=3).start()
    yield cluster
    cluster.stop()
