// Keyboard shortcuts, the lease (heartbeat, countdown, idle release, loss), the approval
// confirmation, the undo toast and the footage veil. No build step, no framework. Every word
// shown comes translated from the page (#review-strings), never from this file.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const media = document.getElementById("media");
  const stringsEl = document.getElementById("review-strings");
  const words = stringsEl ? JSON.parse(stringsEl.textContent) : {};

  // Seeing the footage is on record: the first unveil or play of this page reports it by a
  // POST with the CSRF token (the page's GET writes nothing).
  let viewReported = false;
  function reportView() {
    if (viewReported || !media?.dataset.viewedUrl) return;
    viewReported = true;
    fetch(media.dataset.viewedUrl, { method: "POST", headers: { "X-CSRF-Token": csrf } })
      .catch(() => { viewReported = false; });
  }
  media?.querySelectorAll("video").forEach((v) => v.addEventListener("play", reportView));

  function unveil() {
    if (!media) return;
    media.classList.remove("veiled");
    media.querySelectorAll("video").forEach((v) => { v.muted = false; });
    reportView();
  }
  document.getElementById("unveil")?.addEventListener("click", unveil);

  function submit(id) {
    const form = document.getElementById(id);
    if (form && !form.closest(".locked")) form.requestSubmit();
  }

  // A verdict too fast for the footage (mvq/review/pace.py): before the footage was shown, or
  // sooner than its floor after the claim, the same key must be pressed again, with the reason
  // said. The server refuses such a verdict without that second key as well; asking here only
  // spares the round trip. The warning shown is put on record by a POST.
  const panel = document.getElementById("decide");
  const paceBox = document.getElementById("pace-warning");
  const loadedAt = Date.now();
  let paceConfirmed = false;
  let pacePending = null;  // the form that waits for its second key
  function paceReasons() {
    const reasons = [];
    const elapsed = Number(panel.dataset.paceElapsed) + (Date.now() - loadedAt) / 1000;
    if (panel.dataset.paceViewed !== "1" && !viewReported) reasons.push(words.not_viewed);
    if (elapsed < Number(panel.dataset.paceFloor)) {
      reasons.push((words.too_fast || "").replace("{elapsed}", String(Math.floor(elapsed))));
    }
    return reasons;
  }
  // True when the warning stops this verdict; the second key for the same form lets it go.
  function paceStops(formId) {
    if (!paceBox || paceConfirmed) return false;
    if (pacePending === formId) {
      paceConfirmed = true;
      panel.querySelectorAll('input[name="override"]').forEach((i) => { i.value = "1"; });
      paceBox.hidden = true;
      return false;
    }
    const reasons = paceReasons();
    if (!reasons.length) return false;
    pacePending = formId;
    document.getElementById("pace-warning-text").textContent =
      [words.pace_intro, ...reasons, words.pace_again].join(" ");
    document.getElementById("pace-key").textContent = formId === "approve-form" ? "a" : "Enter";
    paceBox.hidden = false;
    document.getElementById("pace-confirm").focus();
    const token = document.querySelector(`#${formId} input[name="lease_token"]`)?.value;
    fetch(panel.dataset.paceUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ lease_token: token, decision: formId === "approve-form" ? "approve" : "reject" }),
    }).catch(() => {});
    return true;
  }
  function cancelPace() {
    if (!paceBox || paceBox.hidden) return false;
    paceBox.hidden = true;
    pacePending = null;
    document.getElementById("approve")?.focus();
    return true;
  }
  document.getElementById("pace-cancel")?.addEventListener("click", cancelPace);
  document.getElementById("pace-confirm")?.addEventListener("click", () => {
    const formId = pacePending;
    paceStops(formId);
    if (formId === "approve-form") approve(); else submit(formId);
  });
  document.getElementById("reject-form")?.addEventListener("submit", (ev) => {
    if (paceStops("reject-form")) ev.preventDefault();
  });

  // The approval of a claim that may be paid already or copies another takes a second press.
  const approveForm = document.getElementById("approve-form");
  const confirmBox = document.getElementById("approve-confirm");
  let confirmed = false;
  function askToConfirm() {
    if (!confirmBox) return false;
    document.getElementById("approve-confirm-text").textContent = words.confirm || "";
    confirmBox.hidden = false;
    document.getElementById("approve-confirm-button").focus();
    return true;
  }
  function approve() {
    if (!approveForm) return;
    if (paceStops("approve-form")) return;
    if (confirmBox && !confirmed) {
      if (confirmBox.hidden) { askToConfirm(); return; }
      confirmed = true;  // the second press
    }
    submit("approve-form");
  }
  approveForm?.addEventListener("submit", (ev) => {
    if (paceStops("approve-form")) { ev.preventDefault(); return; }
    if (confirmBox && !confirmed) { ev.preventDefault(); askToConfirm(); }
  });
  document.getElementById("approve-confirm-button")?.addEventListener("click", () => {
    confirmed = true;
    submit("approve-form");
  });
  function cancelConfirm() {
    if (confirmBox && !confirmBox.hidden) {
      confirmBox.hidden = true;
      document.getElementById("approve")?.focus();
    }
  }
  document.getElementById("approve-cancel")?.addEventListener("click", cancelConfirm);

  // A suggested break is on record once it is shown (the server counts it once a stretch).
  const breakHint = document.getElementById("break-hint");
  if (breakHint?.dataset.recordUrl) {
    fetch(breakHint.dataset.recordUrl, { method: "POST", headers: { "X-CSRF-Token": csrf } })
      .catch(() => {});
  }

  // A note typed in the decision panel outlives a session that ends mid-task: kept in this
  // tab's sessionStorage per page and field, and put back when the page opens again (after
  // the sign-in that brings the reviewer back here).
  document.querySelectorAll('#item-side input[type="text"], #item-side textarea').forEach((field) => {
    const key = `mvq-note:${location.pathname}:${field.form?.id || ""}:${field.name}`;
    try {
      const kept = sessionStorage.getItem(key);
      if (kept && !field.value) field.value = kept;
      field.addEventListener("input", () => {
        if (field.value) sessionStorage.setItem(key, field.value); else sessionStorage.removeItem(key);
      });
    } catch (e) { /* storage off: the note lives as long as the page */ }
  });

  // A request answered by the login page means the session ended: go there, so it says so
  // and brings the reviewer back to this page.
  function signedOut(res) {
    if (res.redirected && new URL(res.url).pathname === "/login") {
      location.assign(res.url);
      return true;
    }
    return false;
  }

  // The preference "after a decision, go straight to the next item" lives in a cookie, so the
  // server (which redirects after the decision) reads it; unchecked means back to the queue.
  document.getElementById("auto-next")?.addEventListener("change", (ev) => {
    const on = ev.target.checked ? "1" : "0";
    document.cookie = `mvq_auto_next=${on}; path=/; max-age=${400 * 24 * 3600}; SameSite=Lax`;
  });

  // Seniors' bulk actions: one box ticks (or clears) every row of the page.
  document.getElementById("bulk-all")?.addEventListener("change", (ev) => {
    for (const box of document.querySelectorAll('input[name="item_id"][form="bulk-form"]')) {
      box.checked = ev.target.checked;
    }
  });

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape") { cancelPace() || cancelConfirm(); return; }
    // An open dialog (the keys' list, an enlarged still) has the keys: nothing is decided
    // behind it.
    if (document.querySelector("dialog[open]")) return;
    // Typing in a field keeps its keys; a checkbox or a button does not (after ticking the
    // queue's preference, `n` still claims).
    const typing = ev.target.closest &&
      ev.target.closest('textarea, select, input:not([type="checkbox"]):not([type="radio"]):not([type="button"]):not([type="submit"])');
    if (typing) {
      // Enter in the reject form sends it once a reason is chosen.
      if (ev.key === "Enter" && ev.target.closest("#reject-form")) {
        ev.preventDefault();
        submit("reject-form");
      }
      return;
    }
    const actions = {
      // The queue's button, or on an item page the same claim (own leased items first).
      n: () => submit(document.getElementById("claim-form") ? "claim-form" : "claim-next-form"),
      a: approve,
      r: () => { if (!document.querySelector(".decide.locked")) document.getElementById("reason")?.focus(); },
      e: () => submit("escalate-form"),
      u: unveil,
      z: () => submit("undo-form"),
      c: () => { submit("claim-item-form"); submit("claim-again-form"); },
    };
    const act = actions[ev.key];
    if (act) { ev.preventDefault(); act(); }
  });

  // The undo toast counts down to the moment the decision can no longer be taken back.
  const toast = document.getElementById("undo-toast");
  if (toast) {
    let left = Number(toast.dataset.secondsLeft || 0);
    const shown = document.getElementById("undo-seconds");
    const tick = setInterval(() => {
      left -= 1;
      if (shown) shown.textContent = String(Math.max(0, left));
      if (left <= 0) {
        clearInterval(tick);
        // Focus on the vanishing Undo would fall to the page's body: hand it to the next
        // thing to do here instead (approve, claim), else the page's first control.
        const held = toast.contains(document.activeElement);
        toast.remove();
        if (held) {
          (document.querySelector("#approve:not([disabled]), #claim-item, #claim-form button") ||
            document.querySelector("main a[href], main button:not([disabled])"))?.focus();
        }
      }
    }, 1000);
  }

  // The lease: a countdown to the moment the item goes back, renewed by a heartbeat while the
  // reviewer is active, released after the idle time, and the controls locked once it is lost.
  // Activity is a key, a click, a mouse move, a scroll or touch, and a clip that is playing
  // (watching a long clip without touching anything is work, not absence).
  const lease = document.getElementById("lease");
  if (!lease) return;
  const token = lease.dataset.leaseToken;
  const idleMs = Number(lease.dataset.idleSeconds || 300) * 1000;
  const leaseMs = Number(lease.dataset.leaseSeconds || 600) * 1000;
  // The server's clock may differ from this machine's: count from the offset between them.
  const skew = Date.parse(lease.dataset.now) - Date.now();
  let expires = Date.parse(lease.dataset.expires) - skew;
  let lastActive = Date.now();
  let gone = false;
  const countdown = document.getElementById("lease-countdown");
  const warning = document.getElementById("lease-warning");

  ["keydown", "pointerdown", "pointermove", "wheel", "scroll", "touchstart"].forEach((kind) =>
    document.addEventListener(kind, () => { lastActive = Date.now(); }, { passive: true, capture: true }));
  const playing = () => [...document.querySelectorAll("video")].some((v) => !v.paused && !v.ended);

  function lose(message) {
    if (gone) return;
    gone = true;
    document.getElementById("lease-status").hidden = true;
    warning.hidden = true;
    document.getElementById("lease-lost-text").textContent = message;
    document.getElementById("lease-lost").hidden = false;
    const panel = document.getElementById("decide");
    if (panel) {
      panel.classList.add("locked");
      panel.querySelectorAll("button, input, select, textarea").forEach((el) => { el.disabled = true; });
    }
    document.getElementById("claim-again")?.focus();
  }

  async function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
  }

  async function beat() {
    if (gone) return;
    try {
      const res = await post(lease.dataset.heartbeatUrl, { lease_token: token });
      if (signedOut(res)) return;
      if (res.ok) {
        const body = await res.json();
        expires = Date.parse(body.lease_expires_at) - (Date.parse(body.now) - Date.now());
      } else {
        const body = await res.json().catch(() => ({}));
        lose(body.message || words.lost);
      }
    } catch (e) {
      warning.textContent = words.offline || "";
      warning.hidden = false;
    }
  }

  let releasing = false;
  async function releaseIdle() {
    if (gone || releasing) return;
    releasing = true;
    await post(lease.dataset.releaseUrl, { lease_token: token, reason: "idle" }).catch(() => null);
    lose(words.idle);
  }

  const beatEvery = Math.max(2000, Math.min(leaseMs / 3, 60000));
  let lastBeat = Date.now();
  function tick() {
    if (gone) return;
    const now = Date.now();
    if (playing()) lastActive = now;
    const idleAt = lastActive + idleMs;
    if (now >= idleAt) { releaseIdle(); return; }
    if (now >= expires) { lose(words.lost); return; }
    // Renew only for someone at work; an idle page lets its lease run down to the release.
    if (now - lastBeat >= beatEvery && now - lastActive < beatEvery) { lastBeat = now; beat(); }
    const until = Math.min(idleAt, expires);
    const left = Math.max(0, Math.round((until - now) / 1000));
    countdown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left <= 60) {
      if (warning.hidden) { warning.textContent = words.warning || ""; warning.hidden = false; }
    } else if (!warning.hidden && warning.textContent === words.warning) {
      warning.hidden = true;
    }
  }
  tick();
  setInterval(tick, 1000);
})();

// A filter applied as soon as it changes: forms marked data-autosubmit lose their button
// (kept for a browser without this script) and send themselves.
(function () {
  "use strict";
  document.querySelectorAll("form[data-autosubmit]").forEach((form) => {
    form.querySelectorAll("[data-without-script]").forEach((b) => { b.hidden = true; });
    form.addEventListener("change", () => form.requestSubmit());
  });
})();
