"""Schemathesis against the app's own OpenAPI document: ``st run --checks all``, as a viewer
and as a moderator, against a real server with a published snapshot and catalogue.

``--checks all`` is every built-in check: no 5xx; status codes, content types, headers and
bodies as documented; schema-valid requests accepted and invalid ones refused (with the
statuses ``schemathesis.toml`` allows, operation by operation); auth not ignored; 405 with
``Allow`` for undocumented methods; ``OPTIONS`` listing every method of a path. It runs the
coverage, fuzzing and stateful phases. The real command line is used (the README tells users
to run the same): schemathesis' lazy pytest fixtures do not work with this pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis

from hot import keys
from hot.local.redis_server import EmbeddedRedis
from hot.snapshot import Snapshot, new_snapshot_id, publish_snapshot
from tests.serving.api_support import FLAG_ON, random_items, token
from tests.serving.conftest import ApiServer

ROOT = Path(__file__).resolve().parents[2]
ST = Path(sys.executable).with_name("st")
MAX_EXAMPLES = 30
"""Fuzzing examples per operation: each role's run stays well under a minute on 2 cores."""
ROLES = {"viewer": [], "moderator": ["moderator"]}
CONTRACT_DB = 7
"""A Redis database of its own: the decisions recorded here touch no other test's data."""
KNOWN_VIDEO = "0"
"""In the catalogue: the first id the generator tries, so decisions are recorded (201) and
audit trails found (200), not only refused as unknown (404)."""


@pytest.fixture(scope="module")
def contract_redis(redis_server: EmbeddedRedis) -> redis.Redis:
    """The test's Redis database, holding a published snapshot, review queue and catalogue."""
    client = redis.Redis.from_url(f"redis://127.0.0.1:{redis_server.port}/{CONTRACT_DB}")
    client.flushdb()
    items = random_items(50, 10, seed=61)
    queue = random_items(12, 4, seed=62)
    status = {i.video_id: "approved" for i in items}
    status.update({q.video_id: "pending_review" for q in queue})
    status[KNOWN_VIDEO] = "pending_review"
    now = datetime.now(UTC)
    publish_snapshot(
        client,
        Snapshot(
            snapshot_id=new_snapshot_id(now),
            generated_at=now,
            items=items,
            queue=queue,
            video_status=status,
        ),
    )
    return client


@pytest.fixture(scope="module")
def contract_api(
    api_factory: Callable[..., ApiServer], redis_server: EmbeddedRedis, contract_redis: redis.Redis
) -> ApiServer:
    """An API over the test's Redis database."""
    return api_factory(f"redis://127.0.0.1:{redis_server.port}/{CONTRACT_DB}")


def run_schemathesis(api: ApiServer, role: str, report: Path) -> tuple[int, str, dict]:
    """``st run --checks all`` as ``role``: exit status, output and the JSON report."""
    bearer = token(sub=f"st-{role}", roles=ROLES[role], ttl=3600)
    command = [
        str(ST),
        "--no-color",
        "--config-file",
        str(ROOT / "schemathesis.toml"),
        "run",
        f"{api.url}/schema/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-database",
        "none",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        "-H",
        f"Authorization: Bearer {bearer}",
        *[arg for name, value in FLAG_ON.items() for arg in ("-H", f"{name}: {value}")],
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr, json.loads(report.read_text())


@pytest.mark.parametrize("role", sorted(ROLES))
def test_api_conforms_to_its_schema(
    contract_api: ApiServer, contract_redis: redis.Redis, role: str, tmp_path: Path
) -> None:
    document = httpx.get(f"{contract_api.url}/schema/openapi.json").json()
    operations = sum(
        method in {"get", "post", "put", "patch", "delete"}
        for item in document["paths"].values()
        for method in item
    )
    status, output, report = run_schemathesis(contract_api, role, tmp_path / "report.json")
    assert (status, report["failures"], report["errors"]) == (0, [], []), output[-8000:]
    assert report["complete"] and report["stop_reason"] == "completed", output[-3000:]
    assert report["operations"]["tested"] == report["operations"]["total"] == operations
    ran = {name: phase["status"] for name, phase in report["phases"].items()}
    assert ran["coverage"] == ran["fuzzing"] == ran["stateful"] == "success", ran
    if role == "moderator":
        recorded = contract_redis.llen(keys.audit_log(KNOWN_VIDEO))
        assert recorded > 0, "no decision was recorded: the 201 answer went untested"


def test_allow_lists_every_method_of_a_path_in_order(contract_api: ApiServer) -> None:
    """OPTIONS (no token needed) and a 405 name the same methods: the documented ones and
    OPTIONS, sorted, whatever order the handlers were registered in."""
    document = httpx.get(f"{contract_api.url}/schema/openapi.json").json()
    with contract_api.client() as client:
        for path, item in document["paths"].items():
            expected = ", ".join(sorted({m.upper() for m in item} | {"OPTIONS"}))
            options = client.options(path)
            refused = client.request("PATCH", path)
            assert (options.status_code, options.headers["allow"]) == (204, expected), path
            assert (refused.status_code, refused.headers["allow"]) == (405, expected), path
            assert refused.json()["error"]["code"] == "method_not_allowed"
