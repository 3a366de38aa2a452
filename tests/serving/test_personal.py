"""``type=personal`` over HTTP: a real pipeline snapshot, real LanceDB embeddings, real Redis.

One module-scoped stack: a copy of the session's real pipeline pass (``published_base``:
hot.local.simulate → Dagster/dbt → Redis), a run of the real embeddings asset (``run_embed``,
what ``hot embed`` runs) and an ALS model of the same code served directly (the asset's check
may keep the global order on a world this small), and the app under uvicorn on a free port —
started after an embeddings version exists, so it picks the LanceDB reranker by default.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from dagster_project.embeddings.interactions import read_interactions
from dagster_project.embeddings.tuning import tune_and_train
from dagster_project.instance import ensure_dagster_home
from dagster_project.project import model_relation
from dagster_project.runner import run_embed
from hot import embedding_store, keys
from hot.cli import main as hot_cli
from hot.local.redis_server import EmbeddedRedis
from hot.local.simulate import TOPICS
from hot.settings import Settings
from hot.snapshot import Snapshot, SnapshotItem, new_snapshot_id, publish_snapshot
from serving.core.auth import mint_token
from serving.domain.feed.services.personal import BlendedOrder
from tests.ui.stack import FLAG_ON, LiveServer, Published, hot_environment

COLD_USER = "u_never_seen"


@dataclass
class PersonalStack:
    """The running stack of this module."""

    data_dir: Path
    settings: Settings
    redis: redis.Redis
    url: str

    def get(self, sub: str, **params: Any) -> httpx.Response:
        """``GET /api/v1/hot`` as ``sub`` (``type=personal``, limit 100 unless given)."""
        params = {"type": "personal", "limit": 100, **params}
        headers = {**FLAG_ON, "Authorization": f"Bearer {mint_token(self.settings, sub)}"}
        return httpx.get(f"{self.url}/api/v1/hot", params=params, headers=headers, timeout=10)

    def feed(self, sub: str, **params: Any) -> dict[str, Any]:
        """The JSON body of a 200 response."""
        response = self.get(sub, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def version(self) -> str:
        """The embeddings version the pointer names."""
        version = embedding_store.current_version(self.redis)
        assert version is not None
        return version


@pytest.fixture(scope="module")
def stack(
    published_base: Published, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PersonalStack]:
    """A copy of the published pipeline state + embeddings, served over HTTP."""
    directory = tmp_path_factory.mktemp("personal")
    data_dir = directory / "hot"
    shutil.copytree(published_base.data_dir, data_dir)
    server = EmbeddedRedis(directory / "redis", persist=False).start()
    client = redis.Redis.from_url(server.url)
    try:
        for key, ttl, value in published_base.redis_dump:
            client.restore(key, ttl, value, replace=True)
        with hot_environment(data_dir, server.url) as settings:
            ensure_dagster_home()
            embedded = run_embed()
            assert embedded.success, embedded.error
            publish_learned(settings, client)
            with LiveServer(settings) as live:
                yield PersonalStack(data_dir, settings, client, live.url)
    finally:
        client.close()
        server.stop()


def publish_learned(settings: Settings, client: redis.Redis) -> None:
    """Serve an ALS model of this world trained with the job's own code, whatever the asset's
    check decided: on a world this small the check may keep the global order (personal
    recall@20 a hair below it on the hold-out), and these tests are about serving a model."""
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        inter = read_interactions(
            con, model_relation("fct_user_video_interactions"), model_relation("dim_videos")
        )
    finally:
        con.close()
    model = tune_and_train(inter, budget_sec=60)
    version = embedding_store.new_version()
    record = {"method": "als", **model.record()}
    embedding_store.write_version(settings.lancedb_dir, version, model.embeddings, record)
    embedding_store.flip(client, version)


def topic_of(creator_id: str) -> str:
    """The simulator's contract: creator ``c_NNNN`` makes videos of ``TOPICS[N % 8]``."""
    return TOPICS[int(creator_id.split("_")[1]) % len(TOPICS)]


def user_row(stack: PersonalStack, user: str, version: str) -> dict[str, Any] | None:
    """The user's row of the LanceDB users table of ``version``."""
    table = lancedb.connect(str(stack.settings.lancedb_dir)).open_table(
        embedding_store.users_table(version)
    )
    rows = [r for r in table.to_arrow().to_pylist() if r["id"] == user]
    return rows[0] if rows else None


def video_vectors(stack: PersonalStack, version: str) -> dict[str, np.ndarray]:
    """Every video vector of ``version``."""
    table = lancedb.connect(str(stack.settings.lancedb_dir)).open_table(
        embedding_store.videos_table(version)
    )
    return {r["id"]: np.asarray(r["vector"], float) for r in table.to_arrow().to_pylist()}


def reference_scores(
    stack: PersonalStack,
    snapshot_id: str,
    ids: list[str],
    user_vector: np.ndarray,
    watched: list[str],
    videos: dict[str, np.ndarray],
    version: str | None = None,
) -> dict[str, float]:
    """The served score, recomputed in float64 from LanceDB rows, the snapshot's exact scores
    and the params recorded with ``version`` (default: the current one)."""
    record = embedding_store.read_record(stack.settings.lancedb_dir, version or stack.version())
    params = {"blend": 0.6, "cosine": True, "hot_norm": "max"}
    params |= record.get("params", {}).get("scoring", {})
    hot = np.array([stack.redis.zscore(keys.snapshot_rank(snapshot_id), v) for v in ids])

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v) if params["cosine"] else v

    u = unit(user_vector)
    dots = np.array([float(unit(videos[v]) @ u) if v in videos else 0.0 for v in ids])
    sim = 0.5 + 0.5 * dots / np.abs(dots).max()
    if params["hot_norm"] == "rank":
        by_id = sorted(range(len(ids)), key=lambda i: ids[i])
        order = sorted(by_id, key=lambda i: -hot[i])  # stable: ties in videoId order
        rank = np.empty(len(ids))
        rank[order] = np.arange(len(ids))
        hot_term = 1.0 - rank / (len(ids) - 1)
    else:
        hot_term = hot / hot.max()
    blend = params["blend"]
    scores = blend * sim + (1 - blend) * hot_term
    demote = np.array(
        [stack.settings.personal_demote_watched if v in watched else 1.0 for v in ids]
    )
    return dict(zip(ids, (scores * demote).tolist(), strict=True))


def assert_ordered_by(ids: list[str], scores: dict[str, float]) -> None:
    """``ids`` is sorted by ``scores`` descending (float32 serving vs float64 reference)."""
    for a, b in itertools.pairwise(ids):
        assert scores[a] >= scores[b] - 1e-6, (a, scores[a], b, scores[b])
        if abs(scores[a] - scores[b]) < 1e-12:
            assert a < b


def ids_of(body: dict[str, Any]) -> list[str]:
    """The video ids of a feed body, in order."""
    return [item["videoId"] for item in body["items"]]


def taste_user(stack: PersonalStack, body: dict[str, Any]) -> tuple[str, str]:
    """A user with a clear taste: the one whose heaviest topic among the served videos
    holds the largest share of their counted interactions (and who has a vector)."""
    con = duckdb.connect(str(stack.settings.duckdb_path), read_only=True)
    try:
        rows = con.execute(
            f"select i.user_id, v.creator_id, i.interaction_weight "
            f"from {model_relation('fct_user_video_interactions')} i "
            f"join {model_relation('dim_videos')} v using (video_id) "
            f"where i.interaction_weight > 0"
        ).fetchall()
    finally:
        con.close()
    served_topics = {topic_of(item["creator"]["id"]) for item in body["items"]}
    per_user: dict[str, Counter[str]] = {}
    for user, creator, weight in rows:
        per_user.setdefault(user, Counter())[topic_of(creator)] += weight
    version = stack.version()

    def clarity(user: str) -> float:
        topic, weight = per_user[user].most_common(1)[0]
        total = sum(per_user[user].values())
        return weight / total * min(total, 30) if topic in served_topics else 0.0

    for user in sorted(per_user, key=clarity, reverse=True):
        if user_row(stack, user, version) is not None:
            return user, per_user[user].most_common(1)[0][0]
    raise AssertionError("no user with a vector")


def test_personal_order_differs_from_global_and_matches_the_blend(
    stack: PersonalStack,
) -> None:
    global_body = stack.feed("anyone", type="global")
    user, topic = taste_user(stack, global_body)
    body = stack.feed(user)
    assert body["type"] == "personal" and body["personalized"] is True
    assert body["snapshotId"] == global_body["snapshotId"]
    assert body["paging"]["total"] == global_body["paging"]["total"]
    personal, glob = ids_of(body), ids_of(global_body)
    assert sorted(personal) == sorted(glob) and personal != glob
    assert [item["rank"] for item in body["items"]] == list(range(1, len(personal) + 1))
    hot_scores = {item["videoId"]: item["hotScore"] for item in global_body["items"]}
    assert all(item["hotScore"] == hot_scores[item["videoId"]] for item in body["items"])

    version = stack.version()
    row = user_row(stack, user, version)
    assert row is not None
    scores = reference_scores(
        stack,
        body["snapshotId"],
        glob,
        np.asarray(row["vector"]),
        row["watched"],
        video_vectors(stack, version),
    )
    assert_ordered_by(personal, scores)

    creators = {item["videoId"]: item["creator"]["id"] for item in body["items"]}
    mine = [v for v in glob if topic_of(creators[v]) == topic]
    assert mine, "the user's favourite topic is served"
    # Most of it moves up (the median): the model's popularity prior may push one video of the
    # topic that few users engaged with down, which a mean would count against the whole topic.
    assert np.median([personal.index(v) for v in mine]) < np.median([glob.index(v) for v in mine])


def test_a_user_without_a_vector_gets_the_global_order(stack: PersonalStack) -> None:
    assert user_row(stack, COLD_USER, stack.version()) is None
    glob = stack.feed(COLD_USER, type="global", limit=7, offset=3)
    body = stack.feed(COLD_USER, limit=7, offset=3)
    assert body["personalized"] is False
    assert body["items"] == glob["items"]
    assert body["paging"] == glob["paging"]


def _walk(stack: PersonalStack, user: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset, total = 0, None
    while total is None or offset < total:
        body = stack.feed(user, limit=limit, offset=offset, **params)
        total = body["paging"]["total"]
        items += body["items"]
        offset += limit
    return items


def test_caps_paging_pinning_and_takedowns_hold_in_the_personal_order(
    stack: PersonalStack,
) -> None:
    user, _ = taste_user(stack, stack.feed("anyone", type="global"))
    full = stack.feed(user)
    old_snapshot = full["snapshotId"]
    paged = _walk(stack, user, limit=5)
    assert [i["videoId"] for i in paged] == ids_of(full)  # no overlap, no gap
    assert [i["rank"] for i in paged] == list(range(1, len(paged) + 1))
    per_creator = Counter(i["creator"]["id"] for i in paged)
    assert max(per_creator.values()) <= stack.settings.creator_cap

    # A new snapshot (same videos, other scores) replaces the current one...
    rank = stack.redis.zrange(keys.snapshot_rank(old_snapshot), 0, -1, withscores=True)
    payloads = stack.redis.hgetall(keys.snapshot_items(old_snapshot))
    now = datetime.now(UTC)
    items = [
        SnapshotItem(v.decode(), 1.0 + n, json.loads(payloads[v])) for n, (v, _) in enumerate(rank)
    ]
    publish_snapshot(stack.redis, Snapshot(new_snapshot_id(now), now, items))
    fresh = stack.feed(user)
    assert fresh["snapshotId"] != old_snapshot and fresh["personalized"] is True
    # ...while a client pinned to the old one keeps paging it, in the same personal order.
    pinned = _walk(stack, user, limit=4, snapshot=old_snapshot)
    assert [i["videoId"] for i in pinned] == ids_of(full)

    taken = ids_of(fresh)[0]
    stack.redis.sadd(keys.TAKEDOWNS, taken)
    stack.redis.incr(keys.TAKEDOWNS_VERSION)
    after = stack.feed(user)
    assert taken not in ids_of(after)
    assert after["paging"]["total"] == stack.feed("anyone", type="global")["paging"]["total"]


def _vectors_parquet(
    stack: PersonalStack,
    path: Path,
    override: dict[str, np.ndarray] | None = None,
    extra: list[tuple[str, str, list[float]]] | None = None,
    dim: int | None = None,
    rotation: np.ndarray | None = None,
) -> Path:
    """The current version's vectors as an upstream Parquet (with changes; ``rotation``
    turns every vector, which keeps every cosine but not those across two versions)."""
    version = stack.version()
    db = lancedb.connect(str(stack.settings.lancedb_dir))
    rows: list[tuple[str, str, list[float]]] = []
    for kind, table in (
        ("user", embedding_store.users_table(version)),
        ("video", embedding_store.videos_table(version)),
    ):
        for r in db.open_table(table).to_arrow().to_pylist():
            vector = (override or {}).get(r["id"], np.asarray(r["vector"]))
            if rotation is not None:
                vector = rotation @ vector
            rows.append((kind, r["id"], list(map(float, vector))[:dim]))
    rows += extra or []
    pq.write_table(
        pa.table(
            {
                "kind": [r[0] for r in rows],
                "id": [r[1] for r in rows],
                "vector": pa.array([r[2] for r in rows], pa.list_(pa.float32())),
            }
        ),
        path,
    )
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong dimension", "vector dimension must be"),
        ("NaN", "NaN or infinite values"),
        ("unknown id", "unknown video id(s) not in the catalogue: v_99999"),
    ],
)
def test_a_bad_vectors_file_is_refused_and_the_previous_version_keeps_serving(
    stack: PersonalStack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    message: str,
) -> None:
    user, _ = taste_user(stack, stack.feed("anyone", type="global"))
    before, version = stack.feed(user), stack.version()
    row = user_row(stack, user, version)
    assert row is not None
    dim = len(row["vector"])
    path = tmp_path / "vectors.parquet"
    if case == "wrong dimension":  # one vector shorter than the others
        _vectors_parquet(stack, path, override={user: np.asarray(row["vector"])[:-1]})
        message = f"vector dimension must be {dim}"
    elif case == "NaN":
        _vectors_parquet(stack, path, override={user: np.full(dim, np.nan)})
    else:
        _vectors_parquet(stack, path, extra=[("video", "v_99999", [1.0] * dim)])
    assert hot_cli(["embed", "--vectors", str(path)]) == 1
    assert message in capsys.readouterr().err
    assert stack.version() == version
    assert embedding_store.versions(stack.settings.lancedb_dir)[-1] == version
    assert stack.feed(user) == before


def test_a_refresh_during_traffic_never_errors_or_mixes_versions(
    stack: PersonalStack, tmp_path: Path
) -> None:
    global_body = stack.feed("anyone", type="global")
    user, topic = taste_user(stack, global_body)
    glob = ids_of(global_body)
    creators = {i["videoId"]: i["creator"]["id"] for i in global_body["items"]}
    before = ids_of(stack.feed(user))

    # Version B: every vector turned by one rotation (so mixing A and B would give a third
    # order), and the user now loves another served topic.
    videos = video_vectors(stack, stack.version())
    other = next(topic_of(creators[v]) for v in glob if topic_of(creators[v]) != topic)
    new_taste = np.mean(
        [videos[v] for v in glob if topic_of(creators[v]) == other and v in videos], axis=0
    )
    row = user_row(stack, user, stack.version())
    assert row is not None
    rotation, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(len(new_taste),) * 2))
    path = _vectors_parquet(
        stack, tmp_path / "b.parquet", override={user: new_taste}, rotation=rotation
    )

    seen: list[tuple[int, list[str] | None, bool | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=stack.url, timeout=10) as http:
            headers = {**FLAG_ON, "Authorization": f"Bearer {mint_token(stack.settings, user)}"}
            while not stop.is_set():
                response = http.get(
                    "/api/v1/hot", params={"type": "personal", "limit": 100}, headers=headers
                )
                body = response.json() if response.status_code == 200 else None
                seen.append(
                    (
                        response.status_code,
                        ids_of(body) if body else None,
                        body["personalized"] if body else None,
                    )
                )

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        time.sleep(0.3)
        refreshed = run_embed(path)
        assert refreshed.success, refreshed.error
        assert refreshed.metadata["served"], refreshed.metadata["check"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not seen or seen[-1][1] == before):
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=15)

    after = seen[-1][1]
    assert after is not None and after != before
    # Served with version B's own recorded params (an import: the defaults).
    expected_b = reference_scores(
        stack,
        global_body["snapshotId"],
        glob,
        new_taste,
        row["watched"],
        videos,
        refreshed.metadata["version"],
    )
    assert_ordered_by(after, expected_b)
    assert {status for status, _, _ in seen} == {200}
    assert all(personalized for _, _, personalized in seen)
    orders = Counter(tuple(ids) for _, ids, _ in seen if ids)
    assert set(orders) == {tuple(before), tuple(after)}, "a response mixed two versions"
    assert min(orders.values()) >= 3, orders.values()


@given(
    st.lists(st.integers(0, 4), max_size=40), st.integers(0, 45), st.integers(1, 25), st.randoms()
)
def test_a_page_of_the_lazy_order_equals_the_same_page_of_a_full_sort(
    values: list[int], offset: int, limit: int, random: Any
) -> None:
    scores = np.array(values, dtype=float) / 4  # many ties, broken by row (videoId) order
    positions = np.array(random.sample(range(len(values)), len(values)), dtype=np.int64)
    full = positions[np.lexsort((np.arange(len(values)), -scores))].tolist()
    order = BlendedOrder(scores, positions)
    assert order[offset : offset + limit] == full[offset : offset + limit]
