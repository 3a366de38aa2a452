/* The viewer's feed: tabs, paging pinned to one snapshot, and a refresh that never jumps. */
(() => {
  "use strict";
  const H = window.Hot;
  const $ = H.$;
  const LIMIT = 20;
  const pollSeconds = Number(new URLSearchParams(location.search).get("poll")) || 10;
  const POLL_MS = Math.max(pollSeconds, 1) * 1000;

  /* snapshot: the snapshotId every page of this reading session is pinned to. */
  const state = {
    type: "global", offset: 0, snapshot: null, etag: null, loading: false, polling: false,
    generation: 0, // bumped by every load: an answer to an older poll is dropped
  };

  function url({ type, offset, limit = LIMIT, snapshot }) {
    const params = new URLSearchParams({ type, limit: String(limit), offset: String(offset) });
    if (snapshot) params.set("snapshot", snapshot);
    return `/api/v1/hot?${params}`;
  }

  async function load({ fresh = false } = {}) {
    if (fresh) {
      state.snapshot = null;
      state.offset = 0;
      $("new-pill").hidden = true;
    }
    state.loading = true;
    const generation = (state.generation += 1);
    $("feed").setAttribute("aria-busy", "true");
    try {
      const response = await H.api(url(state));
      if (generation !== state.generation) return; // a later load answers instead
      H.hideNotice();
      show(response);
    } catch (error) {
      if (generation === state.generation) failed(error);
    } finally {
      if (generation === state.generation) state.loading = false;
    }
  }

  function failed(error) {
    if (error.code === "snapshot_expired") {
      H.toast("That ranking was replaced by a newer one — showing the latest.", "info");
      load({ fresh: true });
      return;
    }
    $("feed").replaceChildren();
    $("pager").hidden = true;
    $("personal-note").hidden = true;
    $("feed-status").hidden = true;
    H.showError(error, () => load());
  }

  function show({ data, etag }, { animate = false } = {}) {
    state.snapshot = data.snapshotId;
    state.etag = etag;
    const { total, offset } = data.paging;
    if (data.items.length === 0 && total > 0 && offset > 0) {
      state.offset = Math.max(0, Math.floor((total - 1) / LIMIT) * LIMIT);
      load();
      return;
    }
    H.renderList($("feed"), data.items, cardWithWhy, { animate });
    $("feed-status").hidden = false;
    $("feed-meta").textContent =
      `${total.toLocaleString("en-US")} videos · updated ${H.fmt.ago(data.generatedAt)}`;
    $("feed-meta").title = `Snapshot ${data.snapshotId}, generated ${H.fmt.time(data.generatedAt)}`;
    $("personal-note").hidden = !(data.type === "personal" && data.personalized === false);
    if (total === 0) {
      H.showNotice({
        kind: "empty",
        title: "Nothing is hot right now",
        body: "No video has made the hot feed yet. New engagement is ranked every few seconds — check back soon.",
      }, { label: "Check again", run: () => load({ fresh: true }) });
    }
    const pages = Math.max(1, Math.ceil(total / LIMIT));
    $("pager").hidden = total <= LIMIT;
    $("page-info").textContent = `Page ${Math.floor(offset / LIMIT) + 1} of ${pages}`;
    $("prev").disabled = offset === 0;
    $("next").disabled = offset + LIMIT >= total;
  }

  /* "Why": each card explains its score on demand — the four signals' parts of hotScore
     (GET /api/v1/hot/{videoId}/explain, in the snapshot the page is pinned to) as a bar. */
  const SIGNALS = [
    ["likes", "Likes"], ["comments", "Comments"], ["watch", "Watch time"], ["shares", "Shares"],
  ];

  function cardWithWhy(item) {
    const card = H.feedCard(item);
    const panel = H.el("div", { class: "why", hidden: true });
    const button = H.el("button", {
      class: "why-btn", type: "button", "aria-expanded": "false", title: "Why is this hot?",
    }, "Why hot?");
    button.addEventListener("click", () => toggleWhy(item.videoId, button, panel));
    card.querySelector(".card-body").append(button, panel);
    return card;
  }

  async function toggleWhy(videoId, button, panel) {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    panel.hidden = !open;
    if (!open || panel.dataset.loaded === state.snapshot) return;
    panel.replaceChildren(H.el("p", { class: "why-note" }, "Loading…"));
    const pin = state.snapshot ? `?snapshot=${encodeURIComponent(state.snapshot)}` : "";
    try {
      const { data } = await H.api(`/api/v1/hot/${encodeURIComponent(videoId)}/explain${pin}`);
      panel.replaceChildren(...whyBar(data));
      panel.dataset.loaded = data.snapshotId;
    } catch (error) {
      const text = error.code === "not_in_feed"
        ? "This video has left the feed since this page was loaded."
        : `Could not load the explanation (${error.code}).`;
      panel.replaceChildren(H.el("p", { class: "why-note" }, text));
    }
  }

  /** The bar (one segment per signal, as wide as its part) and its legend. */
  function whyBar(data) {
    const total = data.hotScore;
    const share = (value) => (total > 0 ? Math.round((value / total) * 100) : 0);
    const bar = H.el("div", {
      class: "why-bar", role: "img",
      "aria-label": SIGNALS.map(([key, label]) => `${label} ${data.contributions[key]}`).join(", "),
    });
    const legend = H.el("ul", { class: "why-legend" });
    for (const [key, label] of SIGNALS) {
      const value = data.contributions[key];
      const part = H.el("span", {
        class: `why-part why-${key}`, dataset: { signal: key, value: String(value) },
        title: `${label}: ${value} (${share(value)}%)`,
      });
      part.style.flexGrow = String(value); // CSSOM, allowed by the page's style-src 'self'
      bar.append(part);
      legend.append(H.el("li", { dataset: { signal: key } },
        H.el("span", { class: `why-dot why-${key}`, "aria-hidden": "true" }),
        `${label} ${value} · ${share(value)}%`));
    }
    const note = H.el("p", { class: "why-note" },
      `Score ${total} = the four parts, each decayed by age · global rank ${data.rank}`);
    return [bar, legend, note];
  }

  /* Polling: a takedown changes the pinned page (re-rendered in place, nodes kept); a newer
     snapshot only raises the "new items" pill — the list never reorders under the reader,
     unless they switched "Live updates" on (then items glide to their new places). */
  async function poll() {
    if (document.hidden || state.loading || state.polling || !state.snapshot || !H.session.token()) {
      return;
    }
    const generation = state.generation;
    const outdated = () => state.loading || state.generation !== generation;
    state.polling = true;
    try {
      const pinned = await H.api(url(state), { etag: state.etag });
      if (outdated()) return;
      if (pinned.status === 200) show(pinned);
      const latest = await H.api(url({ type: state.type, offset: 0, limit: 1 }));
      if (outdated() || latest.data.snapshotId === state.snapshot) return;
      if ($("live-toggle").checked) {
        await applyLatest();
      } else {
        $("new-pill-text").textContent = "New items — refresh";
        $("new-pill").hidden = false;
      }
    } catch (error) {
      if (outdated()) return;
      if (error.code === "snapshot_expired") {
        $("new-pill-text").textContent = "This ranking has been replaced — refresh";
        $("new-pill").hidden = false;
      } else if (error.status === 401) {
        failed(error);
      }
    } finally {
      state.polling = false;
    }
  }

  /** Move this page to the newest snapshot in place (Live updates). */
  async function applyLatest() {
    const response = await H.api(url({ type: state.type, offset: state.offset }));
    $("new-pill").hidden = true;
    show(response, { animate: true });
  }

  function go(offset) {
    state.offset = offset;
    load().then(() => $("main").scrollIntoView({ behavior: "smooth", block: "start" }));
  }

  function selectTab(type) {
    for (const tab of document.querySelectorAll(".tab[data-type]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.type === type));
    }
    state.type = type;
    go(0);
  }

  for (const tab of document.querySelectorAll(".tab[data-type]")) {
    tab.addEventListener("click", () => selectTab(tab.dataset.type));
  }
  $("prev").addEventListener("click", () => go(Math.max(0, state.offset - LIMIT)));
  $("next").addEventListener("click", () => go(state.offset + LIMIT));
  $("new-pill").addEventListener("click", () => {
    load({ fresh: true });
    window.scrollTo({ top: 0, behavior: "smooth" });
  });

  const live = $("live-toggle");
  live.checked = localStorage.getItem("hot.live") === "1";
  live.addEventListener("change", () => {
    localStorage.setItem("hot.live", live.checked ? "1" : "0");
    if (live.checked && !$("new-pill").hidden) applyLatest().catch(failed);
  });

  H.start(() => load({ fresh: true }));
  setInterval(poll, POLL_MS);
})();
