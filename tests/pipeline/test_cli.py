"""The `hot` console command, run as a real process, and what `hot run` does when nothing
is new."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest
import redis

from dagster_project.instance import ensure_dagster_home
from dagster_project.runner import PassResult, run_pipeline
from hot import keys
from hot.landing import format_ts, write_atomic
from hot.local.simulate import Simulator, build_world
from hot.warehouse import connect
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
    assert "leaked" not in ok.stderr  # DuckDB's binding at interpreter teardown (__main__)
    assert redis_client.zcard(keys.GLOBAL) > 0
    # What `hot run` published is SPEC §3 of what it read, at the snapshot's generatedAt.
    assert_published(redis_client, landing_oracle(hot_env / "landing"), top_n=1000)

    dead = dict(os.environ, HOT_REDIS_URL="redis://127.0.0.1:1/0")
    failed = _hot("run", env=dead)
    assert failed.returncode == 1
    assert "hot run: the pipeline failed" in failed.stderr
    assert "leaked" not in failed.stderr


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


def test_run_with_nothing_new_runs_nothing_and_a_takedown_is_picked_up(
    hot_env: Path, redis_client: redis.Redis
) -> None:
    landing = hot_env / "landing"
    sim = Simulator(landing, build_world(n_creators=12, videos_per_creator=5, n_users=300))
    sim.write_catalogue()
    sim.write_events(800)
    first = _hot("run")
    assert first.returncode == 0, first.stderr
    assert "published snapshot" in first.stdout
    published = redis_client.get(keys.CURRENT).decode()
    retained = redis_client.lrange(keys.SNAPSHOTS, 0, -1)

    idle = _hot("run")
    assert idle.returncode == 0, idle.stderr
    assert f"nothing new: snapshot {published} is current" in idle.stdout
    assert redis_client.get(keys.CURRENT).decode() == published
    assert redis_client.lrange(keys.SNAPSHOTS, 0, -1) == retained

    # A takedown is a new moderation file: the next run ingests it and publishes without it.
    top = redis_client.zrevrange(keys.GLOBAL, 0, 0)[0].decode()
    decided = format_ts(datetime.now(UTC))
    decision = {"video_id": top, "status": "removed", "reason": "test", "decided_at": decided}
    write_atomic(landing / "moderation", "zz-takedown.jsonl", [json.dumps(decision).encode()])
    taken = _hot("run")
    assert taken.returncode == 0, taken.stderr
    assert "published snapshot" in taken.stdout
    assert redis_client.get(keys.CURRENT).decode() != published
    assert redis_client.zscore(keys.GLOBAL, top) is None
    assert_published(redis_client, landing_oracle(landing), top_n=1000)

    again = _hot("run")
    assert again.returncode == 0, again.stderr
    assert "nothing new" in again.stdout


def test_a_pass_with_nothing_new_skips_scoring_unless_its_instant_is_pinned_and_views_stay(
    hot_env: Path, redis_client: redis.Redis
) -> None:
    """The run a sensor or a push launches for files another pass already took: a Dagster run
    whose ingest finds the current snapshot built from the same input, and stops there. A pass
    that scores creates the views again only when they changed."""
    sim = Simulator(
        hot_env / "landing", build_world(n_creators=12, videos_per_creator=5, n_users=300)
    )
    sim.write_catalogue()
    sim.write_events(800)
    ensure_dagster_home()
    now = time.time()
    first = run_pipeline(now_epoch=now, quiet=True)
    assert first.success, first.error
    assert not first.current

    idle = run_pipeline(quiet=True)
    assert idle.success, idle.error
    assert idle.current and idle.snapshot_id == first.snapshot_id
    assert idle.items == first.items
    assert [s.step for s in idle.steps] == ["landing_files"]  # dbt build and publish skipped
    assert redis_client.get(keys.CURRENT).decode() == first.snapshot_id

    # A pinned instant asks for the scores at it: scored and published though nothing is new.
    pinned = run_pipeline(now_epoch=now + 3600, quiet=True)
    assert pinned.success, pinned.error
    assert not pinned.current and pinned.snapshot_id != first.snapshot_id
    snapshot = assert_published(redis_client, landing_oracle(hot_env / "landing"), top_n=1000)
    assert abs(snapshot.generated_at - (now + 3600)) <= 1e-6
    # Imported once the test's settings are in place: they load dbt's project.
    from dagster_project.assets.dbt import VIEW_KEYS
    from dagster_project.project import model_relation

    # The views the first pass created are unchanged: that pass built the tables only.
    views = {key.to_user_string() for key in VIEW_KEYS}
    assert not views & set(_built(pinned))
    assert "marts/fct_hot_feed" in _built(pinned)

    # A view dropped (or altered) behind the pipeline's back is created again.
    con = connect(hot_env / "warehouse.duckdb")
    con.execute(f"drop view {model_relation('int_scored_videos')}")
    con.close()
    sim.write_events(200)
    rebuilt = run_pipeline(now_epoch=now + 7200, quiet=True)
    assert rebuilt.success, rebuilt.error
    assert views <= set(_built(rebuilt))
    assert_published(redis_client, landing_oracle(hot_env / "landing"), top_n=1000)


def _built(result: PassResult) -> dict[str, object]:
    """The dbt models (asset keys) a pass materialized."""
    return next(s.assets for s in result.steps if s.step == "hot_dbt_assets")
