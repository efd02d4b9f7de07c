// The claims a member has sent from this browser, kept in IndexedDB until storage holds every
// byte of them, and the one routine that sends them. Loaded by the upload page (upload.js) and
// by its service worker (upload-sw.js, Background Sync), so a claim goes out the same way
// whether the tab is open or not; a Web Lock per claim keeps the two from sending it at once.
//
// Why no Uppy here: the page needs four things from an uploader — keep the file (a Blob in
// IndexedDB), ask storage which parts it holds (ListParts, through the API's registration)
// before every resume, send the missing parts one by one or a few at a time, and count only
// what storage confirmed. That is this file, on plain fetch and the API's presigned part URLs,
// in a few kilobytes; Uppy's bundle was 575 KB before the first byte on a 50 KB/s link, and its
// progress counts bytes handed to the browser.
//
// No words in here: the page says everything, from the site's catalogue.
(function (scope) {
  "use strict";
  const MiB = 1024 * 1024;
  const SMALLEST_PART = 5 * MiB; // S3's floor for every part but the last
  const LARGEST_PART = 64 * MiB;
  const PART_SECONDS = 20; // a part should take about this long on the measured link
  const KiB = 1024;
  const SMALLEST_CHUNK = 256 * KiB; // a slow link's staged chunks (the API's mvq.media.chunks)
  const LARGEST_CHUNK = 1 * MiB;
  const CHUNK_SECONDS = 4;
  const AHEAD = 8; // chunk URLs asked for at once
  const CLAIMS = "claims";
  const BLOBS = "blobs";
  const META = "meta";

  // ---- IndexedDB -----------------------------------------------------------------------------
  const done = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  function open(name) {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore(CLAIMS, { keyPath: "id" });
      db.createObjectStore(BLOBS);
      db.createObjectStore(META);
    };
    return done(request);
  }
  const store = (db, name, mode = "readonly") => db.transaction(name, mode).objectStore(name);
  const claims = async (db) => (await done(store(db, CLAIMS).getAll()))
    .sort((a, b) => a.created - b.created);
  const claim = (db, id) => done(store(db, CLAIMS).get(id));
  const putClaim = (db, value) => done(store(db, CLAIMS, "readwrite").put(value));
  const blob = (db, key) => done(store(db, BLOBS).get(key));
  const putBlob = (db, key, value) => done(store(db, BLOBS, "readwrite").put(value, key));
  const dropBlob = (db, key) => done(store(db, BLOBS, "readwrite").delete(key));
  const meta = (db, key) => done(store(db, META).get(key));
  const putMeta = (db, key, value) => done(store(db, META, "readwrite").put(value, key));
  async function dropClaim(db, id) {
    const found = await claim(db, id);
    for (const file of found?.files || []) await dropBlob(db, file.key);
    await done(store(db, CLAIMS, "readwrite").delete(id));
  }

  // ---- the link ------------------------------------------------------------------------------
  // Bytes a second, measured on the parts storage confirmed (moving average), kept for the next
  // file and the next visit. Unknown, the link is taken as slow: a 5 MiB part lost costs less
  // than a larger one, and a fast link still fills its pipe with several at once.
  async function linkRate(db) { return (await meta(db, "link"))?.rate || 0; }
  async function measured(db, bytes, seconds) {
    if (seconds <= 0) return;
    const now = bytes / seconds;
    const before = await linkRate(db);
    await putMeta(db, "link", { rate: before ? 0.6 * before + 0.4 * now : now, at: Date.now() });
  }
  function partSize(rate) {
    if (!rate) return SMALLEST_PART;
    const fits = Math.floor((rate * PART_SECONDS) / MiB) * MiB;
    return Math.min(LARGEST_PART, Math.max(SMALLEST_PART, fits));
  }
  // A part goes whole when the link sends it in PART_SECONDS; on a slower (or unmeasured)
  // link it goes in chunks of about CHUNK_SECONDS, a power of two that a drop costs little of.
  function pieceSize(rate, partBytes) {
    if (rate && rate * PART_SECONDS >= partBytes) return partBytes;
    if (!rate) return 512 * KiB;
    let chunk = SMALLEST_CHUNK;
    while (chunk * 2 <= Math.min(LARGEST_CHUNK, rate * CHUNK_SECONDS)) chunk *= 2;
    return chunk;
  }
  // Parts at once: one on a slow link, so each finishes (and counts) as soon as it can.
  function parallel(rate) {
    if (!rate || rate < 1 * MiB) return 1;
    return rate < 4 * MiB ? 2 : 4;
  }

  // ---- the API -------------------------------------------------------------------------------
  class Refused extends Error { // the API's or storage's final answer: trying again won't help
    constructor(message, code) { super(message); this.code = code; }
  }
  class Dropped extends Error {} // the link, a timeout or a server's 5xx: try again later

  async function call(item, path, { method = "GET", body, headers = {} } = {}) {
    let res;
    try {
      res = await fetch(path, {
        method,
        credentials: "same-origin",
        headers: {
          "X-CSRF-Token": item.csrf || "",
          Accept: "application/json",
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new Dropped(String(err));
    }
    if (res.ok) return res.status === 204 ? null : res.json();
    const data = await res.json().catch(() => null);
    const error = data?.error || {};
    if (res.status === 401) throw new Dropped("signed out"); // sent once the member signs in
    if (res.status === 408 || res.status === 429 || res.status >= 500) throw new Dropped(String(res.status));
    throw new Refused(error.message || String(res.status), error.code || String(res.status));
  }

  // ---- sending one claim ---------------------------------------------------------------------
  // `hooks.changed(item)` after every step the page would show; `hooks.signal` stops it (the
  // page going away needs nothing: an unconfirmed part is simply sent again).
  // Returns "done", "busy" (another tab or the service worker holds it), "unhashed" or throws
  // Dropped (try again when the link is back).
  async function send(db, id, hooks = {}) {
    const lock = `${db.name}:${id}`;
    if (!scope.navigator.locks) return sendLocked(db, id, hooks);
    return scope.navigator.locks.request(lock, { ifAvailable: true }, (held) => (
      held ? sendLocked(db, id, hooks) : "busy"
    ));
  }

  async function sendLocked(db, id, hooks) {
    const item = await claim(db, id);
    if (!item || item.state === "done") return "done";
    if (item.state === "refused") return "refused";
    if (item.files.some((f) => !f.sha256)) return "unhashed";
    // The page draws what the service worker sends too: it hears of each step on this channel.
    const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(db.name) : null;
    const changed = async () => {
      if (item.sending) item.sending = Date.now(); // fresh: the page shows it as sending
      await putClaim(db, item);
      hooks.changed?.(item);
      channel?.postMessage(item.id);
    };
    item.sending = Date.now();
    item.dropped = false;
    await changed();
    try {
      await create(item);
      await changed();
      // Every file registered before any completes: the first completed file starts the
      // claim's checks, and from then on the API takes no more files for it.
      for (const file of item.files) {
        if (file.done || file.error) continue;
        try {
          await register(db, item, file);
        } catch (err) {
          if (!(err instanceof Refused)) throw err;
          file.error = err.message;
        }
        await changed();
      }
      for (const file of item.files) {
        if (file.done || file.error) continue;
        try {
          await upload(db, item, file, changed, hooks);
          await complete(item, file);
          file.done = true;
          await dropBlob(db, file.key); // the browser's copy is no longer needed
        } catch (err) {
          if (!(err instanceof Refused)) throw err;
          file.error = err.message;
        }
        await changed();
      }
      item.state = "done";
      item.sending = 0;
      await changed();
      return "done";
    } catch (err) {
      item.sending = 0;
      if (err instanceof Refused && !item.claim_id) {
        item.state = "refused"; // the claim itself was refused: nothing was created
        item.error = err.message;
        item.field = err.code === "bad_position" ? "position" : "";
      } else {
        item.dropped = true;
      }
      await changed();
      if (err instanceof Refused) return "refused";
      throw err;
    } finally {
      channel?.close();
    }
  }

  async function create(item) {
    if (item.claim_id) return;
    const body = { ...item.body };
    if (item.position && body.lat === undefined) {
      // MGRS is read by the server (the page vendors no second converter), so a position
      // typed offline is read when the link is back.
      const found = await call(item, `${item.position_url}?${new URLSearchParams({ text: item.position })}`);
      body.lat = found.lat;
      body.lon = found.lon;
      item.body = body;
    }
    // The key was made when Send was pressed: after a lost answer or a reload the same key
    // gives back the same claim, never a second one.
    const created = await call(item, "/api/v1/submissions", {
      method: "POST", body, headers: { "Idempotency-Key": item.key },
    });
    item.claim_id = created.id;
  }

  // Registering a file again (same SHA-256) answers with the same media, fresh URLs and the
  // parts storage holds (S3 ListParts): the call behind the first start, every resume and every
  // URL refresh. What storage lists is the truth about what is confirmed.
  async function register(db, item, file) {
    const answer = await call(item, `/api/v1/submissions/${item.claim_id}/media`, {
      method: "POST",
      body: {
        filename: file.name, size: file.size, sha256: file.sha256,
        content_type: file.type || "application/octet-stream",
        part_size: partSize(await linkRate(db)),
      },
    });
    const up = answer.upload;
    file.media_id = answer.media_id;
    file.mode = up.mode;
    file.part_size = up.part_size;
    file.urls = up.urls;
    file.headers = up.headers || {};
    file.urls_at = Date.now();
    file.ttl = up.expires_in || 300;
    if (up.mode === "multipart" && answer.status === "awaiting_upload") {
      // Whole parts, and the chunks a slow link staged (listed by the API from storage).
      file.confirmed = {};
      held(file, await call(item, `/api/v1/media/${file.media_id}/chunks`, { method: "POST", body: {} }));
    }
    file.listed = (file.listed || 0) + 1; // how many times storage was asked (tests read it)
  }

  // What storage holds of a file sent in parts: whole parts and staged chunks, by offset.
  function held(file, answer) {
    const confirmed = {};
    for (const p of answer.parts) confirmed[(p.part_number - 1) * answer.part_size] = p.size;
    for (const c of answer.staged) confirmed[c.offset] = c.size;
    file.confirmed = confirmed;
  }
  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

  async function fresh(db, item, file) {
    if (file.urls && Date.now() - file.urls_at < file.ttl * 500) return;
    await register(db, item, file);
  }

  async function put(url, body, headers, signal) {
    let res;
    try {
      res = await fetch(url, { method: "PUT", body, headers, signal, credentials: "omit" });
    } catch (err) {
      throw new Dropped(String(err));
    }
    if (res.ok) return;
    if (res.status === 403) return "expired"; // a presigned URL past its time: ask for fresh ones
    if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Dropped(String(res.status));
    throw new Refused(`storage: ${res.status}`, "storage");
  }

  async function upload(db, item, file, changed, hooks) {
    const data = await blob(db, file.key);
    if (!data) throw new Refused("lost", "lost"); // the browser dropped its copy
    if (file.mode === "single") {
      // Sent before a reload, it may be whole in storage already: the API's complete says so.
      if (file.tried) {
        try { await complete(item, file); file.completed_early = true; return; } catch (err) {
          if (!(err instanceof Refused) || err.code !== "not_uploaded") throw err;
        }
      }
      file.tried = true;
      await changed();
      for (let attempt = 0; ; attempt++) {
        await fresh(db, item, file);
        const started = performance.now();
        const got = await put(file.urls[0], data, file.headers, hooks.signal);
        if (got !== "expired") {
          await measured(db, file.size, (performance.now() - started) / 1000);
          file.confirmed = { 0: file.size };
          await changed();
          return;
        }
        if (attempt) throw new Refused("storage: 403", "storage");
        file.urls = null;
      }
    }
    // Pieces: a whole part by its part URL, or the part cut into chunks by the link (one path;
    // only the size differs). A part begun in chunks is finished in chunks of the same size.
    const count = Math.ceil(file.size / file.part_size);
    file.confirmed ||= {};
    const parts = [];
    for (let n = 1; n <= count; n++) parts.push(n);
    let pending = []; // the chunks of the part being sent, in order
    let asking = null; // the one call for chunk URLs under way
    async function nextPiece() {
      if (pending.length) return pending.shift();
      while (parts.length) {
        const n = parts.shift();
        const start = (n - 1) * file.part_size;
        const end = Math.min(file.size, start + file.part_size);
        if (file.confirmed[start] === end - start) continue; // the whole part is stored
        const begun = Object.keys(file.confirmed).some((at) => at > start && at < end) || file.confirmed[start];
        const piece = begun ? (file.chunk ||= 512 * KiB) : pieceSize(await linkRate(db), end - start);
        if (piece >= end - start) return { n, offset: start, size: end - start };
        file.chunk ||= piece;
        for (let at = start; at < end; at += file.chunk) {
          if (!file.confirmed[at]) pending.push({ n, offset: at, size: Math.min(file.chunk, end - at), chunk: true });
        }
        if (pending.length) return pending.shift();
      }
      return null;
    }
    let failure = null;
    let running = 0;
    let exhausted = false;
    await new Promise((resolve) => {
      const next = async () => {
        // The number at once follows the link, measured after every piece; chunks go two at a
        // time, so one's round trip hides behind the other's bytes.
        while (!failure && !exhausted) {
          const rate = await linkRate(db);
          if (running >= (file.chunk ? Math.max(2, parallel(rate)) : parallel(rate))) break;
          const piece = await nextPiece();
          if (!piece) { exhausted = true; break; }
          running += 1;
          (piece.chunk ? sendChunk(piece) : sendPart(piece)).then(() => {}, (err) => { failure ||= err; }).finally(() => {
            running -= 1;
            if ((failure || exhausted) && !running) resolve();
            else next();
          });
        }
        if (!running) resolve();
      };
      next();
    });
    if (failure) throw failure;

    async function sendPart({ n, offset, size }) {
      const bytes = data.slice(offset, offset + size);
      for (let attempt = 0; ; attempt++) {
        await fresh(db, item, file);
        if (file.confirmed[offset] === size) return; // listed by storage on the refresh
        const started = performance.now();
        const got = await put(file.urls[n - 1], bytes, {}, hooks.signal);
        if (got !== "expired") {
          await measured(db, bytes.size, (performance.now() - started) / 1000);
          file.confirmed[offset] = bytes.size;
          await changed();
          return;
        }
        if (attempt) throw new Refused("storage: 403", "storage");
        file.urls = null;
      }
    }

    async function sendChunk(piece) {
      const bytes = data.slice(piece.offset, piece.offset + piece.size);
      for (let attempt = 0; ; attempt++) {
        const url = await chunkUrl(piece);
        if (!url) return; // storage holds it already
        const started = performance.now();
        const got = await put(url.url, bytes, url.headers, hooks.signal);
        if (got !== "expired") {
          await measured(db, bytes.size, (performance.now() - started) / 1000);
          file.confirmed[piece.offset] = bytes.size;
          await changed();
          return;
        }
        if (attempt) throw new Refused("storage: 403", "storage");
        delete file.chunk_urls[piece.offset];
      }
    }

    // A chunk's URL names its SHA-256, so storage takes only its bytes. URLs are asked for a
    // few chunks ahead at once, hashed here first; they live a couple of minutes.
    async function chunkUrl(piece) {
      for (;;) {
        if (file.confirmed[piece.offset] === piece.size) return null;
        const known = file.chunk_urls?.[piece.offset];
        if (known && Date.now() - known.at < known.ttl * 500) return known;
        if (asking) { await asking; continue; }
        asking = askChunks([piece, ...pending.slice(0, AHEAD - 1)]).finally(() => { asking = null; });
        await asking;
        if (!file.chunk_urls?.[piece.offset] && file.confirmed[piece.offset] !== piece.size) {
          throw new Refused("storage: no URL", "storage");
        }
      }
    }
    async function askChunks(pieces) {
      const chunks = [];
      for (const p of pieces) {
        const digest = await crypto.subtle.digest("SHA-256", await data.slice(p.offset, p.offset + p.size).arrayBuffer());
        chunks.push({ offset: p.offset, size: p.size, sha256: hex(digest) });
      }
      const answer = await call(item, `/api/v1/media/${file.media_id}/chunks`, { method: "POST", body: { chunks } });
      held(file, answer);
      file.chunk_urls = {};
      for (const u of answer.urls) file.chunk_urls[u.offset] = { url: u.url, headers: u.headers, at: Date.now(), ttl: answer.expires_in };
    }
  }

  async function complete(item, file) {
    if (file.completed_early) return;
    // No parts listed: the server completes from what storage holds, which is the truth.
    const answer = await call(item, `/api/v1/media/${file.media_id}/complete`, { method: "POST", body: {} });
    if (answer.status === "failed") throw new Refused(answer.failure_reason || "failed", "failed");
  }

  // Every claim still to send, oldest first; stops at the first dropped link.
  async function sendAll(db, hooks = {}) {
    let dropped = false;
    for (const item of await claims(db)) {
      if (item.state !== "queued") continue;
      try {
        await send(db, item.id, hooks);
      } catch (err) {
        if (!(err instanceof Dropped)) throw err;
        dropped = true;
        break;
      }
    }
    return dropped ? "dropped" : "sent";
  }

  const confirmedBytes = (file) => Object.values(file.confirmed || {}).reduce((a, b) => a + b, 0);

  scope.mvqQueue = {
    open, claims, claim, putClaim, dropClaim, blob, putBlob, dropBlob, send, sendAll,
    confirmedBytes, partSize, pieceSize, parallel, linkRate, Dropped, Refused,
  };
})(self);
