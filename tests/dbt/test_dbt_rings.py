"""The ring hold (SPEC §3b) through real `dbt` runs on DuckDB, against the oracle.

A generated site (hot/local/rings.py) with planted rings and near-misses (19 accounts, 20
accounts over 31 minutes, accounts that later engage elsewhere, a ring under half of the likes):

- one build holds exactly the planted rings and the oracle's rings (accounts, window), takes
  them out of the feed and puts them in the review queue as ``coordinated_engagement``;
- the events in event-time order over three passes: the near-miss whose accounts engage
  elsewhere later is held, then released when they do; the end state equals one build;
- the events shuffled over three passes, then a pass with nothing new: the same holds;
- an approval decided after a hold releases the video; one decided before does not;
- a ring var out of range is a compile error naming it.
"""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from hot.local.rings import RingSite, build_ring_site
from tests.dbt.hot_dbt_helpers import DBT_DIR, insert_raw, query, run_dbt
from tests.oracle import EPOCH, Oracle, epoch_seconds, latest_state, parse_ts

TOP_N = 1000
pytestmark = pytest.mark.timeout(600)


def site_data(site: RingSite, parts: list[list[dict[str, Any]]]) -> dict[str, list[dict]]:
    """The raw rows of ``site`` for hot_dbt_helpers (catalogue in batch 1, the events of
    ``parts[i]`` in part i); timestamps as naive UTC, as ingest stores them."""
    line = iter(range(1, 10**7))

    def meta(row: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return {**row, **fields, "batch_id": 1, "line_no": next(line)}

    events = [
        {
            **e,
            "occurred_at": e["occurred_at"].replace(tzinfo=None),
            "part": i,
            "watch_time_sec": e.get("watch_time_sec"),
        }
        for i, part in enumerate(parts)
        for e in part
    ]
    return {
        "videos": [meta(v, thumbnail_url=None, published_at=None) for v in site.videos],
        "creators": [meta(c, avatar_url=None) for c in site.creators],
        "moderation": [meta(m, decided_at=_naive(m["decided_at"])) for m in site.moderation],
        "events": events,
    }


def _naive(text: str) -> datetime:
    return parse_ts(text).replace(tzinfo=None)


@pytest.fixture(scope="module")
def site() -> RingSite:
    return build_ring_site(n_videos=60, n_users=600, organic_events=6000, rings=4, near_misses=2)


def oracle_of(site: RingSite, events: list[dict[str, Any]]) -> Oracle:
    data = site_data(site, [events])
    return Oracle.build(events, *latest_state(data["videos"], data["moderation"]))


def now_of(site: RingSite) -> float:
    return max(epoch_seconds(e["occurred_at"]) for e in site.events) + 60


def holds(db: Path) -> dict[str, dict[str, Any]]:
    rows = query(db, "select * from main_intermediate.int_ring_holds where is_held")
    return {r["video_id"]: r for r in rows}


def build_passes(tmp: Path, site: RingSite, parts: list[list[dict]]) -> tuple[Path, list[set]]:
    """Load ``parts`` one per pass (catalogue with the first) and `dbt run` after each;
    returns the warehouse and the held videos after each pass."""
    db = tmp / "warehouse.duckdb"
    data = site_data(site, parts)
    held_after = []
    for i in range(len(parts)):
        insert_raw(db, data, meta_batches={1} if i == 0 else set(), event_batch={i: i + 2})
        run_dbt(db, tmp, "run", dbt_vars={"now_epoch": now_of(site), "top_n": TOP_N})
        held_after.append(set(holds(db)))
    return db, held_after


def assert_holds_match(db: Path, oracle: Oracle) -> None:
    got = holds(db)
    assert set(got) == oracle.held
    for vid, row in got.items():
        ring = oracle.rings[vid]
        assert row["ring_accounts"] == len(ring.accounts), vid
        sample = json.loads(row["ring_accounts_sample"])
        assert sample == sorted(ring.accounts)[:50], vid
        assert epoch_seconds(row["ring_window_start"]) == ring.start, vid
        assert epoch_seconds(row["ring_window_end"]) == ring.end, vid
    feed = {r["video_id"] for r in query(db, "select video_id from main_marts.fct_hot_feed")}
    queue = query(db, "select * from main_marts.fct_review_queue order by rank")
    assert feed.isdisjoint(oracle.held) and feed == set(oracle.feed(TOP_N))
    assert [(r["video_id"], r["would_be_rank"]) for r in queue] == oracle.queue(TOP_N)
    for r in queue:
        assert r["queue_reason"] == oracle.queue_reason(r["video_id"])
        assert (r["ring_accounts"] is not None) == (r["video_id"] in oracle.held)


@pytest.fixture(scope="module")
def one_build(tmp_path_factory: pytest.TempPathFactory, site: RingSite) -> Path:
    work = tmp_path_factory.mktemp("rings_one")
    db = work / "warehouse.duckdb"
    insert_raw(db, site_data(site, [site.events]), meta_batches={1}, event_batch={0: 2})
    run_dbt(db, work, "build", dbt_vars={"now_epoch": now_of(site), "top_n": TOP_N})
    return db


def test_one_build_holds_the_planted_rings_only(one_build: Path, site: RingSite) -> None:
    oracle = oracle_of(site, site.events)
    assert oracle.held == set(oracle.rings) == site.videos_of("ring")
    assert_holds_match(one_build, oracle)
    # every near-miss kind is there and none is held
    for kind in ("near_19", "near_31min", "near_elsewhere", "near_share"):
        assert site.videos_of(kind) and site.videos_of(kind).isdisjoint(holds(one_build))


@pytest.mark.slow  # several dbt builds in a row: make test, not make test-fast
def test_time_ordered_passes_hold_then_release(tmp_path: Path, site: RingSite, one_build) -> None:
    ordered = sorted(site.events, key=lambda e: e["occurred_at"])
    # the near_elsewhere accounts comment elsewhere after every burst: in the last third
    first_elsewhere = min(
        i
        for i, e in enumerate(ordered)
        if e["type"] == "comment" and e["user_id"].startswith("near_elsewhere")
    )
    cut = [first_elsewhere // 2, first_elsewhere]
    parts = [ordered[: cut[0]], ordered[cut[0] : cut[1]], ordered[cut[1] :]]
    db, held_after = build_passes(tmp_path, site, parts)
    assert site.videos_of("near_elsewhere") <= held_after[1]  # 24 single-purpose accounts
    assert site.videos_of("near_elsewhere").isdisjoint(held_after[2])  # 5 engaged elsewhere
    assert held_after[2] == site.videos_of("ring")
    assert_holds_match(db, oracle_of(site, site.events))
    # the incremental state equals one build's: every video one build has (a run also writes
    # videos touched by a catalogue row only), and which accounts are single-purpose for what
    # (an account's video_id is its first video once it is not: order-dependent, never read)
    sql = "select * exclude (applied_batch_id) from main_intermediate.int_ring_videos"
    inc = {r["video_id"]: r for r in query(db, sql)}
    assert all(inc[r["video_id"]] == r for r in query(one_build, sql))
    sql = (
        "select user_id, case when is_single_purpose then video_id end as only_video "
        "from main_intermediate.int_ring_accounts order by user_id"
    )
    assert query(db, sql) == query(one_build, sql)


@pytest.mark.slow  # several dbt builds in a row: make test, not make test-fast
def test_shuffled_passes_and_a_pass_with_nothing_new(tmp_path: Path, site: RingSite) -> None:
    shuffled = site.events[:]
    random.Random(3).shuffle(shuffled)
    parts = [shuffled[i::3] for i in range(3)]
    db, held_after = build_passes(tmp_path, site, parts)
    assert held_after[-1] == site.videos_of("ring")
    assert_holds_match(db, oracle_of(site, site.events))
    before = query(db, "select * from main_intermediate.int_ring_videos order by video_id")
    run_dbt(db, tmp_path, "run", dbt_vars={"now_epoch": now_of(site), "top_n": TOP_N})
    assert query(db, "select * from main_intermediate.int_ring_videos order by video_id") == before


@pytest.mark.slow  # several dbt builds in a row: make test, not make test-fast
def test_a_decision_after_the_hold_releases_it(tmp_path: Path, site: RingSite) -> None:
    db = tmp_path / "warehouse.duckdb"
    data = site_data(site, [site.events])
    ring_videos = sorted(site.videos_of("ring"))
    released, kept, removed = ring_videos[0], ring_videos[1], ring_videos[2]
    oracle = oracle_of(site, site.events)

    def after(vid: str, sec: float) -> datetime:
        """``sec`` seconds after ``vid``'s hold started."""
        return epoch_to_naive(oracle.rings[vid].end + sec)

    data["moderation"] += [
        {
            "video_id": released,
            "status": "approved",
            "decided_at": after(released, 1),
            "reason": "checked",
            "batch_id": 3,
            "line_no": 1,
        },
        {
            "video_id": kept,
            "status": "approved",
            "decided_at": after(kept, -1),
            "reason": "before",
            "batch_id": 3,
            "line_no": 2,
        },
        {
            "video_id": removed,
            "status": "removed",
            "decided_at": after(removed, 60),
            "reason": "ring",
            "batch_id": 3,
            "line_no": 3,
        },
    ]
    insert_raw(db, data, meta_batches={1, 3}, event_batch={0: 2})
    run_dbt(db, tmp_path, "run", dbt_vars={"now_epoch": now_of(site), "top_n": TOP_N})
    held = holds(db)
    assert kept in held and released not in held and removed not in held
    feed = {r["video_id"] for r in query(db, "select video_id from main_marts.fct_hot_feed")}
    assert released in feed and kept not in feed and removed not in feed


def epoch_to_naive(epoch: float) -> datetime:
    """A naive UTC timestamp of an epoch, to the microsecond."""
    return EPOCH + timedelta(microseconds=round(epoch * 1e6))


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("ring_window_min", 0, "ring_window_min must be > 0"),
        ("ring_min_accounts", -1, "ring_min_accounts must be an integer >= 1"),
        ("ring_min_accounts", 2.5, "ring_min_accounts must be an integer >= 1"),
        ("ring_share", 0, "ring_share must be in (0, 1]"),
        ("ring_share", 1.5, "ring_share must be in (0, 1]"),
        ("ring_share", "half", "ring_share must be a number"),
    ],
)
def test_ring_vars_out_of_range_are_a_dbt_error(
    tmp_path: Path, var: str, value: Any, message: str
) -> None:
    from dbt.cli.main import dbtRunner

    cli = [
        "compile",
        "--select",
        "int_ring_videos",
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(tmp_path / "target"),
        "--log-path",
        str(tmp_path / "logs"),
        "--vars",
        json.dumps({var: value}),
    ]
    with patch.dict(os.environ, {"HOT_DUCKDB_PATH": str(tmp_path / "w.duckdb")}):
        res = dbtRunner().invoke(cli)
    assert not res.success
    assert message in str(res.exception), res.exception
