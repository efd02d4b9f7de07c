// The unit's upload page, built for a phone on a bad link. A chosen file goes straight into
// this browser's IndexedDB (a Blob) and is hashed there; Send keeps the claim beside it, online
// or not, and upload-queue.js sends it: the claim, then each file's missing parts to storage by
// presigned URL, asking storage what it holds (ListParts, through the API) before every start
// and resume, so no confirmed part goes twice and no file is chosen twice. A service worker's
// Background Sync sends what is waiting when the link is back, the tab open or not; without
// one, the page sends it when it is next opened. Progress counts only what storage confirmed.
// No build step; every word shown comes translated from the page (#upload-strings).
(function () {
  "use strict";
  const app = document.getElementById("upload-app");
  const Q = window.mvqQueue;
  if (!app || !Q || !window.indexedDB) return;
  const words = JSON.parse(document.getElementById("upload-strings").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const storeId = app.dataset.storeId;
  const maxBytes = Number(app.dataset.maxBytes);
  const draftKey = `${storeId}:draft`;
  const DRAFT = "draft"; // the claim being filled in: its files are kept as they are chosen
  const RETRY_MS = 15000;
  const FRESH_MS = 60000; // a sender's mark older than this is a closed tab's

  const $ = (id) => document.getElementById(id);
  const form = $("claim-form");
  const list = $("file-list");
  const formError = $("form-error");
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k]);
  const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  function showError(el, message) {
    el.textContent = message || "";
    el.hidden = !message;
  }
  const locale = document.documentElement.lang || undefined;
  function size(n) {
    let unit = 0;
    let value = n;
    while (value >= 1024 && unit < words.bytes_units.length - 1) { value /= 1024; unit += 1; }
    const digits = unit === 0 ? 0 : 1;
    return `${value.toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${words.bytes_units[unit]}`;
  }
  const pct = (n) => `${Math.floor(n * 100)} %`;

  let db;
  let draft = { id: DRAFT, state: DRAFT, created: 0, files: [] };
  const hashing = new Map(); // file key -> share hashed so far

  // ---- hashing (SHA-256, streamed) ---------------------------------------------------------
  // hash-wasm is loaded when the first file is chosen, not with the page: a first visit on a
  // slow link gets the form sooner. One file at a time, read in chunks: a phone never holds a
  // whole clip in memory.
  let hasher = null;
  function loadHasher() {
    hasher ??= new Promise((resolve, reject) => {
      if (window.hashwasm) { resolve(window.hashwasm); return; }
      const script = document.createElement("script");
      script.src = app.dataset.hasher;
      script.onload = () => resolve(window.hashwasm);
      script.onerror = () => { hasher = null; reject(new Error("hasher")); };
      document.head.append(script);
    });
    return hasher;
  }
  let hashQueue = Promise.resolve();
  function hashLater(key, data, onHashed) {
    if (hashing.has(key)) return;
    hashing.set(key, 0);
    hashQueue = hashQueue.then(async () => {
      const sha = await (await loadHasher()).createSHA256();
      sha.init();
      const CHUNK = 4 * 1024 * 1024;
      for (let at = 0; at < data.size; at += CHUNK) {
        sha.update(new Uint8Array(await data.slice(at, at + CHUNK).arrayBuffer()));
        hashing.set(key, Math.min(1, (at + CHUNK) / data.size));
        draw();
      }
      hashing.delete(key);
      await onHashed(sha.digest("hex"));
      draw();
    }).catch(() => { hashing.delete(key); draw(); });
    return hashQueue;
  }

  // ---- choosing files ------------------------------------------------------------------------
  async function add(files) {
    showError(formError, "");
    for (const file of files) {
      if (!/^(video|image)\//.test(file.type || "")) { showError(formError, `${file.name}: ${words.not_media}`); continue; }
      if (file.size > maxBytes) { showError(formError, `${file.name}: ${words.too_big}`); continue; }
      if (draft.files.some((f) => f.name === file.name && f.size === file.size)) { showError(formError, `${file.name}: ${words.duplicate}`); continue; }
      const key = newKey();
      try {
        await Q.putBlob(db, key, file); // kept before anything else: a reload never asks for it
      } catch (err) {
        showError(formError, `${file.name}: ${words.no_storage}`);
        continue;
      }
      const kept = { key, name: file.name, type: file.type, size: file.size, sha256: null };
      draft.files.push(kept);
      await Q.putClaim(db, draft);
      hashLater(key, file, async (sha256) => { kept.sha256 = sha256; await saveHash(key, sha256); });
    }
    draw();
  }
  // The file may have moved from the draft into a sent claim while it was hashed.
  async function saveHash(key, sha256) {
    for (const item of await Q.claims(db)) {
      const file = item.files.find((f) => f.key === key);
      if (!file) continue;
      file.sha256 = sha256;
      await Q.putClaim(db, item);
      if (item.state === "queued") kick();
    }
  }

  $("files").addEventListener("change", () => { const input = $("files"); add(Array.from(input.files)); input.value = ""; });
  const zone = $("drop");
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault();
    zone.classList.remove("over");
    add(Array.from(ev.dataTransfer?.files || []));
  });

  // ---- the claim form ----------------------------------------------------------------------
  const fields = ["choice", "position", "occurred", "note"];
  const load = (key) => { try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; } };
  const typed = load(draftKey) || {};
  fields.forEach((name) => { if (typed[name]) $(name).value = typed[name]; });
  form.addEventListener("input", () => localStorage.setItem(draftKey, JSON.stringify(Object.fromEntries(fields.map((n) => [n, $(n).value])))));

  async function readForm() {
    let ok = true;
    const fail = (name, message) => {
      showError($(`${name}-error`), message);
      if (ok) $(name).focus();
      ok = false;
    };
    ["choice", "position", "occurred"].forEach((n) => showError($(`${n}-error`), ""));
    showError(formError, "");
    if (!draft.files.length) { showError(formError, words.no_files); $("files").focus(); return null; }
    const choice = $("choice").value;
    if (!choice) fail("choice", words.no_choice);
    const [target, outcome] = choice.split("|");
    const body = { target_type: target, outcome };
    const when = $("occurred").value;
    if (when) body.occurred_at = new Date(when).toISOString(); // the phone's local time, as UTC
    const note = $("note").value.trim();
    if (note) body.note = note;
    const position = $("position").value.trim();
    if (ok && position && navigator.onLine) {
      // Online, a mistyped position is told by its field now; offline, it is read when sent.
      const url = `${app.dataset.positionUrl}?${new URLSearchParams({ text: position })}`;
      try {
        const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        const data = await res.json();
        if (res.ok) { body.lat = data.lat; body.lon = data.lon; } else if (res.status === 422) fail("position", data.error.message);
      } catch (err) { /* the link dropped: read when sent */ }
    }
    return ok ? { body, position: body.lat === undefined ? position : "" } : null;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const send = $("send");
    send.disabled = true;
    try {
      const read = await readForm();
      if (!read) return;
      const item = {
        id: newKey(),
        key: newKey(), // the Idempotency-Key, kept before the claim is posted
        created: Date.now(),
        state: "queued",
        label: $("choice").selectedOptions[0].textContent.trim(),
        body: read.body,
        position: read.position,
        position_url: app.dataset.positionUrl,
        csrf,
        files: draft.files,
      };
      await Q.putClaim(db, item);
      draft = { id: DRAFT, state: DRAFT, created: 0, files: [] };
      await Q.putClaim(db, draft);
      localStorage.removeItem(draftKey);
      form.reset();
      await draw();
      $("queue").scrollIntoView({ block: "start" });
      if (!navigator.onLine) askForSync();
      kick();
    } finally {
      send.disabled = false;
    }
  });

  // ---- sending -----------------------------------------------------------------------------
  // Background Sync where the browser has it: the service worker sends when the link is back,
  // even with this tab closed. The page sends too while it is open; a Web Lock per claim lets
  // only one of them send it at a time.
  // The worker is registered when the page opens, online: offline, its script could not be
  // fetched, and a claim kept offline is exactly when it is needed.
  let registration = null;
  function registerWorker() {
    if (!("serviceWorker" in navigator) || !("SyncManager" in window)) return Promise.resolve(null);
    const url = `${app.dataset.worker}?${new URLSearchParams({ queue: app.dataset.queue })}`;
    registration ??= navigator.serviceWorker.register(url).then(async (reg) => {
      if (!reg.active) {
        await new Promise((resolve) => {
          const worker = reg.installing || reg.waiting;
          if (!worker) { resolve(); return; }
          worker.addEventListener("statechange", () => { if (worker.state === "activated") resolve(); });
        });
      }
      return reg;
    }).catch(() => null);
    return registration;
  }
  async function askForSync() {
    try {
      const reg = await registerWorker();
      await reg?.sync.register(storeId);
    } catch (err) { /* no Background Sync: the page sends when it is open */ }
  }

  let running = null;
  let again = null;
  function kick() {
    clearTimeout(again);
    if (running || !navigator.onLine) return running;
    running = (async () => {
      try {
        for (const item of await Q.claims(db)) {
          // A file hashed by nobody yet (the tab closed while it was): hash it from its copy.
          for (const file of item.files) {
            if (item.state !== "queued" || file.sha256 || file.done || hashing.has(file.key)) continue;
            const data = await Q.blob(db, file.key);
            if (data) hashLater(file.key, data, (sha256) => saveHash(file.key, sha256));
          }
        }
        const result = await Q.sendAll(db, { changed: () => draw() });
        const left = (await Q.claims(db)).some((c) => c.state === "queued");
        if (result === "dropped") {
          askForSync(); // the worker goes on when the link is back, if this tab has closed by then
          again = setTimeout(kick, RETRY_MS);
        }
        else if (left) again = setTimeout(kick, 2000); // sent by the worker, or still hashing
      } catch (err) {
        again = setTimeout(kick, RETRY_MS);
      } finally {
        running = null;
        draw();
      }
    })();
    return running;
  }
  window.addEventListener("online", () => { draw(); kick(); });
  window.addEventListener("offline", () => draw());
  // A phone switching apps hides the tab first and may close it after: hand what waits to the
  // worker while the page can still ask.
  document.addEventListener("visibilitychange", async () => {
    if (document.hidden && db && (await Q.claims(db)).some((c) => c.state === "queued")) askForSync();
  });
  if (typeof BroadcastChannel === "function") new BroadcastChannel(storeId).onmessage = () => draw();

  // ---- drawing -----------------------------------------------------------------------------
  // A file's state and line: [state, text, share confirmed].
  function describe(item, file) {
    const total = file.size || 0;
    const confirmed = Q.confirmedBytes(file);
    const share = total ? confirmed / total : 0;
    const counts = { confirmed: size(confirmed), total: size(total) };
    if (file.done) return ["done", words.done, 1];
    if (file.error) return ["failed", file.error === "lost" ? words.lost : `${words.failed}: ${file.error}`, share];
    if (hashing.has(file.key)) return ["checking", fill(words.checking, { share: pct(hashing.get(file.key)) }), share];
    if (item.state === DRAFT) return ["kept", words.kept, 0];
    if (item.state === "refused") return ["failed", words.claim_refused, 0];
    const sending = item.sending && Date.now() - item.sending < FRESH_MS;
    if (!navigator.onLine || (item.dropped && !sending)) {
      return [item.claim_id ? "offline" : "waiting", item.claim_id || confirmed ? fill(words.paused, counts) : words.waiting_link, share];
    }
    if (sending && file.media_id) return ["uploading", fill(words.uploading, counts), share];
    if (sending) return ["resuming", words.resuming, share];
    return ["waiting", words.waiting, share];
  }

  function fileRow(item, file, removable) {
    const [state, text, share] = describe(item, file);
    const li = document.createElement("li");
    li.className = "file";
    li.dataset.state = state;
    li.dataset.key = file.key;
    const head = document.createElement("div");
    head.className = "file-head";
    const name = document.createElement("span");
    name.className = "file-name";
    name.id = `file-${file.key}`;
    name.textContent = file.name;
    const bytes = document.createElement("span");
    bytes.className = "file-size";
    bytes.textContent = size(file.size);
    head.append(name, bytes);
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = Math.round(share * 100);
    bar.setAttribute("aria-labelledby", name.id);
    const line = document.createElement("p");
    line.className = "file-state";
    line.textContent = text;
    li.append(head, bar, line);
    if (removable) {
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = words.remove;
      remove.setAttribute("aria-describedby", name.id);
      remove.addEventListener("click", async () => {
        draft.files = draft.files.filter((f) => f.key !== file.key);
        await Q.putClaim(db, draft);
        await Q.dropBlob(db, file.key);
        draw();
        $("files").focus();
      });
      const actions = document.createElement("div");
      actions.className = "file-actions";
      actions.append(remove);
      li.append(actions);
    }
    return li;
  }

  function claimCard(item) {
    const li = document.createElement("li");
    li.className = "claim-card";
    li.dataset.claim = item.id;
    const settled = item.state === "done";
    const failed = item.files.some((f) => f.error);
    const offline = !navigator.onLine || item.dropped;
    li.dataset.state = settled ? "done" : item.state === "refused" ? "refused" : offline ? "waiting" : "sending";
    const title = document.createElement("h3");
    title.textContent = item.label;
    const line = document.createElement("p");
    line.className = "claim-state";
    line.textContent = settled ? (failed ? words.claim_some_failed : words.claim_done)
      : item.state === "refused" ? `${words.claim_refused}: ${item.error}`
        : offline ? words.claim_queued : words.claim_sending;
    const files = document.createElement("ul");
    files.className = "file-list";
    item.files.forEach((f) => files.append(fileRow(item, f, false)));
    li.append(title, line, files);
    if (settled || item.state === "refused") {
      const actions = document.createElement("p");
      actions.className = "claim-actions";
      if (item.claim_id) {
        const link = document.createElement("a");
        link.href = `${app.dataset.claimsUrl}#claim-${item.claim_id}`;
        link.textContent = words.see;
        actions.append(link);
      }
      const hide = document.createElement("button");
      hide.type = "button";
      hide.textContent = words.dismiss;
      hide.addEventListener("click", async () => { await Q.dropClaim(db, item.id); draw(); });
      actions.append(hide);
      li.append(actions);
    }
    return li;
  }

  let drawing = null;
  let redraw = false;
  function draw() {
    if (!db) return Promise.resolve();
    if (drawing) { redraw = true; return drawing; }
    drawing = (async () => {
      do {
        redraw = false;
        await render();
      } while (redraw);
      drawing = null;
    })();
    return drawing;
  }
  async function render() {
    const all = await Q.claims(db);
    const sent = all.filter((c) => c.state !== DRAFT);
    const waiting = sent.filter((c) => c.state === "queued").length;
    $("offline-note").hidden = navigator.onLine;
    $("queue").hidden = !sent.length;
    $("queue-list").replaceChildren(...sent.map(claimCard));
    const status = waiting ? fill(words.queue_waiting, { count: waiting }) : words.queue_none;
    if ($("queue-status").textContent !== status) $("queue-status").textContent = status;
    list.replaceChildren(...draft.files.map((f) => fileRow(draft, f, true)));
    app.dataset.ready = "1"; // the page is usable (first-load measurements wait for this)
  }

  // ---- opening the page ----------------------------------------------------------------------
  (async () => {
    try {
      db = await Q.open(storeId);
    } catch (err) {
      showError(formError, words.no_storage);
      return;
    }
    draft = (await Q.claim(db, DRAFT)) || draft;
    // A session's CSRF token changes with each sign-in: what waits is sent with today's.
    for (const item of await Q.claims(db)) {
      if (item.state === "queued" && item.csrf !== csrf && csrf) { item.csrf = csrf; await Q.putClaim(db, item); }
    }
    for (const file of draft.files) {
      if (file.sha256) continue;
      const data = await Q.blob(db, file.key);
      if (data) hashLater(file.key, data, (sha256) => { file.sha256 = sha256; return saveHash(file.key, sha256); });
    }
    await draw();
    registerWorker();
    if ((await Q.claims(db)).some((c) => c.state === "queued")) kick();
    // The lines say "sending" from the claim's own mark: redraw now and then, so a stale one
    // (a tab that closed mid-part) turns into "paused".
    setInterval(() => { if (!document.hidden) draw(); }, 5000);
  })();
})();
