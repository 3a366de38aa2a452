"""The `hot` console command, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import redis

from hot import keys
from tests.oracle import assert_published, landing_oracle


def _hot(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hot.cli", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=timeout,
    )


@pytest.mark.parametrize("command", ["demo", "run", "embed", "serve", "simulate", "token"])
def test_every_command_explains_itself(command: str) -> None:
    result = _hot(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: hot " + command in result.stdout.lower()


def test_simulate_then_run_publishes_and_a_dead_redis_fails_clearly(
    hot_env: Path, redis_client: redis.Redis
) -> None:
    sim = _hot("simulate", "--catalogue", "--batches", "2", "--events", "300")
    assert sim.returncode == 0, sim.stderr
    landed = sorted(p.parent.name for p in (hot_env / "landing").rglob("*.jsonl"))
    assert landed == ["creators", "events", "events", "moderation", "videos"]

    ok = _hot("run")
    assert ok.returncode == 0, ok.stderr
    assert "published snapshot" in ok.stdout
    assert redis_client.zcard(keys.GLOBAL) > 0
    # What `hot run` published is SPEC §3 of what it read, at the snapshot's generatedAt.
    assert_published(redis_client, landing_oracle(hot_env / "landing"), top_n=1000)

    dead = dict(os.environ, HOT_REDIS_URL="redis://127.0.0.1:1/0")
    failed = _hot("run", env=dead)
    assert failed.returncode == 1
    assert "hot run: the pipeline failed" in failed.stderr


def test_token_is_signed_with_the_configured_key(hot_env: Path) -> None:
    result = _hot("token", "--sub", "u_42", "--role", "moderator", "--ttl", "120")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(
        result.stdout.strip(),
        os.environ["HOT_JWT_SECRET"],
        algorithms=["HS256"],
        options={"verify_aud": False},
    )
    assert claims["sub"] == "u_42"
    assert "moderator" in claims["roles"]
    assert 0 < claims["exp"] - claims["iat"] <= 120
