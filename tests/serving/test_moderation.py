"""The moderation service over HTTP, on a snapshot the real pipeline published (SPEC §6)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hot import keys
from hot.local.redis_server import free_port
from serving.domain.moderation.services.audit import append_line
from tests.ui.stack import Stack

DECISIONS = "/api/v1/moderation/decisions"
QUEUE = "/api/v1/moderation/queue"


@pytest.fixture(scope="module")
def mod(live_stack: Stack) -> Iterator[httpx.Client]:
    """A moderator's client (sub ``mod-ann``)."""
    with live_stack.client(live_stack.token("mod-ann", moderator=True)) as client:
        yield client


def _audit_lines(stack: Stack) -> list[dict[str, Any]]:
    path = stack.settings.audit_dir / "decisions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _landing(stack: Stack) -> list[Path]:
    return sorted((stack.settings.landing_dir / "moderation").glob("*-moderation-*.jsonl"))


def _parse(ts: str) -> datetime:
    assert ts.endswith("Z"), ts
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _queue(mod: httpx.Client, **params: Any) -> dict[str, Any]:
    response = mod.get(QUEUE, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()


def _approved_in_feed(stack: Stack, skip: int = 0) -> str:
    """A video of the served feed (approved as of the batch), the ``skip``-th one."""
    return stack.feed()["items"][skip]["videoId"]


def test_only_moderators_get_in(live_stack: Stack) -> None:
    body = {"videoId": "v_00000", "status": "removed", "reason": "spam"}
    calls = [("POST", DECISIONS, body), ("GET", QUEUE, None), ("GET", DECISIONS, None)]
    viewer = live_stack.token("viewer-1")
    expired = live_stack.token("mod-old", moderator=True, ttl=-3600)
    for method, path, payload in calls:
        params = {"videoId": "v_00000"} if method == "GET" else None
        with live_stack.client() as anonymous:
            response = anonymous.request(method, path, json=payload, params=params)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        with live_stack.client(expired) as client:
            response = client.request(method, path, json=payload, params=params)
        assert (response.status_code, response.json()["error"]["code"]) == (401, "token_expired")
        with live_stack.client(viewer) as client:
            response = client.request(method, path, json=payload, params=params)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert live_stack.redis.scard(keys.TAKEDOWNS) == 0
    assert _audit_lines(live_stack) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_body"),
        (b'["v_00000", "removed", "spam"]', "invalid_body"),
        (b'{"videoId": "v_00000", "status": "removed"}', "invalid_body"),
        (b'{"videoId": 7, "status": "removed", "reason": "spam"}', "invalid_body"),
        (b'{"videoId": "", "status": "removed", "reason": "spam"}', "invalid_body"),
        (b'{"videoId": "v_00000", "status": "deleted", "reason": "spam"}', "invalid_status"),
        (b'{"videoId": "v_00000", "status": "REMOVED", "reason": "spam"}', "invalid_status"),
        (b'{"videoId": "v_00000", "status": "removed", "reason": "   "}', "invalid_reason"),
        (b'{"videoId": "v_00000", "status": "removed", "reason": "\\u3000"}', "invalid_reason"),
        (b'{"videoId": "v_nope", "status": "removed", "reason": "spam"}', "unknown_video"),
    ],
)
def test_bad_decisions_are_refused_and_change_nothing(
    live_stack: Stack, mod: httpx.Client, body: bytes, code: str
) -> None:
    before = live_stack.redis.get(keys.TAKEDOWNS_VERSION)
    response = mod.post(DECISIONS, content=body, headers={"Content-Type": "application/json"})
    # A well-formed decision about a video that does not exist is 404, like its audit trail.
    assert response.status_code == (404 if code == "unknown_video" else 400), response.text
    assert response.json()["error"]["code"] == code
    assert live_stack.redis.get(keys.TAKEDOWNS_VERSION) == before
    assert _audit_lines(live_stack) == [] and _landing(live_stack) == []


def test_other_bad_requests(mod: httpx.Client) -> None:
    ok = {"videoId": "v_00000", "status": "approved", "reason": "fine"}
    response = mod.post(DECISIONS, json=ok, headers={"Idempotency-Key": "x" * 201})
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert mod.get(DECISIONS).json()["error"] == {
        "code": "invalid_video_id",
        "message": "videoId is required: 1 to 128 characters",
        "param": "videoId",
    }
    assert mod.get(DECISIONS, params={"videoId": "v_nope"}).status_code == 404
    for params, code in [
        ({"limit": 0}, "invalid_limit"),
        ({"offset": -1}, "invalid_offset"),
        ({"snapshot": "bad id!"}, "invalid_snapshot"),
    ]:
        response = mod.get(QUEUE, params=params)
        assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    response = mod.get(QUEUE, params={"snapshot": "20200101T000000-abcdef"})
    assert (response.status_code, response.json()["error"]["code"]) == (410, "snapshot_expired")


def test_review_queue_is_the_published_queue_by_would_be_score(
    live_stack: Stack, mod: httpx.Client
) -> None:
    queue = _queue(mod)
    snapshot = live_stack.redis.get(keys.CURRENT).decode()
    published = live_stack.redis.zrange(keys.snapshot_queue(snapshot), 0, -1, withscores=True)
    expected = sorted(((m.decode(), s) for m, s in published), key=lambda p: (-p[1], p[0]))
    assert queue["snapshotId"] == snapshot
    assert len(expected) >= 5
    assert [(i["videoId"], i["hotScore"]) for i in queue["items"]] == [
        (v, round(s, 3)) for v, s in expected
    ]
    assert [i["rank"] for i in queue["items"]] == list(range(1, len(expected) + 1))
    statuses = live_stack.redis.hgetall(keys.VIDEO_STATUS)
    for item in queue["items"]:
        assert item["moderationStatus"] in {"undecided", "pending_review"}
        assert statuses[item["videoId"].encode()].decode() == item["moderationStatus"]
        # the base world has no ring (tests/ui/test_web.py plants one)
        assert (item["reason"], item["ring"]) == ("would_trend", None)
        assert item["title"] and item["creator"]["avatarUrl"] and "likes" in item["stats"]
    assert queue["paging"] == {"limit": 100, "offset": 0, "total": len(expected)}
    pages = [_queue(mod, limit=2, offset=o, snapshot=snapshot) for o in range(0, len(expected), 2)]
    assert [i["videoId"] for p in pages for i in p["items"]] == [v for v, _ in expected]


def test_a_retried_post_records_once(live_stack: Stack, mod: httpx.Client) -> None:
    video = _queue(mod)["items"][-1]["videoId"]
    body = {"videoId": video, "status": "pending_review", "reason": "needs a second look"}
    key = {"Idempotency-Key": "retry-me-1"}
    first = mod.post(DECISIONS, json=body, headers=key)
    assert first.status_code == 201, first.text
    again = mod.post(DECISIONS, json=body, headers=key)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert live_stack.redis.llen(keys.audit_log(video)) == 1
    assert [e["id"] for e in _audit_lines(live_stack)].count(first.json()["id"]) == 1
    assert 0 < live_stack.redis.ttl(keys.idempotency("retry-me-1")) <= 24 * 3600
    # The same key for another request is a conflict (even from another moderator).
    other = mod.post(DECISIONS, json={**body, "reason": "changed my mind"}, headers=key)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_conflict")
    with live_stack.client(live_stack.token("mod-bob", moderator=True)) as bob:
        response = bob.post(DECISIONS, json=body, headers=key)
    assert response.status_code == 409
    # Concurrent retries of one request: exactly one decision is recorded.
    concurrent = {"videoId": video, "status": "pending_review", "reason": "burst"}
    statuses: list[int] = []

    def post() -> None:
        with live_stack.client(live_stack.token("mod-ann", moderator=True)) as client:
            statuses.append(
                client.post(
                    DECISIONS, json=concurrent, headers={"Idempotency-Key": "burst-1"}
                ).status_code
            )

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert live_stack.redis.llen(keys.audit_log(video)) == 2
    # pending_review is no takedown: the video stays in the review queue.
    assert video in {i["videoId"] for i in _queue(mod)["items"]}


def test_the_audit_trail_is_complete(live_stack: Stack, mod: httpx.Client) -> None:
    video = _approved_in_feed(live_stack, skip=5)
    started = datetime.now(UTC)
    first = mod.post(
        DECISIONS,
        json={"videoId": video, "status": "restricted", "reason": "  misleading thumbnail "},
    )
    with live_stack.client(live_stack.token("mod-bob", moderator=True)) as bob:
        second = bob.post(
            DECISIONS, json={"videoId": video, "status": "approved", "reason": "thumbnail fixed"}
        )
    assert (first.status_code, second.status_code) == (201, 201)
    trail = mod.get(DECISIONS, params={"videoId": video}).json()
    assert trail["videoId"] == video and trail["currentStatus"] == "approved"
    entries = trail["decisions"]
    assert [(e["decidedBy"], e["previousStatus"], e["status"], e["reason"]) for e in entries] == [
        ("mod-ann", "approved", "restricted", "misleading thumbnail"),
        ("mod-bob", "restricted", "approved", "thumbnail fixed"),
    ]
    assert entries == [first.json(), second.json()]
    times = [_parse(e["decidedAt"]) for e in entries]
    assert started <= times[0] <= times[1] <= datetime.now(UTC)
    logged = [e for e in _audit_lines(live_stack) if e["videoId"] == video]
    assert logged == entries
    # Restricted, then approved again: back in the served feed, no takedown left.
    assert not live_stack.redis.sismember(keys.TAKEDOWNS, video)
    assert video in {i["videoId"] for i in live_stack.feed()["items"]}


def test_takedown_leaves_the_feed_at_once_and_the_scores_at_the_next_batch(
    live_stack: Stack, mod: httpx.Client
) -> None:
    feed = live_stack.feed()
    top = feed["items"][0]["videoId"]
    rising = _queue(mod)["items"][0]["videoId"]
    version = int(live_stack.redis.get(keys.TAKEDOWNS_VERSION) or 0)

    removed = mod.post(DECISIONS, json={"videoId": top, "status": "removed", "reason": "spam"})
    assert removed.status_code == 201, removed.text
    decision = removed.json()
    assert {k: decision[k] for k in ("videoId", "status", "decidedBy", "reason")} == {
        "videoId": top,
        "status": "removed",
        "decidedBy": "mod-ann",
        "reason": "spam",
    }
    assert decision["previousStatus"] == "approved"
    # The very next request no longer serves it, pinned or not.
    assert top not in {i["videoId"] for i in live_stack.feed()["items"]}
    pinned = live_stack.feed(snapshot=feed["snapshotId"])
    assert top not in {i["videoId"] for i in pinned["items"]}
    assert pinned["paging"]["total"] <= feed["paging"]["total"]
    assert live_stack.redis.sismember(keys.TAKEDOWNS, top)
    assert int(live_stack.redis.get(keys.TAKEDOWNS_VERSION)) == version + 1

    approved = mod.post(
        DECISIONS, json={"videoId": rising, "status": "approved", "reason": "original content"}
    )
    assert approved.status_code == 201
    assert rising not in {i["videoId"] for i in _queue(mod)["items"]}

    landed = [json.loads(p.read_text()) for p in _landing(live_stack)]
    assert {
        "video_id": top,
        "status": "removed",
        "decided_at": decision["decidedAt"],
        "reason": "spam",
    } in landed
    assert not list((live_stack.settings.landing_dir / "moderation").glob(".*"))

    live_stack.run_batch()
    ranked = {m.decode() for m in live_stack.redis.zrange(keys.GLOBAL, 0, -1)}
    assert top not in ranked
    assert rising in ranked
    assert live_stack.redis.hget(keys.VIDEO_STATUS, top) == b"removed"
    assert not live_stack.redis.sismember(keys.TAKEDOWNS, top)
    served = {i["videoId"] for i in live_stack.feed()["items"]}
    assert top not in served
    snapshot = live_stack.redis.get(keys.CURRENT).decode()
    assert not live_stack.redis.zscore(keys.snapshot_queue(snapshot), rising)
    # The audit trail carries over the batch.
    trail = mod.get(DECISIONS, params={"videoId": top}).json()
    assert trail["currentStatus"] == "removed" and len(trail["decisions"]) == 1


def test_redis_down_is_503_never_500(live_stack: Stack) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    token = live_stack.token("mod-ann", moderator=True)
    with (
        live_stack.other_server(redis_url=dead) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as client,
    ):
        responses = [
            client.post(
                DECISIONS,
                json={"videoId": "v_00000", "status": "removed", "reason": "spam"},
                headers={"Idempotency-Key": "k1"},
            ),
            client.get(QUEUE),
            client.get(DECISIONS, params={"videoId": "v_00000"}),
        ]
    for response in responses:
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"].isdigit()
        assert response.json()["error"]["code"] == "unavailable"


def test_audit_appends_stay_whole_under_concurrency(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "decisions.jsonl"

    def writer(n: int) -> None:
        for i in range(200):
            append_line(path, json.dumps({"writer": n, "i": i, "pad": "x" * 300}).encode())

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 800
    assert {(e["writer"], e["i"]) for e in lines} == {(n, i) for n in range(4) for i in range(200)}
