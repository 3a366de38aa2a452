"""``HOT_REDIS_CLUSTER=1`` on a real three-master Redis Cluster (SPEC §9, §4).

One module-wide stack: the real pipeline (Dagster, dbt, publish) and the embeddings job
write through the cluster client, then a real API process (``serve()`` with
``HOT_REDIS_CLUSTER=1``) serves every page of the feed, the personal order, the review
queue, a takedown and its audit trail from the cluster; a second pass applies the takedown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import lancedb
import pytest
from redis.cluster import RedisCluster

from dagster_project.instance import ensure_dagster_home
from dagster_project.runner import run_embed, run_pipeline
from hot import embedding_store, keys, redis_client
from hot.local.redis_server import EmbeddedRedisCluster
from hot.local.simulate import Simulator, build_world
from hot.settings import Settings, get_settings
from hot.snapshot import Snapshot, SnapshotItem, new_snapshot_id, publish_snapshot
from tests.oracle import Published, assert_published, landing_oracle, published
from tests.serving.api_support import FLAG_ON, SECRET, bearer, expected_feed, token, walk_pages
from tests.serving.conftest import ApiServer

CAP = 2


@dataclass
class ClusterStack:
    """The pipeline's data dir, a cluster client, the API process and the test settings."""

    data_dir: Path
    settings: Settings
    client: RedisCluster
    api: ApiServer
    now: float

    def http(self, roles: tuple[str, ...] = (), sub: str = "reader") -> httpx.Client:
        """An HTTP client of the API with the flag on and a token for ``sub``."""
        headers = {**FLAG_ON, **bearer(token(sub=sub, roles=list(roles)))}
        return self.api.client(headers=headers)

    def run_batch(self, now: float) -> str:
        """One real pipeline pass through the cluster; the id of the snapshot it published."""
        result = run_pipeline(now_epoch=now)
        assert result.success, result.error
        assert result.snapshot_id
        return result.snapshot_id


@pytest.fixture(scope="module")
def stack(
    redis_cluster: EmbeddedRedisCluster,
    api_factory: Callable[..., ApiServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ClusterStack]:
    """A pipeline pass and an embeddings run on the cluster, and an API serving it."""
    data_dir = tmp_path_factory.mktemp("cluster") / "hot"
    env = {
        "HOT_DATA_DIR": str(data_dir),
        "HOT_REDIS_URL": redis_cluster.url,
        "HOT_REDIS_CLUSTER": "1",
        "HOT_JWT_SECRET": SECRET,
        "HOT_CREATOR_CAP": str(CAP),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        settings = get_settings()
        client = redis_client.connect(settings)
        assert isinstance(client, RedisCluster)
        client.flushall()  # every primary: a session-wide cluster starts each module empty
        sim = Simulator(settings.landing_dir, build_world(16, 4, 200))
        sim.write_catalogue()
        sim.write_events(1500)
        sim.write_events(1500)
        ensure_dagster_home()
        now = time.time()
        stack = ClusterStack(data_dir, settings, client, None, now)  # type: ignore[arg-type]
        stack.run_batch(now)
        embed = run_embed()
        assert embed.success, embed.error
        # The API shares the data dir: it reads LanceDB there and writes decisions into
        # the landing zone the next pass ingests.
        stack.api = api_factory(redis_cluster.url, **env)
        try:
            yield stack
        finally:
            client.close()
            get_settings.cache_clear()


def test_the_cluster_spreads_slots_and_the_hot_state_shares_one(stack: ClusterStack) -> None:
    """Three masters own slots, yet every key but the idempotency keys is in one slot."""
    client = stack.client
    primaries = client.get_primaries()
    assert len(primaries) == 3
    owners = {tuple(owner["primary"]) for owner in client.cluster_slots().values()}
    assert owners == {(n.host, n.port) for n in primaries}
    global_slot = client.cluster_keyslot(keys.GLOBAL)  # the server's own hash, not ours
    names = [k.decode() for k in client.scan_iter(count=1000)]  # every primary
    assert keys.GLOBAL in names and keys.CURRENT in names and keys.EMBEDDINGS_VERSION in names
    assert len(names) >= 8
    for name in names:
        if not name.startswith("hot:idem:"):
            assert client.cluster_keyslot(name) == global_slot, name
    assert client.cluster_keyslot(keys.audit_log("v_{x}")) == global_slot  # a tag in an id


def test_the_pipeline_published_the_specified_snapshot(stack: ClusterStack) -> None:
    snapshot = assert_published(stack.client, landing_oracle(stack.settings.landing_dir), 1000)
    assert len(snapshot.feed) > 20 and snapshot.queue


def _items(pub: Published) -> list[SnapshotItem]:
    """The items of a published snapshot (``hot:global`` scores, payloads)."""
    return [SnapshotItem(vid, score, pub.items[vid]) for vid, score in pub.feed.items()]


def test_every_page_of_the_feed_comes_from_the_cluster(stack: ClusterStack) -> None:
    pub = published(stack.client)
    with stack.http() as http:
        served, totals = walk_pages(http, 7, {})
        assert http.get("/readyz").status_code == 200
        metrics = http.get("/metrics")
    assert [i["videoId"] for i in served] == expected_feed(_items(pub), CAP)
    assert totals == {len(served)} and len(served) > 7
    for entry in served:
        assert entry["hotScore"] == round(pub.feed[entry["videoId"]], 3)
    assert metrics.status_code == 200 and "hot_" in metrics.text


def test_the_personal_order_reads_the_pointer_flipped_on_the_cluster(stack: ClusterStack) -> None:
    version = embedding_store.current_version(stack.client)
    assert version is not None
    users = lancedb.connect(str(stack.settings.lancedb_dir)).open_table(
        embedding_store.users_table(version)
    )
    user = users.to_arrow()["id"][0].as_py()
    with stack.http(sub=user) as http:
        personal = http.get("/api/v1/hot", params={"type": "personal", "limit": 100}).json()
        global_ = http.get("/api/v1/hot", params={"type": "global", "limit": 100}).json()
    assert personal["personalized"] is True
    assert sorted(i["videoId"] for i in personal["items"]) == sorted(
        i["videoId"] for i in global_["items"]
    )


def test_the_review_queue_pages_from_the_cluster(stack: ClusterStack) -> None:
    pub = published(stack.client)
    with stack.http(roles=("moderator",)) as http:
        seen: list[str] = []
        offset = 0
        while True:
            response = http.get("/api/v1/moderation/queue", params={"limit": 5, "offset": offset})
            assert response.status_code == 200, response.text
            body = response.json()
            seen += [item["videoId"] for item in body["items"]]
            offset += 5
            if offset >= body["paging"]["total"]:
                break
    expected = sorted(pub.queue, key=lambda vid: (-pub.queue[vid], vid))
    assert seen == expected


def test_a_takedown_leaves_the_next_page_and_the_next_batch(stack: ClusterStack) -> None:
    with stack.http() as viewer, stack.http(roles=("moderator",), sub="mod-1") as moderator:
        before = viewer.get("/api/v1/hot", params={"limit": 100}).json()
        target = before["items"][0]["videoId"]
        decision = {"videoId": target, "status": "removed", "reason": "cluster takedown"}
        headers = {"Idempotency-Key": "cluster-takedown-1"}
        first = moderator.post("/api/v1/moderation/decisions", json=decision, headers=headers)
        assert first.status_code == 201, first.text
        replay = moderator.post("/api/v1/moderation/decisions", json=decision, headers=headers)
        assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json()["id"] == first.json()["id"]

        after = viewer.get("/api/v1/hot", params={"limit": 100}).json()
        assert after["snapshotId"] == before["snapshotId"]
        # The next page is the capped order without it (another video of its creator may
        # take its place under the cap).
        served = [i["videoId"] for i in after["items"]]
        assert served == expected_feed(_items(published(stack.client)), CAP, frozenset({target}))
        assert target not in served

        trail = moderator.get("/api/v1/moderation/decisions", params={"videoId": target})
        assert trail.status_code == 200, trail.text
        body = trail.json()
        assert body["currentStatus"] == "removed"
        assert [(d["id"], d["decidedBy"], d["status"]) for d in body["decisions"]] == [
            (first.json()["id"], "mod-1", "removed")
        ]
    assert stack.client.sismember(keys.TAKEDOWNS, target)

    # The next pass ingests the decision from the landing zone: the video leaves the
    # scores, and the serve-time takedown it now reflects is dropped from the set.
    sid = stack.run_batch(time.time())
    assert target not in published(stack.client).feed
    assert not stack.client.sismember(keys.TAKEDOWNS, target)
    with stack.http() as viewer:
        fresh = viewer.get("/api/v1/hot", params={"limit": 100}).json()
    assert fresh["snapshotId"] == sid
    assert target not in [i["videoId"] for i in fresh["items"]]


def test_a_master_down_is_not_an_outage(
    stack: ClusterStack, redis_cluster: EmbeddedRedisCluster
) -> None:
    """The master holding the hot slot killed: the feed is served stale from memory, the
    moderation service answers 503 ``unavailable``, and nothing raises (SPEC §5)."""
    owner = stack.client.get_node_from_key(keys.GLOBAL)
    role, node = next((r, n) for r, n in redis_cluster.roles.items() if n.port == owner.port)
    with stack.http() as viewer, stack.http(roles=("moderator",)) as moderator:
        held = viewer.get("/api/v1/hot", params={"limit": 100}).json()
        node.kill()
        try:
            feed = viewer.get("/api/v1/hot", params={"limit": 100})
            answers = [
                moderator.get("/api/v1/moderation/queue"),
                moderator.get("/api/v1/moderation/decisions", params={"videoId": "v_any"}),
                moderator.post(
                    "/api/v1/moderation/decisions",
                    json={"videoId": "v_any", "status": "removed", "reason": "down"},
                ),
            ]
        finally:
            redis_cluster.restart(role)
    assert feed.status_code == 200 and "X-Hot-Stale-Age" in feed.headers
    assert feed.json()["items"] == held["items"]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "unavailable"
        assert "Retry-After" in answer.headers
    assert '"level":"error"' not in stack.api.log.read_text()  # no unhandled exception


def test_publish_snapshot_swaps_and_expires_on_the_cluster(stack: ClusterStack) -> None:
    """Direct publishes through the cluster client: the swap, then retention's expiry."""
    client = stack.client
    start = datetime.now(UTC)
    ids = []
    for n in range(4):
        at = start + timedelta(seconds=n)
        items = [SnapshotItem(f"v_{n}_{i}", float(i), {"n": n}) for i in range(3)]
        snapshot = Snapshot(new_snapshot_id(at), at, items)
        expired = publish_snapshot(client, snapshot, retain=2)
        ids.append(snapshot.snapshot_id)
        assert client.get(keys.CURRENT) == snapshot.snapshot_id.encode()
        assert client.zrange(keys.GLOBAL, 0, -1) == [i.video_id.encode() for i in items]
        if n >= 2:
            assert ids[n - 2] in expired
    assert [s.decode() for s in client.lrange(keys.SNAPSHOTS, 0, -1)] == ids[:1:-1]
    for old in ids[:2]:
        assert not any(client.exists(k) for k in keys.snapshot_keys(old))
    with stack.http() as viewer:
        response = viewer.get("/api/v1/hot", params={"snapshot": ids[0]})
    assert response.status_code == 410, response.text


def test_a_cluster_without_a_url_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded Redis started when ``HOT_REDIS_URL`` is unset is no cluster."""
    monkeypatch.setenv("HOT_REDIS_CLUSTER", "1")
    monkeypatch.delenv("HOT_REDIS_URL", raising=False)
    monkeypatch.setenv("HOT_JWT_SECRET", SECRET)
    with pytest.raises(ValueError, match="HOT_REDIS_CLUSTER=1 needs HOT_REDIS_URL"):
        Settings.from_env()
