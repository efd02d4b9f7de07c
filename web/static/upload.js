// The unit's upload page: a claim and its files, sent to the JSON API with the session cookie
// and the page's CSRF token, bytes straight to S3 by presigned URL. Built for a phone on a bad
// link: every file is hashed (SHA-256, streamed) and registered before its bytes go; the parts
// go up with Uppy's AwsS3 uploader; Golden Retriever keeps the files (IndexedDB) and the upload's
// state (localStorage) across a reload or a closed tab; and every start, first or resumed, asks
// the server which parts S3 holds already, so none is sent twice. No build step. Every word
// shown comes translated from the page (#upload-strings), never from this file.
// Plain JavaScript where Uppy has nothing that fits: the hashing (no Uppy plugin hashes), the
// list of files (Uppy's Dashboard speaks from its own locale packs, not the site's catalogue,
// and draws far more than a phone needs) and the retry when the link is back (uppy.retryAll
// would also retry what the API refused for good, and race a batch still running).
(function () {
  "use strict";
  const app = document.getElementById("upload-app");
  if (!app || !window.Uppy || !window.hashwasm) return;
  const words = JSON.parse(document.getElementById("upload-strings").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const { Uppy, AwsS3, GoldenRetriever } = window.Uppy;
  const storeId = app.dataset.storeId;
  const maxBytes = Number(app.dataset.maxBytes);
  const claimKey = `${storeId}:claim`;
  const draftKey = `${storeId}:draft`;
  const HASH_CHUNK = 4 * 1024 * 1024;
  const RETRY_MS = [1000, 3000, 5000, 10000, 20000];
  const AUTO_RETRIES = 5;

  const $ = (id) => document.getElementById(id);
  const form = $("claim-form");
  const list = $("file-list");
  const sent = $("sent");
  const status = $("sent-status");

  // ---- the JSON API ------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(message, status, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const backOnline = () => new Promise((resolve) => {
    if (navigator.onLine) resolve();
    else window.addEventListener("online", () => resolve(), { once: true });
  });

  // Offline, a call waits for the link to come back; a dropped or failing answer (5xx, 429) is
  // tried again after a pause; a refusal (other 4xx) is final and carries the API's message.
  async function api(path, { method = "GET", body, headers = {} } = {}) {
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await fetch(path, {
          method,
          credentials: "same-origin",
          headers: {
            "X-CSRF-Token": csrf,
            Accept: "application/json",
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        if (!navigator.onLine) { attempt -= 1; await backOnline(); continue; }
        if (attempt >= RETRY_MS.length) throw new ApiError(words.network, 0, "network");
        await sleep(RETRY_MS[attempt]);
        continue;
      }
      if (res.ok) return res.status === 204 ? null : res.json();
      const data = await res.json().catch(() => null);
      if ((res.status === 429 || res.status >= 500) && attempt < RETRY_MS.length) {
        await sleep(RETRY_MS[attempt]);
        continue;
      }
      throw new ApiError(data?.error?.message || String(res.status), res.status, data?.error?.code);
    }
  }
  const refusal = (err) => err instanceof ApiError && err.status >= 400 && err.status < 500 &&
    err.status !== 408 && err.status !== 429;

  // ---- the claim, kept in this browser until its files are done ----------------------------
  const load = (key) => { try { return JSON.parse(localStorage.getItem(key)); } catch (e) { return null; } };
  const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---- Uppy --------------------------------------------------------------------------------
  const uppy = new Uppy({ id: storeId, autoProceed: false, allowMultipleUploadBatches: true });
  // The defaults keep no file over 10 MB and 300 MB in all: a phone's clip would be lost with
  // the tab. Up to the server's own limit; the browser's quota still has the last word, and a
  // file it would not keep is asked for again after a reload ("ghost").
  uppy.use(GoldenRetriever, { indexedDB: { maxFileSize: maxBytes, maxTotalSize: maxBytes } });

  const hashes = new Map(); // file id -> promise of its SHA-256
  const checking = new Map(); // file id -> share hashed so far
  const resuming = new Set();
  const refused = new Set(); // files whose last error was the API's refusal: no auto retry
  const autoRetries = new Map();
  let hashQueue = Promise.resolve();

  // One file at a time, read in chunks: a phone never holds a whole clip in memory.
  async function digest(id) {
    const file = uppy.getFile(id);
    if (!file || !file.data) throw new ApiError(words.ghost, 0, "ghost");
    const hasher = await window.hashwasm.createSHA256();
    hasher.init();
    const blob = file.data;
    checking.set(id, 0);
    draw();
    for (let at = 0; at < blob.size; at += HASH_CHUNK) {
      hasher.update(new Uint8Array(await blob.slice(at, at + HASH_CHUNK).arrayBuffer()));
      checking.set(id, Math.min(1, (at + HASH_CHUNK) / blob.size));
      draw();
    }
    const sha256 = hasher.digest("hex");
    checking.delete(id);
    if (uppy.getFile(id)) uppy.setFileMeta(id, { sha256 });
    return sha256;
  }
  function hashOf(id) {
    const known = uppy.getFile(id)?.meta.sha256;
    if (known) return Promise.resolve(known);
    if (!hashes.has(id)) {
      const job = hashQueue.then(() => digest(id));
      hashQueue = job.catch(() => null);
      hashes.set(id, job);
      job.catch(() => hashes.delete(id));
    }
    return hashes.get(id);
  }

  // Registering a file again (same SHA-256) answers with the same media, fresh URLs and the
  // parts S3 holds: the one call behind the first start, every resume and every URL refresh.
  const registering = new Map();
  function register(id) {
    if (!registering.has(id)) {
      const job = (async () => {
        const claim = load(claimKey);
        const file = uppy.getFile(id);
        const sha256 = await hashOf(id);
        const answer = await api(`/api/v1/submissions/${claim.id}/media`, {
          method: "POST",
          body: { filename: file.name, size: file.size, sha256, content_type: file.type || "" },
        });
        const up = answer.upload;
        uppy.setFileMeta(id, {
          media_id: answer.media_id, mode: up.mode, part_size: up.part_size, urls: up.urls,
          headers: up.headers, urls_at: Date.now(), urls_ttl: up.expires_in || 300,
        });
        if (up.mode === "multipart") {
          // The upload ID is ours (the media), known from here on: so AwsS3 always takes its
          // resuming path, which lists the parts S3 holds (listParts below) before sending any.
          uppy.setFileState(id, { s3Multipart: { uploadId: answer.media_id, key: answer.media_id } });
        }
        return up;
      })();
      registering.set(id, job);
      job.finally(() => registering.delete(id)).catch(() => null);
    }
    return registering.get(id);
  }

  // URLs live for urls_ttl seconds: past half of it, ask for fresh ones before a PUT.
  async function fresh(id) {
    const meta = uppy.getFile(id).meta;
    if (meta.urls && Date.now() - meta.urls_at < meta.urls_ttl * 500) return meta;
    await register(id);
    return uppy.getFile(id).meta;
  }

  // The first file completed starts the claim's processing, and from then on the API takes
  // no more files for it: so nothing completes until every file is registered, or refused
  // for good (a file the API will not take must not hold the others back).
  function allRegistered() {
    return new Promise((resolve) => {
      const settled = () => uppy.getFiles().every((f) => f.meta.media_id || f.isGhost || refused.has(f.id));
      const check = () => {
        if (!settled()) return;
        uppy.off("state-update", check);
        resolve();
      };
      uppy.on("state-update", check);
      check();
    });
  }

  async function complete(id, parts) {
    await allRegistered();
    const meta = uppy.getFile(id).meta;
    const answer = await api(`/api/v1/media/${meta.media_id}/complete`, {
      method: "POST",
      body: parts ? { parts } : {},
    });
    if (answer.status === "failed") throw new ApiError(answer.failure_reason || words.failed, 422, "failed");
    uppy.setFileMeta(id, { completed: true });
  }

  uppy.use(AwsS3, {
    // Parallel requests: on a weak link fewer at once each finish sooner.
    limit: 3,
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
    shouldUseMultipart: (file) => file.meta.mode === "multipart",
    // AwsS3 hands over the file's bytes, not the file: find whose they are.
    getChunkSize: (data) => uppy.getFiles().find((f) => f.data === data)?.meta.part_size || 5 * 1024 * 1024,
    createMultipartUpload: (file) => {
      const { media_id: mediaId } = uppy.getFile(file.id).meta;
      return { uploadId: mediaId, key: mediaId };
    },
    listParts: async (file) => {
      const up = await register(file.id);
      return up.uploaded_parts.map((p) => ({ PartNumber: p.part_number, ETag: p.etag, Size: p.size }));
    },
    signPart: async (file, { partNumber }) => {
      const meta = await fresh(file.id);
      return { method: "PUT", url: meta.urls[partNumber - 1], headers: {} };
    },
    completeMultipartUpload: async (file, { parts }) => {
      await complete(file.id, parts.map((p) => ({ part_number: p.PartNumber, etag: p.ETag })));
      return {};
    },
    // The API has no abort: the server's sweeper ends uploads nobody finishes.
    abortMultipartUpload: async () => {},
    getUploadParameters: async (file) => {
      const meta = await fresh(file.id);
      return { method: "PUT", url: meta.urls[0], headers: meta.headers };
    },
  });

  // Before any bytes: hash and register each file. A file that fails leaves this upload, so a
  // retry of it never races the batch it came from.
  uppy.addPreProcessor(async (fileIDs, uploadID) => {
    await Promise.all(fileIDs.map(async (id) => {
      const file = uppy.getFile(id);
      if (!file || file.meta.media_id) return;
      if (file.isGhost) { uppy.setFileState(id, { error: words.ghost }); return; }
      try {
        await register(id);
      } catch (err) {
        uppy.emit("upload-error", uppy.getFile(id), err);
      }
    }));
    const { currentUploads } = uppy.getState();
    const upload = currentUploads[uploadID];
    if (upload) {
      const fileIDs = upload.fileIDs.filter((id) => !uppy.getFile(id)?.error);
      uppy.setState({ currentUploads: { ...currentUploads, [uploadID]: { ...upload, fileIDs } } });
    }
  });

  // A single PUT has no completion call in AwsS3: tell the API here.
  uppy.addPostProcessor(async (fileIDs) => {
    for (const id of fileIDs) {
      const file = uppy.getFile(id);
      if (!file || file.error || !file.progress.uploadComplete || file.meta.completed) continue;
      if (file.meta.mode !== "single") continue;
      try {
        await complete(id);
      } catch (err) {
        uppy.emit("upload-error", uppy.getFile(id), err);
      }
    }
  });

  uppy.on("upload-error", (file, err) => {
    if (!file) return;
    if (refusal(err)) refused.add(file.id);
    else refused.delete(file.id);
    draw();
  });
  uppy.on("upload-progress", (file) => { if (file) resuming.delete(file.id); });

  // Failures that are the link's (not the API's refusals) are tried again once nothing is
  // running: when the connection is back, or when a batch ends.
  function retryFailed() {
    if (!navigator.onLine || !load(claimKey)?.id) return;
    if (Object.keys(uppy.getState().currentUploads).length) return; // the batch's end retries
    for (const file of uppy.getFiles()) {
      if (!file.error || file.isGhost || refused.has(file.id)) continue;
      const n = autoRetries.get(file.id) || 0;
      if (n >= AUTO_RETRIES) continue;
      autoRetries.set(file.id, n + 1);
      uppy.retryUpload(file.id).catch(() => null);
    }
  }
  uppy.on("complete", () => {
    draw();
    setTimeout(retryFailed, RETRY_MS[1]);
  });
  window.addEventListener("online", () => {
    uppy.getFiles().forEach((f) => { if (f.progress.uploadStarted && !f.meta.completed) resuming.add(f.id); });
    draw();
    const claim = load(claimKey);
    if (claim && !claim.id) sendClaim();
    else retryFailed();
  });
  window.addEventListener("offline", () => draw());

  // ---- picking files -----------------------------------------------------------------------
  const formError = $("form-error");
  function showError(el, message) {
    el.textContent = message || "";
    el.hidden = !message;
  }

  function add(files) {
    showError(formError, "");
    for (const file of files) {
      if (!/^(video|image)\//.test(file.type || "")) { showError(formError, `${file.name}: ${words.not_media}`); continue; }
      if (file.size > maxBytes) { showError(formError, `${file.name}: ${words.too_big}`); continue; }
      const ghost = uppy.getFiles().find((f) => f.isGhost && f.name === file.name && f.size === file.size);
      try {
        const id = uppy.addFile({ name: file.name, type: file.type, data: file, source: "input" });
        if (ghost && ghost.id === id) {
          // The same file chosen again after a reload: its upload goes on where it was.
          uppy.retryUpload(id).catch(() => null);
        } else {
          hashOf(id).catch(() => null);
        }
      } catch (err) {
        showError(formError, `${file.name}: ${words.duplicate}`);
      }
    }
    draw();
  }
  for (const input of [$("files"), $("files-again")]) {
    input.addEventListener("change", () => { add(Array.from(input.files)); input.value = ""; });
  }
  for (const zone of [$("drop"), $("ghost-pick")]) {
    zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (ev) => {
      ev.preventDefault();
      zone.classList.remove("over");
      add(Array.from(ev.dataTransfer?.files || []));
    });
  }

  // ---- the claim form ----------------------------------------------------------------------
  const fields = ["choice", "position", "occurred", "note"];
  const draft = load(draftKey) || {};
  fields.forEach((name) => { if (draft[name]) $(name).value = draft[name]; });
  form.addEventListener("input", () => save(draftKey, Object.fromEntries(fields.map((n) => [n, $(n).value]))));

  async function readForm() {
    let ok = true;
    const fail = (name, message) => {
      showError($(`${name}-error`), message);
      if (ok) $(name).focus();
      ok = false;
    };
    ["choice", "position", "occurred"].forEach((n) => showError($(`${n}-error`), ""));
    showError(formError, "");
    if (!uppy.getFiles().length) { showError(formError, words.no_files); $("files").focus(); return null; }
    const choice = $("choice").value;
    if (!choice) fail("choice", words.no_choice);
    const [target, outcome] = choice.split("|");
    const body = { target_type: target, outcome };
    const when = $("occurred").value;
    if (when) body.occurred_at = new Date(when).toISOString(); // the phone's local time, as UTC
    const note = $("note").value.trim();
    if (note) body.note = note;
    const position = $("position").value.trim();
    if (ok && position) {
      try {
        const url = `${app.dataset.positionUrl}?${new URLSearchParams({ text: position })}`;
        const found = await api(url);
        body.lat = found.lat;
        body.lon = found.lon;
      } catch (err) {
        fail("position", err.message);
      }
    }
    return ok ? body : null;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const send = $("send");
    send.disabled = true;
    try {
      const body = await readForm();
      if (!body) return;
      // The key is kept before the claim is posted: after a reload or a lost answer, the same
      // key gives back the same claim, never a second one.
      const label = $("choice").selectedOptions[0].textContent.trim();
      save(claimKey, { key: newKey(), body, label, id: null });
      await sendClaim();
    } finally {
      send.disabled = false;
    }
  });

  let sending = null;
  function sendClaim() {
    sending ??= (async () => {
      const claim = load(claimKey);
      showSent(claim);
      status.textContent = words.sending;
      try {
        const created = await api("/api/v1/submissions", {
          method: "POST", body: claim.body, headers: { "Idempotency-Key": claim.key },
        });
        save(claimKey, { ...claim, id: created.id });
      } catch (err) {
        if (refusal(err)) {
          localStorage.removeItem(claimKey); // refused: nothing was created, the form is back
          showForm();
        }
        showError(formError, err.message);
        status.textContent = err.message;
        return;
      } finally {
        sending = null;
      }
      status.textContent = words.sent;
      uppy.upload().catch(() => null);
    })();
    return sending;
  }

  function showSent(claim) {
    form.hidden = true;
    sent.hidden = false;
    $("sent-choice").textContent = claim.label;
    sent.insertBefore(list, $("ghost-pick"));
    sent.insertBefore(formError, list);
  }
  function showForm() {
    sent.hidden = true;
    form.hidden = false;
    $("drop").after(list);
    form.prepend(formError);
  }

  $("another").addEventListener("click", () => {
    uppy.cancelAll();
    localStorage.removeItem(claimKey);
    localStorage.removeItem(draftKey);
    window.location.reload();
  });

  // ---- after a reload or a closed tab ------------------------------------------------------
  uppy.on("restored", () => {
    const claim = load(claimKey);
    for (const file of uppy.getFiles()) {
      if (file.meta.mode === "multipart" && file.meta.media_id && !file.s3Multipart?.uploadId) {
        uppy.setFileState(file.id, { s3Multipart: { uploadId: file.meta.media_id, key: file.meta.media_id } });
      }
    }
    if (claim?.id) {
      showSent(claim);
      uppy.getFiles().forEach((f) => { if (f.progress.uploadStarted && !f.meta.completed) resuming.add(f.id); });
      status.textContent = words.sent;
      // Unfinished batches go on from the step they were at; a failed file is tried again.
      const running = new Set(Object.values(uppy.getState().currentUploads).flatMap((u) => u.fileIDs));
      for (const file of uppy.getFiles()) {
        if (file.error && running.has(file.id)) uppy.setFileState(file.id, { error: null });
      }
      uppy.emit("restore-confirmed");
      setTimeout(retryFailed, 0);
    } else if (claim) {
      sendClaim(); // Send was pressed before the page went away
    } else {
      uppy.getFiles().forEach((f) => { if (!f.isGhost) hashOf(f.id).catch(() => null); });
    }
    draw();
  });

  // ---- the list of files -------------------------------------------------------------------
  const rows = new Map();
  let rowCount = 0;
  const locale = document.documentElement.lang || undefined;
  function size(n) {
    let unit = 0;
    let value = n;
    while (value >= 1024 && unit < words.bytes_units.length - 1) { value /= 1024; unit += 1; }
    const digits = unit === 0 ? 0 : 1;
    return `${value.toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${words.bytes_units[unit]}`;
  }

  function row(file) {
    let r = rows.get(file.id);
    if (r) return r;
    rowCount += 1;
    const li = document.createElement("li");
    li.className = "file";
    li.dataset.fileId = file.id;
    const head = document.createElement("div");
    head.className = "file-head";
    const name = document.createElement("span");
    name.className = "file-name";
    name.id = `file-name-${rowCount}`;
    const bytes = document.createElement("span");
    bytes.className = "file-size";
    head.append(name, bytes);
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.setAttribute("aria-labelledby", name.id);
    const state = document.createElement("p");
    state.className = "file-state";
    const sentBytes = document.createElement("p");
    sentBytes.className = "file-bytes";
    const reason = document.createElement("p");
    reason.className = "file-reason error";
    const actions = document.createElement("div");
    actions.className = "file-actions";
    const retry = document.createElement("button");
    retry.type = "button";
    retry.textContent = words.retry;
    retry.addEventListener("click", () => {
      refused.delete(file.id);
      autoRetries.delete(file.id);
      uppy.retryUpload(file.id).catch(() => null);
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = words.remove;
    remove.addEventListener("click", () => { uppy.removeFile(file.id); $("files").focus(); });
    actions.append(retry, remove);
    li.append(head, bar, state, sentBytes, reason, actions);
    r = { li, name, bytes, bar, state, bytes_sent: sentBytes, reason, retry, remove };
    rows.set(file.id, r);
    return r;
  }

  // [state, words, share sent, bytes sent in words]
  function describe(file, claimed) {
    const total = file.size || 0;
    const upBytes = file.progress.bytesUploaded || 0;
    const share = total ? upBytes / total : 0;
    const pct = (n) => `${Math.floor(n * 100)} %`;
    const counted = `${size(upBytes)} ${words.of} ${size(total)} · ${pct(share)}`;
    if (file.meta.completed) return ["done", words.done, 1, ""];
    if (file.error) return ["failed", words.failed, share, ""];
    if (file.isGhost) return ["ghost", words.ghost, share, ""];
    if (checking.has(file.id)) return ["checking", words.checking, checking.get(file.id), pct(checking.get(file.id))];
    if (!claimed) return ["waiting", words.waiting, 0, ""];
    if (!navigator.onLine) return ["offline", words.offline, share, counted];
    if (resuming.has(file.id)) return ["resuming", words.resuming, share, counted];
    if (file.progress.uploadComplete) return ["finishing", words.finishing, 1, ""];
    if (file.progress.uploadStarted) return ["uploading", words.uploading, share, counted];
    if (!file.meta.media_id) return ["registering", words.registering, 0, ""];
    return ["waiting", words.waiting, 0, ""];
  }

  let drawing = false;
  let finished = false;
  function draw() {
    if (drawing) return;
    drawing = true;
    requestAnimationFrame(() => { drawing = false; render(); });
  }
  function render() {
    const files = uppy.getFiles();
    const claimed = finished || Boolean(load(claimKey)?.id);
    for (const [id, r] of rows) {
      if (!uppy.getFile(id)) { r.li.remove(); rows.delete(id); }
    }
    for (const file of files) {
      const r = row(file);
      const [state, text, share, counted] = describe(file, claimed);
      r.li.dataset.state = state;
      r.name.textContent = file.name;
      r.bytes.textContent = size(file.size || 0);
      r.bar.value = Math.round(share * 100);
      r.state.textContent = text;
      r.bytes_sent.textContent = counted;
      r.bytes_sent.hidden = !counted;
      r.reason.textContent = state === "failed" ? file.error : "";
      r.reason.hidden = state !== "failed";
      r.retry.hidden = state !== "failed";
      r.remove.hidden = claimed;
      if (r.li.parentNode !== list) list.append(r.li);
    }
    $("ghost-pick").hidden = !(claimed && files.some((f) => f.isGhost));
    // Done when every file is in, or refused by the API for good (its reason stays by it).
    const settled = files.every((f) => f.meta.completed || (f.error && refused.has(f.id)));
    const done = claimed && files.some((f) => f.meta.completed) && settled;
    if (done && !finished) {
      finished = true;
      const id = load(claimKey)?.id;
      if (id) $("all-done").querySelector("a").href = `${app.dataset.claimsUrl}#claim-${id}`;
      $("all-done").hidden = false;
      status.textContent = files.every((f) => f.meta.completed) ? words.all_done : words.some_failed;
      // The claim stays known until another is started: a refused file may be tried again.
      localStorage.removeItem(draftKey);
    }
  }
  uppy.on("state-update", draw);
  draw();
})();
