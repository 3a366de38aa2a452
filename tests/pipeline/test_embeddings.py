"""The embeddings asset: ALS training, its check, import validation, version flip +
retention, the sensor.

The asset runs through Dagster in-process (``hot embed``) over a warehouse a real pass has
filled from landing files (a planted-taste engagement matrix, with a few light users). The
embeddings job itself brings the (user, video) pairs up to date: a pass does not build them.
Training runs under the small budget the test session sets (``HOT_EMBED_TUNE_BUDGET_SEC``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_sensor_context,
)

from dagster_project.assets.embeddings import CHECK_NAME
from dagster_project.assets.ingest import RAW_KEYS
from dagster_project.embeddings.imported import import_vectors
from dagster_project.embeddings.interactions import EmbeddingsError, Interactions
from dagster_project.instance import ensure_dagster_home
from dagster_project.runner import run_embed, run_pipeline
from dagster_project.sensors.embeddings import embeddings_sensor
from hot import embedding_store, keys
from hot.cli import main as hot_cli
from hot.landing import format_ts, write_atomic
from hot.settings import get_settings

TOPICS = 4
VIDEOS_PER_TOPIC = 12
USERS_PER_TOPIC = 30
LIGHT_PER_TOPIC = 6
"""Users per topic with only 2 to 4 pairs (1 to 3 once the check holds their latest out)."""
DIM = 16


def _video(topic: int, n: int) -> str:
    return f"v_{topic}_{n:02d}"


def _user(topic: int, n: int) -> str:
    return f"u_{topic}_{n:02d}"


NOW = 1_775_980_800.0
CREATOR = "c_1"


def _line(obj: dict[str, object]) -> bytes:
    return json.dumps(obj).encode()


def write_engagement(landing: Path, seed: int = 3) -> None:
    """Landing files of a planted-taste world: users like and watch mostly their own topic's
    videos (a like and a 60 s or 900 s watch per pair); the one creator also likes their own
    first video, which counts for nothing."""
    rng = np.random.default_rng(seed)
    videos = [_video(t, v) for t in range(TOPICS) for v in range(VIDEOS_PER_TOPIC)]
    events: list[bytes] = []

    def event(kind: str, user: str, video: str, epoch: float, **extra: object) -> None:
        occurred = datetime.fromtimestamp(epoch, UTC)
        events.append(
            _line(
                {
                    "event_id": f"e_{len(events):06d}",
                    "type": kind,
                    "video_id": video,
                    "user_id": user,
                    "occurred_at": format_ts(occurred),
                    **extra,
                }
            )
        )

    for topic in range(TOPICS):
        for n in range(USERS_PER_TOPIC + LIGHT_PER_TOPIC):
            light = n >= USERS_PER_TOPIC
            mine = rng.choice(VIDEOS_PER_TOPIC, size=2 + n % 3 if light else 6, replace=False)
            picks = [(topic, int(v)) for v in mine]
            if not light:
                picks.append((int(rng.integers(TOPICS)), int(rng.integers(VIDEOS_PER_TOPIC))))
            for t, v in sorted(set(picks)):
                at = NOW - float(rng.integers(86_400))
                event("like", _user(topic, n), _video(t, v), at)
                event(
                    "watch",
                    _user(topic, n),
                    _video(t, v),
                    at,
                    watch_time_sec=float(rng.choice([60.0, 900.0])),
                )
    event("like", CREATOR, _video(0, 0), NOW - 60)
    write_atomic(
        landing / "creators",
        "creators.jsonl",
        [_line({"creator_id": CREATOR, "name": "One", "avatar_url": "/a.svg"})],
    )
    catalogue = [
        {
            "video_id": video,
            "title": video,
            "thumbnail_url": f"/t/{video}.svg",
            "creator_id": CREATOR,
            "published_at": "2026-01-01T00:00:00Z",
        }
        for video in videos
    ]
    write_atomic(landing / "videos", "videos.jsonl", [_line(v) for v in catalogue])
    write_atomic(landing / "events", "events.jsonl", events)


@pytest.fixture
def warehouse(hot_env: Path) -> Path:
    """A data dir whose engagement went through a pipeline pass (the ledger and catalogue
    the embeddings job reads from), with a Dagster home; returns the data dir."""
    write_engagement(get_settings().landing_dir)
    ensure_dagster_home()
    ingested = run_pipeline(now_epoch=NOW)
    assert ingested.success, ingested.error
    return hot_env


def _vectors(db_dir: Path, version: str, table: str) -> dict[str, np.ndarray]:
    name = embedding_store.users_table if table == "users" else embedding_store.videos_table
    rows = lancedb.connect(str(db_dir)).open_table(name(version)).to_arrow().to_pylist()
    return {r["id"]: np.asarray(r["vector"], dtype=np.float64) for r in rows}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _check(run_id: str) -> tuple[bool, str, dict[str, float]]:
    """The ``embeddings`` asset check's evaluation in run ``run_id``: passed, why, metrics."""
    key = AssetCheckKey(AssetKey("embeddings"), CHECK_NAME)
    records = DagsterInstance.get().event_log_storage.get_asset_check_execution_history(
        key, limit=20
    )
    for record in records:
        if record.run_id == run_id and record.event is not None:
            evaluation = record.event.dagster_event.event_specific_data
            metrics = {k: v.value for k, v in evaluation.metadata.items()}
            return evaluation.passed, evaluation.description or "", metrics
    raise AssertionError(f"no check evaluation in run {run_id}")


def test_learned_embeddings_separate_tastes_pass_the_check_and_versions_flip(
    warehouse: Path, redis_client: redis.Redis
) -> None:
    first = run_embed()
    assert first.success, first.error
    # The pass left the pairs to this job, which built them from the ledger before learning.
    assert first.materialized("marts/fct_user_video_interactions")
    meta = first.metadata
    version = meta["version"]
    assert meta["served"] is True and meta["previous_version"] == ""
    assert redis_client.get(keys.EMBEDDINGS_VERSION) == version.encode()
    assert meta["method"] == "als" and meta["trials"] >= 1
    users_total = TOPICS * (USERS_PER_TOPIC + LIGHT_PER_TOPIC)
    assert meta["users"] == users_total  # the creator's own pair counts for nothing
    assert meta["videos"] == TOPICS * VIDEOS_PER_TOPIC

    # The check measured every method, light users in a row of their own, as numbers.
    passed, why, metrics = _check(first.run_id)
    assert passed, why
    for method in ("personal", "global", "popular"):
        for prefix in ("", "light/"):
            assert 0.0 <= metrics[f"{prefix}{method}/recall@20"] <= 1.0
            assert 0.0 <= metrics[f"{prefix}{method}/ndcg@20"] <= 1.0
    assert metrics["personal/recall@20"] > metrics["global/recall@20"]
    assert metrics["light_users"] > 0

    # The chosen values and their validation metrics are recorded with the version.
    record = embedding_store.read_record(warehouse / "lancedb", version)
    als = record["params"]["als"]
    prior = record["params"]["popularity_prior"] > 0 or record["params"]["light_users"] == "popular"
    assert meta["dimension"] == als["factors"] + prior  # the popularity prior: one more
    assert {"regularization", "alpha", "weighting", "half_life_days"} <= als.keys()
    assert 0.0 <= record["params"]["scoring"]["blend"] <= 1.0
    assert record["params"]["light_users"] in ("als", "item_mean", "popular")
    assert record["validation"]["personal/recall@20"] > 0
    assert record["check"]["passed"] is True

    db_dir = warehouse / "lancedb"
    users, videos = _vectors(db_dir, version, "users"), _vectors(db_dir, version, "videos")
    assert {v.shape for v in users.values()} == {(meta["dimension"],)}
    gaps = []
    for user, vector in users.items():
        score = {video: float(vector @ v) for video, v in videos.items()}
        topic = user.split("_")[1]
        own = [c for video, c in score.items() if video.split("_")[1] == topic]
        gaps.append(np.mean(own) - np.mean([c for c in score.values() if c not in own]))
    assert np.mean(np.array(gaps) > 0) > 0.95  # the planted tastes are recovered

    watched = (
        lancedb.connect(str(db_dir))
        .open_table(embedding_store.users_table(version))
        .to_arrow()
        .to_pylist()
    )
    assert any(r["watched"] for r in watched)  # 900 s pairs count as heavily watched

    # Each later run starts its search from the served values and must not lose to them by
    # more than 2 % on the same hold-out: it is served, or refused and its version dropped.
    served = [version]
    for _ in range(3):
        result = run_embed()
        assert result.success, result.error
        assert result.metadata["previous_version"] == served[-1]
        if result.metadata["served"]:
            served.append(result.metadata["version"])
        else:
            assert not _check(result.run_id)[0]
    assert served == sorted(served)
    assert redis_client.get(keys.EMBEDDINGS_VERSION) == served[-1].encode()
    assert embedding_store.versions(db_dir) == served[-embedding_store.VERSIONS_RETAINED :]


def test_a_planted_bad_model_fails_the_check_and_is_not_served(
    warehouse: Path, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_embed().success
    before = embedding_store.current_version(redis_client)
    # Random vectors for every user and video: valid, but no better than chance.
    rng = np.random.default_rng(11)
    rows = [("video", _video(t, v), rng.normal(size=DIM).tolist()) for t, v in _all_videos()]
    rows += [("user", u, rng.normal(size=DIM).tolist()) for u in _all_users()]
    path = _parquet(warehouse / "random.parquet", rows)
    assert hot_cli(["embed", "--vectors", str(path)]) == 1
    err = capsys.readouterr().err
    assert "not served, its check failed" in err and "below the served model's" in err
    assert embedding_store.current_version(redis_client) == before
    assert embedding_store.versions(warehouse / "lancedb") == [before]  # staged, then dropped

    result = run_embed(path)  # the same through the runner: the check's own verdict
    assert result.success and result.metadata["served"] is False
    passed, why, metrics = _check(result.run_id)
    assert not passed and "below the served model's" in why
    assert metrics["personal/recall@20"] < 0.98 * metrics["served/personal/recall@20"]
    assert metrics["served/personal/recall@20"] > metrics["global/recall@20"]
    assert embedding_store.current_version(redis_client) == before


def test_a_model_worse_than_the_served_one_is_not_served(
    warehouse: Path, redis_client: redis.Redis
) -> None:
    # Served: vectors that know each user's topic exactly. New: ALS, on data this small
    # and with one factor (HOT_EMBED_DIM=1), cannot match them on the hold-out.
    rows = [("video", _video(t, v), _onehot(t)) for t, v in _all_videos()]
    rows += [("user", u, _onehot(int(u.split("_")[1]))) for u in _all_users()]
    oracle = run_embed(_parquet(warehouse / "oracle.parquet", rows))
    assert oracle.success and oracle.metadata["served"] is True, oracle.metadata["check"]
    before = embedding_store.current_version(redis_client)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOT_EMBED_DIM", "1")
        get_settings.cache_clear()
        result = run_embed()
    get_settings.cache_clear()
    assert result.success and result.metadata["served"] is False
    passed, why, metrics = _check(result.run_id)
    assert not passed and "below the served model's" in why
    assert metrics["personal/recall@20"] < 0.98 * metrics["served/personal/recall@20"]
    assert embedding_store.current_version(redis_client) == before


def test_training_over_its_budget_keeps_the_served_version(
    warehouse: Path, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_embed().success
    before = embedding_store.current_version(redis_client)
    monkeypatch.setenv("HOT_EMBED_TUNE_BUDGET_SEC", "0.000001")
    get_settings.cache_clear()
    result = run_embed()
    assert not result.success
    assert f"kept the served version {before}" in (result.error or "")
    assert "did not finish within the training budget" in (result.error or "")
    assert embedding_store.current_version(redis_client) == before
    assert embedding_store.versions(warehouse / "lancedb") == [before]


def test_the_pointer_never_moves_back_to_an_older_version(redis_client: redis.Redis) -> None:
    old, new = embedding_store.new_version(), embedding_store.new_version()
    assert embedding_store.flip(redis_client, new) is None
    with pytest.raises(embedding_store.StaleVersion):
        embedding_store.flip(redis_client, old)
    assert embedding_store.current_version(redis_client) == new


def _all_videos() -> list[tuple[int, int]]:
    return [(t, v) for t in range(TOPICS) for v in range(VIDEOS_PER_TOPIC)]


def _all_users() -> list[str]:
    return [_user(t, n) for t in range(TOPICS) for n in range(USERS_PER_TOPIC + LIGHT_PER_TOPIC)]


def _onehot(topic: int) -> list[float]:
    return [1.0 if i == topic else 0.0 for i in range(DIM)]


def _parquet(path: Path, rows: list[tuple[str, str, list[float] | None]]) -> Path:
    pq.write_table(
        pa.table(
            {
                "kind": [r[0] for r in rows],
                "id": [r[1] for r in rows],
                "vector": pa.array([r[2] for r in rows], pa.list_(pa.float64())),
            }
        ),
        path,
    )
    return path


def _good_rows() -> list[tuple[str, str, list[float] | None]]:
    rng = np.random.default_rng(5)
    rows: list[tuple[str, str, list[float] | None]] = [
        ("video", _video(t, v), rng.normal(size=DIM).tolist())
        for t in range(TOPICS)
        for v in range(VIDEOS_PER_TOPIC)
    ]
    rows += [("user", _user(t, 0), rng.normal(size=DIM).tolist()) for t in range(TOPICS)]
    return rows


def test_imported_vectors_are_published(warehouse: Path, redis_client: redis.Redis) -> None:
    # An upstream model that knows the planted tastes (with noise): it passes the check.
    rng = np.random.default_rng(2)
    rows: list[tuple[str, str, list[float] | None]] = [
        ("video", _video(t, v), (np.array(_onehot(t)) + 0.1 * rng.random(DIM)).tolist())
        for t, v in _all_videos()
    ]
    rows += [("user", u, _onehot(int(u.split("_")[1]))) for u in _all_users()]
    path = _parquet(warehouse / "vectors.parquet", rows)
    assert hot_cli(["embed", "--vectors", str(path)]) == 0
    version = embedding_store.current_version(redis_client)
    assert version is not None
    record = embedding_store.read_record(warehouse / "lancedb", version)
    assert record["method"] == "import" and record["check"]["passed"] is True
    users = _vectors(warehouse / "lancedb", version, "users")
    expected = {r[1]: np.asarray(r[2]) for r in rows if r[0] == "user"}
    assert users.keys() == expected.keys()
    for user, vector in users.items():
        assert np.allclose(vector, expected[user], atol=1e-6)


BAD_FILES = {
    "wrong dimension": (
        lambda rows: [*rows[:3], ("video", rows[3][1], [0.5] * (DIM - 1)), *rows[4:]],
        "vector dimension must be 16",
    ),
    "NaN": (
        lambda rows: [*rows[:-1], ("user", rows[-1][1], [float("nan")] * DIM)],
        "NaN or infinite values (user u_3_00)",
    ),
    "unknown video": (
        lambda rows: [*rows, ("video", "v_nope", [1.0] * DIM)],
        "unknown video id(s) not in the catalogue: v_nope",
    ),
    "unknown user": (
        lambda rows: [*rows, ("user", "u_ghost", [1.0] * DIM)],
        "unknown user id(s) with no counted interactions: u_ghost",
    ),
    "bad kind": (
        lambda rows: [*rows, ("creator", "c_1", [1.0] * DIM)],
        "kind must be 'user' or 'video'",
    ),
    "duplicate": (lambda rows: [*rows, rows[0]], f"duplicate id (video {_video(0, 0)})"),
    "zero vector": (
        lambda rows: [*rows[:-1], ("user", rows[-1][1], [0.0] * DIM)],
        "zero vectors have no direction",
    ),
    "null vector": (lambda rows: [*rows[:-1], ("user", rows[-1][1], None)], "has no vector"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_vectors_are_refused_with_a_clear_message(tmp_path: Path, case: str) -> None:
    rows = _good_rows()
    known = Interactions(
        user_ids=np.array([r[1] for r in rows if r[0] == "user"]),
        video_ids=np.array([_video(0, 0)] * 4),
        weight=np.ones(4),
        watch_sec=np.zeros(4),
        last_epoch=np.zeros(4),
        first_epoch=np.zeros(4),
        known_videos=frozenset(r[1] for r in rows if r[0] == "video"),
    )
    mutate, message = BAD_FILES[case]
    path = _parquet(tmp_path / "bad.parquet", mutate(rows))
    with pytest.raises(EmbeddingsError) as refused:
        import_vectors(path, DIM, known)
    assert message in str(refused.value)
    assert str(path) in str(refused.value)


def test_a_refused_import_fails_the_run_and_keeps_the_current_version(
    warehouse: Path, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_embed().success
    before = embedding_store.current_version(redis_client)
    mutate, message = BAD_FILES["NaN"]
    path = _parquet(warehouse / "bad.parquet", mutate(_good_rows()))
    assert hot_cli(["embed", "--vectors", str(path)]) == 1
    assert message in capsys.readouterr().err
    assert embedding_store.current_version(redis_client) == before
    assert embedding_store.versions(warehouse / "lancedb") == [before]


def test_sensor_refreshes_after_n_ingested_batches(
    hot_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOT_EMBED_EVERY_BATCHES", "5")
    get_settings.cache_clear()

    def ingested(instance: DagsterInstance, source: str, files: int) -> None:
        instance.report_runless_asset_event(
            AssetMaterialization(asset_key=RAW_KEYS[source], metadata={"files": files})
        )

    def tick(instance: DagsterInstance, cursor: str | None) -> tuple[object, str | None]:
        context = build_sensor_context(instance=instance, cursor=cursor)
        return embeddings_sensor(context), context.cursor

    with DagsterInstance.ephemeral() as instance:
        result, cursor = tick(instance, None)
        assert isinstance(result, SkipReason)
        ingested(instance, "events", 3)
        ingested(instance, "videos", 1)
        result, cursor = tick(instance, cursor)
        assert isinstance(result, SkipReason) and "4 new batch(es)" in str(result.skip_message)
        result, cursor = tick(instance, cursor)  # nothing new: still 4, counted once
        assert isinstance(result, SkipReason) and "4 new batch(es)" in str(result.skip_message)
        ingested(instance, "events", 2)
        result, cursor = tick(instance, cursor)
        assert isinstance(result, RunRequest)
        assert result.tags["hot/batches"] == "6"
        result, cursor = tick(instance, cursor)  # the count starts again after a launch
        assert isinstance(result, SkipReason) and "0 new batch(es)" in str(result.skip_message)
