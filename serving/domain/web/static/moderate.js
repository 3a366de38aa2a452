/* The moderator page: review queue, live feed, approve / take down, audit trails. */
(() => {
  "use strict";
  const H = window.Hot;
  const $ = H.$;
  const { el } = H;
  const LIMIT = 20;
  const VIEWS = {
    queue: {
      path: "/api/v1/moderation/queue",
      help: "Videos nobody has approved yet that would rank in the hot feed if approved, and videos a ring of single-purpose accounts pushed (held out of the feed) — best first.",
      empty: "The review queue is empty: nothing unreviewed is about to trend.",
      scoreLabel: "would-be score",
      actions: ["approve", "takedown", "history"],
    },
    feed: {
      path: "/api/v1/hot",
      help: "The feed exactly as viewers see it now. A takedown removes a video at once.",
      empty: "The served feed is empty.",
      scoreLabel: "hot score",
      actions: ["takedown", "history"],
    },
  };
  const STATUS_LABELS = {
    approved: "approved", pending_review: "pending review", restricted: "restricted",
    removed: "removed", undecided: "undecided", live: "live",
  };
  const state = { view: "queue", offset: 0, snapshot: null };

  function badge(status) {
    return el("span", { class: `badge badge-${status}` }, STATUS_LABELS[status] || status);
  }

  function url(view, offset, limit = LIMIT) {
    const params = new URLSearchParams({ limit: String(limit), offset: String(offset) });
    if (view === "feed") params.set("type", "global");
    if (state.snapshot) params.set("snapshot", state.snapshot);
    return `${VIEWS[view].path}?${params}`;
  }

  function forbidden() {
    $("mod-layout").hidden = true;
    $("mod-refresh").hidden = true;
    const claims = H.session.claims();
    H.showNotice({
      kind: "forbidden",
      title: "Moderators only",
      body: `You are signed in as “${claims ? claims.sub : "?"}”, which does not have the ` +
        "moderator role. The feed is on the Feed page; ask an administrator for access.",
    }, {
      label: "Switch account",
      run: () => {
        H.session.clear();
        location.reload();
      },
    });
  }

  async function load() {
    if (!H.session.isModerator()) {
      forbidden();
      return;
    }
    $("mod-list").setAttribute("aria-busy", "true");
    try {
      const { data } = await H.api(url(state.view, state.offset));
      H.hideNotice();
      $("mod-layout").hidden = false;
      $("mod-refresh").hidden = false;
      state.snapshot = data.snapshotId;
      render(data);
      counts();
    } catch (error) {
      if (error.code === "snapshot_expired") {
        state.snapshot = null;
        state.offset = 0;
        load();
      } else if (error.status === 403) {
        forbidden();
      } else {
        $("mod-layout").hidden = error.status !== 0 && error.status !== 503;
        H.showError(error, load);
      }
    }
  }

  async function counts() {
    for (const view of Object.keys(VIEWS)) {
      try {
        const params = new URLSearchParams({ limit: "1", offset: "0" });
        const { data } = await H.api(`${VIEWS[view].path}?${params}`);
        $(`count-${view}`).textContent = data.paging.total;
      } catch {
        $(`count-${view}`).textContent = "";
      }
    }
  }

  function render(data) {
    const view = VIEWS[state.view];
    $("view-help").textContent = view.help;
    $("mod-meta").textContent =
      `Snapshot ${data.snapshotId} · generated ${H.fmt.ago(data.generatedAt)}`;
    H.renderList($("mod-list"), data.items, row);
    $("empty-list").textContent = view.empty;
    $("empty-list").hidden = data.items.length > 0;
    const { total, offset } = data.paging;
    $("pager").hidden = total <= LIMIT;
    $("page-info").textContent =
      `Page ${Math.floor(offset / LIMIT) + 1} of ${Math.max(1, Math.ceil(total / LIMIT))}`;
    $("prev").disabled = offset === 0;
    $("next").disabled = offset + LIMIT >= total;
  }

  /* Why a queued video is in the queue; for a ring (SPEC §3b), who and when. */
  function reasonLine(item) {
    if (item.reason !== "coordinated_engagement" || !item.ring) {
      return el("p", { class: "mod-reason", dataset: { reason: item.reason } },
        el("span", { class: "badge badge-undecided" }, "would trend"),
        " would rank in the hot feed if approved");
    }
    const { ring } = item;
    const more = ring.accounts - ring.sampleAccounts.length;
    return el("div", { class: "mod-reason ring", dataset: { reason: item.reason } },
      el("p", {},
        el("span", { class: "badge badge-removed" }, "held: coordinated engagement"), " ",
        el("b", { class: "ring-count" }, String(ring.accounts)),
        " single-purpose accounts liked or shared it between ",
        el("time", { class: "ring-start", datetime: ring.windowStart, title: ring.windowStart },
          H.fmt.time(ring.windowStart)),
        " and ",
        el("time", { class: "ring-end", datetime: ring.windowEnd, title: ring.windowEnd },
          H.fmt.time(ring.windowEnd)),
        ". Out of the feed until a moderator decides."),
      el("details", { class: "ring-accounts" },
        el("summary", {}, "Show the accounts"),
        el("ul", {}, ring.sampleAccounts.map((account) => el("li", {}, el("code", {}, account)))),
        more > 0 ? el("p", { class: "muted" }, `and ${more} more`) : null));
  }

  function actionButton(kind, item) {
    const labels = { approve: "Approve", takedown: "Take down", history: "History" };
    const classes = { approve: "btn-ok", takedown: "btn-danger", history: "btn-ghost" };
    const button = el("button", {
      class: `btn btn-small ${classes[kind]}`, type: "button", dataset: { action: kind },
    }, labels[kind]);
    button.addEventListener("click", () => {
      if (kind === "history") showTrail(item.videoId);
      else decide(kind, item);
    });
    return button;
  }

  function row(item) {
    const view = VIEWS[state.view];
    const status = item.moderationStatus || "live";
    return el("li", { class: "mod-row", dataset: { videoId: item.videoId } },
      el("span", { class: "mod-rank" }, String(item.rank)),
      H.image(item.thumbnailUrl, H.thumbFallback(item.videoId), { class: "mod-thumb", width: 128, height: 72 }),
      el("div", { class: "mod-info" },
        el("div", { class: "mod-title" }, el("strong", { class: "title" }, item.title), badge(status)),
        el("div", { class: "mod-sub" }, H.creator(item.creator),
          el("code", { class: "video-id" }, item.videoId)),
        H.stats(item.stats),
        item.reason ? reasonLine(item) : null),
      el("div", { class: "mod-score" },
        el("b", {}, H.fmt.score(item.hotScore)), el("small", {}, view.scoreLabel)),
      el("div", { class: "mod-actions" }, view.actions.map((kind) => actionButton(kind, item))));
  }

  /* ---- decisions ---- */

  let pending = null;

  function decide(kind, item) {
    const form = $("decide-form");
    form.reset();
    pending = { item, kind, key: crypto.randomUUID ? crypto.randomUUID() : String(Math.random()) };
    const takedown = kind === "takedown";
    $("decide-title").textContent = takedown ? "Take this video down?" : "Approve this video?";
    $("decide-video").replaceChildren(
      H.image(item.thumbnailUrl, H.thumbFallback(item.videoId), { width: 96, height: 54 }),
      el("div", {}, el("strong", {}, item.title), el("code", {}, item.videoId)));
    for (const choice of form.querySelectorAll(".choice")) {
      choice.hidden = choice.dataset.for !== kind;
    }
    form.querySelector(`input[value="${takedown ? "removed" : "approved"}"]`).checked = true;
    form.elements.reason.value = takedown ? "" : "Reviewed: fine for the hot feed.";
    form.elements.reason.placeholder = takedown ? "e.g. Violates the community guidelines (spam)" : "";
    $("decide-submit").textContent = takedown ? "Take down" : "Approve";
    $("decide-submit").className = `btn ${takedown ? "btn-danger" : "btn-ok"}`;
    $("decide-error").hidden = true;
    $("decide-dialog").showModal();
    form.elements.reason.focus();
  }

  async function submitDecision(event) {
    event.preventDefault();
    const form = $("decide-form");
    const body = {
      videoId: pending.item.videoId,
      status: form.elements.status.value,
      reason: form.elements.reason.value.trim(),
    };
    $("decide-submit").disabled = true;
    try {
      // The same Idempotency-Key on a retry: a decision is recorded once.
      const { data } = await H.api("/api/v1/moderation/decisions", {
        method: "POST", body, headers: { "Idempotency-Key": pending.key },
      });
      $("decide-dialog").close();
      decided(data);
    } catch (error) {
      $("decide-error").textContent = error.status === 503 || error.status === 0
        ? "The decision could not be recorded (the service is unavailable). Try again — it will be recorded once."
        : `Refused: ${error.message}`;
      $("decide-error").hidden = false;
      if (error.status === 401) H.showError(error, load);
    } finally {
      $("decide-submit").disabled = false;
    }
  }

  function decided(decision) {
    const verb = decision.status === "approved" ? "Approved" : "Took down";
    const tail = decision.status === "approved" ? "it can enter the feed at the next batch"
      : "it has left the feed";
    H.toast(`${verb} ${decision.videoId} — ${tail}.`);
    const node = $("mod-list").querySelector(`[data-video-id="${CSS.escape(decision.videoId)}"]`);
    if (node) node.classList.add("leaving");
    setTimeout(load, 250);
    showTrail(decision.videoId);
  }

  /* ---- audit trail ---- */

  async function showTrail(videoId) {
    const body = $("audit-body");
    $("audit-form").elements.videoId.value = videoId;
    body.replaceChildren(el("p", { class: "muted" }, "Loading…"));
    try {
      const { data } = await H.api(`/api/v1/moderation/decisions?${new URLSearchParams({ videoId })}`);
      body.replaceChildren(trail(data));
    } catch (error) {
      const message = error.code === "unknown_video" ? `No video “${videoId}” in the catalogue.`
        : `Could not load the audit trail: ${error.message}`;
      body.replaceChildren(el("p", { class: "form-error" }, message));
    }
  }

  function trail(data) {
    const head = el("div", { class: "audit-head" },
      el("code", {}, data.videoId), el("span", {}, "now "), badge(data.currentStatus));
    if (data.decisions.length === 0) {
      return el("div", {}, head, el("p", { class: "muted" },
        "No moderator decision yet; the status comes from the catalogue."));
    }
    const entries = data.decisions.slice().reverse().map((d) => el("li", { class: "audit-entry" },
      el("div", { class: "audit-change" }, badge(d.previousStatus), el("span", { class: "arrow" }, "→"),
        badge(d.status)),
      el("p", { class: "audit-reason" }, d.reason),
      el("p", { class: "audit-meta" }, "by ", el("b", {}, d.decidedBy), " · ",
        el("time", { datetime: d.decidedAt, title: d.decidedAt }, H.fmt.time(d.decidedAt)))));
    return el("div", {}, head, el("ol", { class: "audit-list", "aria-label": "Decisions, newest first" },
      entries));
  }

  /* ---- wiring ---- */

  for (const tab of document.querySelectorAll(".tab[data-view]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tab[data-view]")) {
        other.setAttribute("aria-selected", String(other === tab));
      }
      state.view = tab.dataset.view;
      state.offset = 0;
      state.snapshot = null;
      load();
    });
  }
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - LIMIT); load(); });
  $("next").addEventListener("click", () => { state.offset += LIMIT; load(); });
  $("mod-refresh").addEventListener("click", () => { state.snapshot = null; load(); });
  $("decide-form").addEventListener("submit", submitDecision);
  $("decide-cancel").addEventListener("click", () => $("decide-dialog").close());
  $("audit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const videoId = String(new FormData(event.target).get("videoId")).trim();
    if (videoId) showTrail(videoId);
  });

  H.start(load);
})();
