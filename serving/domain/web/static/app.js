/* Imoutotv Hot — shared front-end helpers (window.Hot): session, API calls, rendering. */
(() => {
  "use strict";

  const TOKEN_KEY = "hot.token";
  const FLAG_HEADER = "hot_enabled=1";
  const $ = (id) => document.getElementById(id);

  /** An API failure: HTTP status (0 = network), stable error code, message, Retry-After. */
  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  const session = {
    token: () => sessionStorage.getItem(TOKEN_KEY),
    set: (token) => sessionStorage.setItem(TOKEN_KEY, token.trim()),
    clear: () => sessionStorage.removeItem(TOKEN_KEY),
    /** The token's claims, decoded for display only (the server verifies the token). */
    claims() {
      const token = this.token();
      if (!token) return null;
      try {
        const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
        const json = decodeURIComponent(
          [...atob(part)].map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
        );
        const claims = JSON.parse(json);
        const roles = typeof claims.roles === "string" ? claims.roles.split(" ") : claims.roles;
        return { sub: String(claims.sub || "?"), roles: Array.isArray(roles) ? roles : [] };
      } catch {
        return { sub: "?", roles: [] };
      }
    },
    isModerator() {
      const claims = this.claims();
      return Boolean(claims && claims.roles.includes("moderator"));
    },
  };

  /** fetch() with the bearer token and the feature flag; JSON in, JSON (or ApiError) out. */
  async function api(path, { method = "GET", body, etag, headers = {} } = {}) {
    const sent = { Accept: "application/json", "X-Feature-Flag": FLAG_HEADER, ...headers };
    const token = session.token();
    if (token) sent.Authorization = `Bearer ${token}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    if (etag) sent["If-None-Match"] = etag;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: sent,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "The server cannot be reached.", 5);
    }
    if (response.status === 304) return { status: 304, etag, data: null };
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(
        response.status,
        error.code || `http_${response.status}`,
        error.message || response.statusText || "unexpected response",
        Number(response.headers.get("Retry-After")) || 0,
      );
    }
    return { status: response.status, etag: response.headers.get("ETag"), data };
  }

  /** What to tell the reader about an error: {kind, title, body}. */
  function describe(error) {
    if (error.status === 401) {
      const expired = error.code === "token_expired";
      return {
        kind: "session",
        title: expired ? "Your session has expired" : "Please sign in again",
        body: expired
          ? "For your security, sessions end after a while. Sign in again to carry on."
          : `The server did not accept your session (${error.code}). Sign in again.`,
      };
    }
    if (error.status === 403) {
      return {
        kind: "forbidden",
        title: "Moderators only",
        body: "This page is for moderators. Your account does not have the moderator role.",
      };
    }
    if (error.status === 404 && error.code === "feature_disabled") {
      return {
        kind: "disabled",
        title: "The hot feed is not enabled",
        body: "The hot feed is switched off for your account right now.",
      };
    }
    if (error.status === 0) {
      return {
        kind: "network",
        title: "You seem to be offline",
        body: "The server cannot be reached. We will keep trying.",
      };
    }
    if (error.status === 503) {
      return {
        kind: "unavailable",
        title: "The feed is temporarily unavailable",
        body: "Our servers could not answer just now (503). We will retry shortly.",
      };
    }
    return {
      kind: "error",
      title: "Something went wrong",
      body: `The server answered ${error.status} (${error.code}): ${error.message}`,
    };
  }

  /** Show a notice box ({kind, title, body}), with an optional action button. */
  function showNotice(info, action) {
    const box = $("notice");
    box.dataset.notice = info.kind;
    box.querySelector(".notice-title").textContent = info.title;
    box.querySelector(".notice-body").textContent = info.body;
    const button = box.querySelector(".notice-action");
    button.hidden = !action;
    if (action) {
      button.textContent = action.label;
      button.onclick = action.run;
    }
    box.hidden = false;
  }

  function hideNotice() {
    $("notice").hidden = true;
  }

  let retryTimer = null;

  /** Show an error; 401 goes back to sign-in, 503 / offline retry after Retry-After. */
  function showError(error, retry) {
    clearTimeout(retryTimer);
    const info = describe(error);
    if (info.kind === "session") {
      session.clear();
      renderSession();
      showNotice(info);
      showSignIn(info.title + ".");
      return;
    }
    if (info.kind === "unavailable" || info.kind === "network") {
      let seconds = Math.max(error.retryAfter || 5, 1);
      const tick = () => {
        info.body = `${info.body.split(" Retrying")[0]} Retrying in ${seconds} s…`;
        showNotice(info, { label: "Retry now", run: retry });
        if (seconds-- <= 0) retry();
        else retryTimer = setTimeout(tick, 1000);
      };
      tick();
      return;
    }
    showNotice(info, info.kind === "error" ? { label: "Try again", run: retry } : null);
  }

  function renderSession() {
    const claims = session.claims();
    $("session").hidden = !claims;
    if (!claims) return;
    $("session-name").textContent = claims.sub;
    $("session-initial").textContent = claims.sub.slice(0, 1).toUpperCase();
    $("session-role").hidden = !claims.roles.includes("moderator");
  }

  let onSignedIn = () => {};

  function showSignIn(reason) {
    $("app").hidden = reason === undefined;
    $("signin").hidden = false;
    if (reason) $("signin-reason").textContent = `${reason} Sign in again to carry on.`;
    const first = $("signin").querySelector("input, textarea");
    if (first) first.focus();
  }

  function signedIn() {
    $("signin").hidden = true;
    $("signin-error").hidden = true;
    $("app").hidden = false;
    hideNotice();
    renderSession();
    onSignedIn();
  }

  function signInError(message) {
    $("signin-error").textContent = message;
    $("signin-error").hidden = false;
  }

  function wireSignIn() {
    const devForm = $("dev-login-form");
    if (devForm && document.body.dataset.page === "moderate") {
      devForm.elements.sub.value = "moderator-1";
      devForm.elements.moderator.checked = true;
    }
    if (devForm) {
      devForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const form = new FormData(devForm);
        try {
          const { data } = await api("/auth/dev-login", {
            method: "POST",
            body: { sub: String(form.get("sub")).trim(), moderator: form.get("moderator") === "on" },
          });
          session.set(data.token);
          signedIn();
        } catch (error) {
          signInError(`Could not sign in: ${error.message}`);
        }
      });
    }
    const tokenForm = $("token-form");
    if (tokenForm) {
      tokenForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const token = String(new FormData(tokenForm).get("token")).trim().replace(/^Bearer\s+/i, "");
        if (token.split(".").length !== 3) {
          signInError("That does not look like a token (three dot-separated parts).");
          return;
        }
        session.set(token);
        signedIn();
      });
    }
    $("sign-out").addEventListener("click", () => {
      session.clear();
      location.reload();
    });
  }

  /** Run ``ready`` once signed in (now if a token is stored, else after the sign-in form). */
  function start(ready) {
    onSignedIn = ready;
    wireSignIn();
    renderSession();
    if (session.token()) {
      $("app").hidden = false;
      ready();
    } else {
      showSignIn();
    }
  }

  let toastTimer = null;

  function toast(message, kind = "ok") {
    const box = $("toast");
    box.textContent = message;
    box.dataset.kind = kind;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      box.hidden = true;
    }, 4000);
  }

  /* ---- rendering ---- */

  const ICONS = {
    like: '<path d="M12 21s-7.5-4.6-9.6-9.2C.9 8.4 3 4.5 6.7 4.5c2.1 0 3.6 1.2 5.3 3.1 1.7-1.9 3.2-3.1 5.3-3.1 3.7 0 5.8 3.9 4.3 7.3C19.5 16.4 12 21 12 21z"/>',
    comment: '<path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/>',
    watch: '<path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 5v5.2l4 2.4-.9 1.6L11 13.3V7h2z"/>',
    share: '<path d="M14 4l7 7-7 7v-4c-5 0-8.5 1.6-11 5 1-5 4-10 11-11V4z"/>',
    flame: '<path d="M13 2c1 4.5-2 6.5-4 9.5-1.5 2-2.5 4-2.5 6.5C6.5 22 9 24 12 24s6-2.5 6-6.5c0-3-1.5-5-3-7 0 2-.5 3.5-2 4.5.5-5-.5-10-1.5-14z"/>',
  };

  function icon(name) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", `icon icon-${name}`);
    svg.innerHTML = ICONS[name];
    return svg;
  }

  /** Build an element: el("a", {class: "x", href: "/"}, child, "text", ...). */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  const numberFormat = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
  const scoreFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
  const fmt = {
    count: (n) => numberFormat.format(n),
    score: (n) => scoreFormat.format(n),
    duration(seconds) {
      const h = Math.floor(seconds / 3600);
      const m = Math.floor((seconds % 3600) / 60);
      if (h >= 100) return `${numberFormat.format(h)}h`;
      if (h) return `${h}h ${String(m).padStart(2, "0")}m`;
      if (m) return `${m}m`;
      return `${seconds}s`;
    },
    ago(iso) {
      const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
      if (!Number.isFinite(seconds)) return iso;
      if (seconds < 45) return "just now";
      if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
      if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
      return new Date(iso).toLocaleString();
    },
    time: (iso) => new Date(iso).toLocaleString(undefined, {
      dateStyle: "medium", timeStyle: "medium",
    }),
  };

  /** An <img> that falls back to the locally generated artwork if the URL fails. */
  function image(src, fallback, attrs) {
    const img = el("img", { src: src || fallback, alt: "", loading: "lazy", decoding: "async", ...attrs });
    img.addEventListener("error", () => {
      if (img.getAttribute("src") !== fallback) img.src = fallback;
    }, { once: true });
    return img;
  }

  const thumbFallback = (id) => `/media/thumbnails/${encodeURIComponent(id)}.svg`;
  const avatarFallback = (id) => `/media/avatars/${encodeURIComponent(id)}.svg`;

  function stat(name, label, value, title) {
    const exact = `${title}: ${value.toLocaleString("en-US")}`;
    return el("li", { class: "stat", title: exact }, icon(name), el("span", {}, label));
  }

  /** The stats row of an item (likes, comments, watch time, shares). */
  function stats(s) {
    return el("ul", { class: "stats", "aria-label": "Stats" },
      stat("like", fmt.count(s.likes), s.likes, "Likes"),
      stat("comment", fmt.count(s.comments), s.comments, "Comments"),
      stat("watch", fmt.duration(s.watchTimeSec), s.watchTimeSec, "Watch time"),
      stat("share", fmt.count(s.shares), s.shares, "Shares"));
  }

  function creator(c) {
    return el("div", { class: "creator" },
      image(c.avatarUrl, avatarFallback(c.id), { class: "avatar", width: 24, height: 24 }),
      el("span", { class: "creator-name" }, c.name));
  }

  /** One feed card (rank, thumbnail, title, creator with avatar, score, stats). */
  function feedCard(item) {
    const top = item.rank <= 3 ? ` rank-top rank-${item.rank}` : "";
    return el("li", { class: "card", dataset: { videoId: item.videoId, rank: item.rank } },
      el("div", { class: "thumb" },
        image(item.thumbnailUrl, thumbFallback(item.videoId), { width: 640, height: 360 }),
        el("span", { class: `rank${top}`, title: `Rank ${item.rank}` }, String(item.rank)),
        el("span", { class: "score", title: `hotScore ${item.hotScore}` },
          icon("flame"), fmt.score(item.hotScore))),
      el("div", { class: "card-body" },
        el("h3", { class: "title", title: item.title }, item.title),
        creator(item.creator),
        stats(item.stats)));
  }

  /** Replace a list's children, reusing nodes of unchanged items (no image reloads);
      with ``animate``, items glide from their old to their new place. */
  function renderList(list, items, build, { animate = false } = {}) {
    const old = new Map();
    const before = new Map();
    for (const node of list.children) {
      old.set(node.dataset.key, node);
      if (animate) before.set(node.dataset.videoId, node.getBoundingClientRect());
    }
    const nodes = items.map((item) => {
      const key = JSON.stringify(item);
      const node = old.get(key) || build(item);
      node.dataset.key = key;
      return node;
    });
    list.replaceChildren(...nodes);
    list.setAttribute("aria-busy", "false");
    for (const node of animate ? nodes : []) {
      const from = before.get(node.dataset.videoId);
      const to = node.getBoundingClientRect();
      if (from && (from.left !== to.left || from.top !== to.top)) {
        node.animate(
          [{ transform: `translate(${from.left - to.left}px, ${from.top - to.top}px)` }, { transform: "none" }],
          { duration: 700, easing: "cubic-bezier(.2,.7,.2,1)" },
        );
      }
    }
  }

  window.Hot = {
    ApiError, api, session, start, showError, showNotice, hideNotice, showSignIn, toast,
    el, icon, image, fmt, stats, creator, feedCard, renderList, thumbFallback, avatarFallback, $,
  };
})();
