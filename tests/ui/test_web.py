"""The web UI in real headless Chromium, against a snapshot the real pipeline published.

Screenshots go to a temporary dir; with ``HOT_UI_SCREENSHOTS=1`` they refresh
``docs/screenshots/{feed,moderate}.png``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hot import keys
from hot.landing import format_ts, write_atomic
from hot.local.redis_server import free_port
from hot.snapshot import (
    Snapshot,
    SnapshotItem,
    format_timestamp,
    new_snapshot_id,
    publish_snapshot,
)
from tests.ui.stack import Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)

NewPage = Callable[..., Page]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """The system Chromium, headless (one per module)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """Open pages in fresh contexts (own sessionStorage), optionally signed in with a token."""
    contexts = []

    def open_page(url: str, token: str | None = None) -> Page:
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        contexts.append(context)
        if token:
            context.add_init_script(f"sessionStorage.setItem('hot.token', {json.dumps(token)})")
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots are saved."""
    if os.environ.get("HOT_UI_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


def card_ids(page: Page) -> list[str]:
    """Video ids of the feed cards, in page order."""
    return page.locator("#feed .card").evaluate_all("cards => cards.map(c => c.dataset.videoId)")


def wait_for_cards(page: Page, ids: list[str]) -> None:
    """Wait until the feed shows exactly ``ids`` in order."""
    page.wait_for_function(
        "ids => JSON.stringify([...document.querySelectorAll('#feed .card')]"
        ".map(c => c.dataset.videoId)) === JSON.stringify(ids)",
        arg=ids,
    )


def publish_copy(stack: Stack) -> str:
    """Publish the current snapshot again under a new id (a newer snapshot, same content)."""
    client = stack.redis
    current = client.get(keys.CURRENT).decode()

    def items(zkey: str, hkey: str) -> list[SnapshotItem]:
        payloads = client.hgetall(hkey)
        return [
            SnapshotItem(m.decode(), s, json.loads(payloads[m]))
            for m, s in client.zrange(zkey, 0, -1, withscores=True)
        ]

    now = datetime.now(UTC)
    snapshot = Snapshot(
        snapshot_id=new_snapshot_id(now),
        generated_at=now,
        items=items(keys.snapshot_rank(current), keys.snapshot_items(current)),
        queue=items(keys.snapshot_queue(current), keys.snapshot_queue_items(current)),
    )
    publish_snapshot(client, snapshot)
    return snapshot.snapshot_id


def test_sign_in_and_the_feed_renders_the_api_items_in_order(
    live_stack: Stack, new_page: NewPage, screenshots: Path
) -> None:
    page = new_page(live_stack.url + "/")
    expect(page.locator("#signin")).to_be_visible()
    page.fill("#dev-login-form input[name=sub]", "viewer-1")
    page.click("#dev-login-form button[type=submit]")
    expect(page.locator("#session-name")).to_have_text("viewer-1")
    expect(page.locator("#signin")).to_be_hidden()
    api = live_stack.feed(limit=20)
    expected = [i["videoId"] for i in api["items"]]
    assert len(expected) == 20
    wait_for_cards(page, expected)
    first, data = page.locator("#feed .card").first, api["items"][0]
    expect(first.locator(".rank")).to_have_text("1")
    expect(first.locator(".title")).to_have_text(data["title"])
    expect(first.locator(".creator-name")).to_have_text(data["creator"]["name"])
    expect(first.locator(".score")).to_contain_text(f"{data['hotScore']:,.1f}")
    assert first.locator(".thumb img").get_attribute("src") == data["thumbnailUrl"]
    assert first.locator(".avatar").get_attribute("src") == data["creator"]["avatarUrl"]
    expect(first.locator(".stat").first).to_have_attribute(
        "title", f"Likes: {data['stats']['likes']:,}"
    )
    page.wait_for_load_state("networkidle")
    broken = page.locator("#feed img").evaluate_all(
        "imgs => imgs.filter(i => i.complete && i.naturalWidth === 0).length"
    )
    assert broken == 0
    expect(page.locator("#feed-meta")).to_contain_text(f"{api['paging']['total']} videos")
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshots / "feed.png"))


def test_paging_stays_on_one_snapshot_and_new_items_raise_a_pill(
    live_stack: Stack, new_page: NewPage
) -> None:
    page = new_page(live_stack.url + "/?poll=1", live_stack.token("viewer-2"))
    first = live_stack.feed(limit=20)
    pinned = first["snapshotId"]
    wait_for_cards(page, [i["videoId"] for i in first["items"]])
    expect(page.locator("#page-info")).to_have_text(
        f"Page 1 of {-(-first['paging']['total'] // 20)}"
    )

    newer = publish_copy(live_stack)
    expect(page.locator("#new-pill")).to_be_visible()
    assert card_ids(page) == [i["videoId"] for i in first["items"]]  # nothing moved

    with page.expect_request(re.compile(r"/api/v1/hot\?.*offset=20")) as request:
        page.click("#next")
    assert f"snapshot={pinned}" in request.value.url
    second = live_stack.feed(limit=20, offset=20, snapshot=pinned)
    wait_for_cards(page, [i["videoId"] for i in second["items"]])
    expect(page.locator("#feed .card .rank").first).to_have_text("21")
    expect(page.locator("#next")).to_be_disabled()

    page.click("#prev")
    wait_for_cards(page, [i["videoId"] for i in first["items"]])
    with page.expect_response(
        lambda r: (
            "/api/v1/hot?" in r.url
            and "offset=0" in r.url
            and "snapshot=" not in r.url
            and "limit=20" in r.url
        )
    ) as response:
        page.click("#new-pill")
    assert response.value.json()["snapshotId"] == newer
    expect(page.locator("#new-pill")).to_be_hidden()

    page.check("#live-toggle")  # live updates: the next snapshot is applied in place
    with page.expect_response(
        lambda r: "/api/v1/hot?" in r.url and "limit=20" in r.url and "snapshot=" not in r.url
    ) as applied:
        newest = publish_copy(live_stack)
    assert applied.value.json()["snapshotId"] == newest
    expect(page.locator("#new-pill")).to_be_hidden()


def test_personal_tab_renders_the_api_items_in_order(live_stack: Stack, new_page: NewPage) -> None:
    token = live_stack.token("u_00007")
    page = new_page(live_stack.url + "/", token)
    expect(page.locator("#feed .card").first).to_be_visible()
    with page.expect_response(re.compile(r"type=personal")) as response:
        page.click(".tab[data-type=personal]")
    body = response.value.json()
    assert body["type"] == "personal"
    with httpx.Client(base_url=live_stack.url) as http:
        api = http.get(
            "/api/v1/hot",
            params={"type": "personal", "limit": 20, "snapshot": body["snapshotId"]},
            headers={"Authorization": f"Bearer {token}", "X-Feature-Flag": "hot_enabled=1"},
        ).json()
    wait_for_cards(page, [i["videoId"] for i in api["items"]])
    expect(page.locator(".tab[data-type=personal]")).to_have_attribute("aria-selected", "true")
    if api["personalized"]:
        expect(page.locator("#personal-note")).to_be_hidden()
    else:
        expect(page.locator("#personal-note")).to_be_visible()


def test_an_empty_feed_says_so(live_stack: Stack, new_page: NewPage) -> None:
    empty_db = live_stack.redis_url.rsplit("/", 1)[0] + "/3"
    client = redis.Redis.from_url(empty_db)
    now = datetime.now(UTC)
    publish_snapshot(client, Snapshot(new_snapshot_id(now), now, items=[]))
    with live_stack.other_server(redis_url=empty_db) as server:
        page = new_page(server.url + "/", live_stack.token("viewer-3"))
        notice = page.locator("#notice[data-notice=empty]")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("Nothing is hot right now")
        assert page.locator("#feed .card").count() == 0
    client.flushdb()


def test_an_expired_session_says_so(live_stack: Stack, new_page: NewPage) -> None:
    page = new_page(live_stack.url + "/", live_stack.token("viewer-4", ttl=-3600))
    notice = page.locator("#notice[data-notice=session]")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Your session has expired")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-reason")).to_contain_text("expired")
    assert page.evaluate("sessionStorage.getItem('hot.token')") is None
    page.click("#dev-login-form button[type=submit]")  # signing in again recovers
    expect(page.locator("#feed .card").first).to_be_visible()
    expect(page.locator("#notice")).to_be_hidden()


def test_a_server_error_says_so(live_stack: Stack, new_page: NewPage) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with live_stack.other_server(redis_url=dead, dev_login=False) as server:
        assert (
            httpx.post(
                server.url + "/auth/dev-login", json={"sub": "x", "moderator": True}
            ).status_code
            == 404
        )
        page = new_page(server.url + "/")
        expect(page.locator("#dev-login-form")).to_have_count(0)
        page.fill("#token-form textarea", live_stack.token("viewer-5"))
        page.click("#token-form button[type=submit]")
        notice = page.locator("#notice[data-notice=unavailable]")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("temporarily unavailable")
        expect(notice).to_contain_text("Retrying in")
        expect(notice.locator(".notice-action")).to_have_text("Retry now")


def test_a_moderator_takes_a_video_down_and_it_leaves_the_viewers_feed(
    live_stack: Stack, new_page: NewPage, screenshots: Path
) -> None:
    viewer = new_page(live_stack.url + "/?poll=1", live_stack.token("viewer-6"))
    feed = live_stack.feed(limit=20)
    target = feed["items"][0]
    wait_for_cards(viewer, [i["videoId"] for i in feed["items"]])

    moderator = new_page(live_stack.url + "/moderate")
    moderator.fill("#dev-login-form input[name=sub]", "mod-mia")
    moderator.check("#dev-login-form input[name=moderator]")
    moderator.click("#dev-login-form button[type=submit]")
    with live_stack.client(live_stack.token("mod-x", moderator=True)) as http:
        queue = http.get("/api/v1/moderation/queue", params={"limit": 20}).json()
    rows = moderator.locator("#mod-list .mod-row")
    expect(rows).to_have_count(len(queue["items"]))
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.videoId)") == [
        i["videoId"] for i in queue["items"]
    ]
    expect(moderator.locator("#count-queue")).to_have_text(str(queue["paging"]["total"]))

    moderator.click(".tab[data-view=feed]")
    row = moderator.locator(f"#mod-list .mod-row[data-video-id='{target['videoId']}']")
    row.locator("[data-action=takedown]").click()
    dialog = moderator.locator("#decide-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("input[value=removed]").check()
    dialog.locator("textarea[name=reason]").fill("Reposted content (copyright claim)")
    dialog.locator("#decide-submit").click()
    expect(moderator.locator("#toast")).to_contain_text(f"Took down {target['videoId']}")
    expect(row).to_have_count(0)
    entry = moderator.locator("#audit-body .audit-entry").first
    expect(entry).to_contain_text("Reposted content (copyright claim)")
    expect(entry).to_contain_text("mod-mia")
    expect(entry.locator(".badge").nth(1)).to_have_text("removed")

    # The viewer's open page drops it without a reload; the API agrees.
    expect(viewer.locator(f"#feed .card[data-video-id='{target['videoId']}']")).to_have_count(0)
    assert target["videoId"] not in {i["videoId"] for i in live_stack.feed()["items"]}

    moderator.click(".tab[data-view=queue]")
    expect(rows.first).to_be_visible()
    moderator.wait_for_load_state("networkidle")
    moderator.mouse.move(0, 0)
    moderator.screenshot(path=str(screenshots / "moderate.png"))


def test_a_non_moderator_gets_no_moderation_actions(live_stack: Stack, new_page: NewPage) -> None:
    page = new_page(live_stack.url + "/moderate", live_stack.token("viewer-7"))
    notice = page.locator("#notice[data-notice=forbidden]")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Moderators only")
    expect(page.locator("#mod-layout")).to_be_hidden()
    assert page.locator("[data-action]").count() == 0
    assert page.locator("#mod-list .mod-row").count() == 0


def test_generated_media_and_assets_are_cacheable(live_stack: Stack) -> None:
    with httpx.Client(base_url=live_stack.url) as http:
        thumb = http.get("/media/thumbnails/v_00012.svg")
        again = http.get("/media/thumbnails/v_00012.svg")
        avatar = http.get("/media/avatars/c_0003.svg")
        assert thumb.status_code == avatar.status_code == 200
        assert thumb.headers["content-type"] == "image/svg+xml"
        assert thumb.content == again.content and thumb.content.startswith(b"<svg")
        assert http.get("/media/thumbnails/v_00013.svg").content != thumb.content
        assert "max-age=31536000" in thumb.headers["cache-control"]
        revalidated = http.get(
            "/media/avatars/c_0003.svg", headers={"If-None-Match": avatar.headers["etag"]}
        )
        assert revalidated.status_code == 304
        for bad in (
            "/media/thumbnails/v_1.png",
            "/media/avatars/..%2fx.svg",
            "/media/avatars/.svg",
        ):
            assert http.get(bad).status_code == 404
        page = http.get("/")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        css = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', page.text)
        assert css is not None
        asset = http.get(css.group(1))
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        assert http.get("/static/nope.js").status_code == 404


def test_why_shows_the_four_signals_parts_of_the_score(
    live_stack: Stack, new_page: NewPage
) -> None:
    page = new_page(live_stack.url + "/", live_stack.token("viewer-8"))
    feed = live_stack.feed(limit=20)
    wait_for_cards(page, [i["videoId"] for i in feed["items"]])
    target = feed["items"][1]
    card = page.locator(f"#feed .card[data-video-id='{target['videoId']}']")
    expect(card.locator(".why")).to_be_hidden()
    with page.expect_response(re.compile(r"/api/v1/hot/[^/]+/explain\?snapshot=")) as answer:
        card.locator(".why-btn").click()
    explained = answer.value.json()
    assert (explained["videoId"], explained["rank"], explained["hotScore"]) == (
        target["videoId"],
        target["rank"],
        target["hotScore"],
    )
    assert explained["snapshotId"] == feed["snapshotId"]
    parts = card.locator(".why-bar .why-part")
    expect(parts).to_have_count(4)
    shown = parts.evaluate_all(
        "ps => ps.map(p => [p.dataset.signal, Number(p.dataset.value), "
        "p.getBoundingClientRect().width])"
    )
    assert {signal: value for signal, value, _ in shown} == explained["contributions"]
    assert [signal for signal, _, _ in shown] == ["likes", "comments", "watch", "shares"]
    # the parts add up to the served score (in thousandths), and each segment is as wide as
    # its share of it
    assert sum(round(value * 1000) for _, value, _ in shown) == round(target["hotScore"] * 1000)
    bar_width = card.locator(".why-bar").evaluate("b => b.getBoundingClientRect().width")
    for signal, value, width in shown:
        assert abs(width - bar_width * value / target["hotScore"]) < 1.5, signal
    legend = card.locator(".why-legend li")
    expect(legend).to_have_count(4)
    assert legend.evaluate_all("ls => ls.map(l => l.dataset.signal)") == [s for s, _, _ in shown]
    expect(legend.first).to_contain_text("Likes")
    card.locator(".why-btn").click()
    expect(card.locator(".why")).to_be_hidden()
    expect(card.locator(".why-btn")).to_have_attribute("aria-expanded", "false")


def test_a_ring_is_held_shown_to_the_moderator_and_released_by_an_approval(
    live_stack: Stack, new_page: NewPage
) -> None:
    """SPEC §3b end to end: fresh single-purpose accounts like a video of the feed within ten
    minutes; the next pass holds it (out of the feed, in the queue with the ring); the
    moderator page shows the reason, the accounts and the window; an approval releases it.
    Runs last in the module: it adds a batch to the module's stack."""
    feed = live_stack.feed()["items"]
    target = min(feed, key=lambda i: (i["stats"]["likes"] + i["stats"]["shares"], i["videoId"]))
    vid = target["videoId"]
    n = max(25, target["stats"]["likes"] + target["stats"]["shares"] + 1)  # over half
    accounts = [f"ring-{vid}-{a:03d}" for a in range(n)]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    joins = [start + timedelta(seconds=20 * a) for a in range(n)]
    lines = [
        json.dumps(
            {
                "event_id": f"ring-e{a}",
                "type": "like",
                "video_id": vid,
                "user_id": user,
                "occurred_at": format_ts(at),
            }
        ).encode()
        for a, (user, at) in enumerate(zip(accounts, joins, strict=True))
    ]
    write_atomic(live_stack.settings.landing_dir / "events", "zz-ring.jsonl", lines)
    live_stack.run_batch()

    assert vid not in {i["videoId"] for i in live_stack.feed()["items"]}
    with live_stack.client(live_stack.token("mod-x", moderator=True)) as http:
        # the moderator page's first page (20 items)
        queue = http.get("/api/v1/moderation/queue", params={"limit": 20}).json()
    queued = {i["videoId"]: i for i in queue["items"]}
    item = queued[vid]
    assert item["reason"] == "coordinated_engagement"
    assert item["moderationStatus"] == "approved"
    assert item["ring"] == {
        "accounts": n,
        "sampleAccounts": sorted(accounts)[:50],
        "windowStart": format_timestamp(joins[0]),
        "windowEnd": format_timestamp(joins[-1]),
    }
    for other in queue["items"]:
        if other["videoId"] != vid:
            assert other["reason"] == "would_trend" and other["ring"] is None

    moderator = new_page(live_stack.url + "/moderate", live_stack.token("mod-ray", moderator=True))
    row = moderator.locator(f"#mod-list .mod-row[data-video-id='{vid}']")
    reason = row.locator(".mod-reason.ring")
    expect(reason).to_contain_text("held: coordinated engagement")
    expect(reason.locator(".ring-count")).to_have_text(str(n))
    expect(reason.locator("time.ring-start")).to_have_attribute(
        "datetime", item["ring"]["windowStart"]
    )
    expect(reason.locator("time.ring-end")).to_have_attribute("datetime", item["ring"]["windowEnd"])
    shown = reason.locator(".ring-accounts li")
    expect(shown.first).to_be_hidden()
    reason.locator(".ring-accounts summary").click()
    expect(shown).to_have_count(min(n, 50))
    expect(shown.first).to_be_visible()
    assert shown.all_inner_texts() == sorted(accounts)[:50]
    other_reasons = moderator.locator("#mod-list .mod-reason[data-reason=would_trend]")
    expect(other_reasons).to_have_count(len(queue["items"]) - 1)

    row.locator("[data-action=approve]").click()
    dialog = moderator.locator("#decide-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=reason]").fill("Checked: a real fan club, not a ring")
    dialog.locator("#decide-submit").click()
    expect(moderator.locator("#toast")).to_contain_text(f"Approved {vid}")
    expect(row).to_have_count(0)

    live_stack.run_batch()  # the approval, decided after the hold, releases the video
    assert vid in {i["videoId"] for i in live_stack.feed()["items"]}
