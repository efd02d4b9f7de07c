// The item page's tools for looking: frame step, slow motion, zoom on a still, duplicates side
// by side in step, and the still nearest the playhead marked. (Times arrive in the reader's
// zone from the server, UTC on hover.)
// Global keys (claim, decide, unveil, undo) stay in app.js; this file only adds keys nobody
// else uses: Space and "k" play and pause, "," and "." step a frame, "s" toggles slow motion,
// "+" and "-" zoom the clip, the arrows move a zoomed clip, "?" opens the list of every key.
(function () {
  "use strict";
  const item = document.getElementById("item");
  if (!item) return;

  const videos = [...document.querySelectorAll("#media video.footage")];
  // The clip the keys act on: the last one the reviewer touched, else the first.
  let current = videos[0] || null;
  videos.forEach((v) => {
    ["play", "pause", "seeked", "click", "focus"].forEach((name) =>
      v.addEventListener(name, () => { current = v; }));
  });

  function step(direction) {
    if (!current) return;
    const fps = Number(current.dataset.fps) || 25;
    current.pause();
    const t = current.currentTime + direction / fps;
    current.currentTime = Math.max(0, Math.min(current.duration || t, t));
  }

  function toggleSlow() {
    if (!current) return;
    const rate = current.playbackRate === 1 ? 0.25 : 1;
    // Every clip on the page at once, so a side-by-side comparison stays in step.
    new Set([current, ...videos]).forEach((v) => { v.playbackRate = rate; });
    document.querySelectorAll(".tools .speed").forEach((o) => { o.textContent = `${rate}×`; });
  }

  // The still nearest the playhead, marked as the clip plays or is stepped through.
  videos.forEach((v) => {
    const article = v.closest("article.media");
    const figures = article ? [...article.querySelectorAll(".strip figure[data-t]")] : [];
    if (!figures.length) return;
    const times = figures.map((f) => Number(f.dataset.t));
    let marked = null;
    const mark = () => {
      let best = 0;
      times.forEach((t, i) => {
        if (Math.abs(t - v.currentTime) < Math.abs(times[best] - v.currentTime)) best = i;
      });
      if (figures[best] === marked) return;
      marked?.classList.remove("current");
      marked = figures[best];
      marked.classList.add("current");
      // Scroll the strip alone: the page must not jump while the reviewer reads below.
      const strip = marked.parentElement.getBoundingClientRect();
      const still = marked.getBoundingClientRect();
      if (still.left < strip.left || still.right > strip.right) {
        marked.parentElement.scrollLeft += still.left - strip.left - (strip.width - still.width) / 2;
      }
    };
    v.addEventListener("timeupdate", mark);
    v.addEventListener("seeked", mark);
    mark();
  });

  // Zoom: a still opens large in a dialog; Escape (native) or the button closes it.
  const zoom = document.getElementById("zoom");
  document.querySelectorAll("button.zoom").forEach((b) => {
    b.addEventListener("click", () => {
      if (!zoom) return;
      const img = zoom.querySelector("img");
      img.src = b.dataset.full;
      img.alt = b.querySelector("img")?.alt || "";
      zoom.showModal();
    });
  });

  // Side by side: this clip and the other claim's, the other held at this one's time plus the
  // offset of their closest matched frames, so the two show the same moment.
  const sync = document.getElementById("sync");
  const mine = document.getElementById("sync-this");
  const theirs = document.getElementById("sync-other");
  let offset = 0;
  const align = () => {
    const want = mine.currentTime + offset;
    if (want >= 0 && Math.abs(theirs.currentTime - want) > 0.15) theirs.currentTime = want;
  };
  if (sync && mine && theirs) {
    mine.addEventListener("play", () => { align(); theirs.play().catch(() => {}); });
    mine.addEventListener("pause", () => { theirs.pause(); align(); });
    mine.addEventListener("seeked", align);
    mine.addEventListener("timeupdate", align);
    mine.addEventListener("ratechange", () => { theirs.playbackRate = mine.playbackRate; });
    sync.addEventListener("close", () => { mine.pause(); theirs.pause(); });
    sync.querySelector(".sync-toggle")?.addEventListener("click", () => {
      if (mine.paused) mine.play().catch(() => {}); else mine.pause();
    });
    document.querySelectorAll("button.sync-play").forEach((b) => {
      b.addEventListener("click", () => {
        const source = videos[0];
        if (!source) return;
        offset = Number(b.dataset.offset) || 0;
        mine.src = source.currentSrc || source.querySelector("source")?.src || "";
        theirs.src = b.dataset.otherSrc;
        sync.querySelector(".other-label").textContent = b.dataset.label || "";
        // Start where both clips show footage: this clip at max(0, -offset).
        const start = Math.max(0, -offset, source.currentTime || 0);
        mine.currentTime = start;
        theirs.currentTime = start + offset;
        mine.playbackRate = theirs.playbackRate = source.playbackRate;
        sync.dataset.offset = String(offset);
        sync.showModal();
        mine.play().catch(() => {});
      });
    });
  }

  // Zoom on the clip: the picture grows inside its frame (.clip-frame clips it), centred; the
  // arrow keys or a drag then move it, so every corner of a zoomed clip can be looked at.
  const ZOOMS = [1, 1.5, 2, 3, 4];
  function place(v) {
    const z = Number(v.dataset.zoom || 1);
    // Scaled about its centre by z, the picture overhangs its frame by (z - 1) / 2 of its size
    // on each side: it moves that far and no further, so no empty band shows.
    const maxX = (v.offsetWidth * (z - 1)) / 2;
    const maxY = (v.offsetHeight * (z - 1)) / 2;
    const x = Math.max(-maxX, Math.min(maxX, Number(v.dataset.panX || 0)));
    const y = Math.max(-maxY, Math.min(maxY, Number(v.dataset.panY || 0)));
    v.dataset.panX = String(x);
    v.dataset.panY = String(y);
    v.style.transform = z === 1 ? "" : `translate(${x}px, ${y}px) scale(${z})`;
  }
  function zoomBy(direction) {
    if (!current) return;
    const at = ZOOMS.indexOf(Number(current.dataset.zoom || 1));
    const z = ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, at + direction))];
    current.dataset.zoom = String(z);
    place(current);
    const shown = current.closest("article.media")?.querySelector(".zoom-level");
    if (shown) shown.textContent = `${z}×`;
  }
  function panBy(dx, dy) {
    current.dataset.panX = String(Number(current.dataset.panX || 0) + dx);
    current.dataset.panY = String(Number(current.dataset.panY || 0) + dy);
    place(current);
  }
  const zoomed = (v) => Number(v?.dataset.zoom || 1) > 1;
  // A drag moves a zoomed picture; a press that hardly moves stays a click (play, pause).
  videos.forEach((v) => {
    let from = null;
    v.addEventListener("pointerdown", (ev) => {
      if (!zoomed(v)) return;
      from = { x: ev.clientX, y: ev.clientY, moved: false };
    });
    v.addEventListener("pointermove", (ev) => {
      if (!from || !(ev.buttons & 1)) return;
      const dx = ev.clientX - from.x;
      const dy = ev.clientY - from.y;
      if (!from.moved && Math.hypot(dx, dy) < 6) return;
      if (!from.moved) v.setPointerCapture(ev.pointerId);
      from = { x: ev.clientX, y: ev.clientY, moved: true };
      current = v;
      panBy(dx, dy);
    });
    v.addEventListener("pointerup", (ev) => {
      if (from?.moved) ev.preventDefault();
      from = null;
    });
  });

  function playPause(v) {
    if (!v) return;
    if (v.paused || v.ended) v.play().catch(() => {}); else v.pause();
  }

  // The list of every key: a modal dialog, so Tab cycles inside it while it is open; closed,
  // focus goes back where it was (the button, or the control the reviewer was on).
  const help = document.getElementById("keys-help");
  let helpOpener = null;
  function toggleHelp() {
    if (!help) return;
    if (help.open) { help.close(); return; }
    helpOpener = document.activeElement;
    help.showModal();
  }
  help?.addEventListener("close", () => {
    const back = helpOpener && helpOpener !== document.body && helpOpener.isConnected
      ? helpOpener : document.getElementById("keys-open");
    back?.focus();
  });
  document.getElementById("keys-open")?.addEventListener("click", toggleHelp);

  // A modal dialog keeps Tab inside itself: past its last control focus wraps to the first
  // (and back), instead of leaving the page for the browser's own bar.
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Tab") return;
    const open = document.querySelector("dialog[open]");
    if (!open) return;
    const stops = [...open.querySelectorAll('button, a[href], summary, input, select, textarea, video[controls], [tabindex]:not([tabindex="-1"])')]
      .filter((el) => !el.disabled && el.getClientRects().length);
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    const inside = open.contains(document.activeElement);
    if (ev.shiftKey && (!inside || document.activeElement === first)) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && (!inside || document.activeElement === last)) { ev.preventDefault(); first.focus(); }
  });

  // Space presses a focused button, link, summary or checkbox, as everywhere; anywhere else
  // (the page, the clip) it plays or pauses instead of scrolling the page.
  const PRESSABLE = 'button, a[href], summary, input, select, textarea, [role="button"]';
  // Zoomed in, an arrow moves the picture a tenth of the frame the way it points (it shows
  // what lies that way); not zoomed, the arrows keep their own work (the clip's seek).
  const PAN = { ArrowLeft: [0.1, 0], ArrowRight: [-0.1, 0], ArrowUp: [0, 0.1], ArrowDown: [0, -0.1] };

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target.closest && ev.target.closest("input, textarea, select")) return;
    // The map has focus: its own arrows and +/- move and zoom it, not the clip.
    if (ev.target.closest && ev.target.closest(".leaflet-container")) return;
    if (ev.key === "?") { ev.preventDefault(); toggleHelp(); return; }
    if (help?.open || zoom?.open) return;  // only the open dialog's own keys (Esc, Tab)
    if (ev.key === " " && ev.target.closest && ev.target.closest(PRESSABLE)) return;
    const inSync = sync?.open;
    const target = inSync ? mine : current;
    const act = {
      ",": () => { current = target; step(-1); },
      ".": () => { current = target; step(1); },
      s: () => { current = target; toggleSlow(); },
      " ": () => playPause(target),
      k: () => playPause(target),
      "+": () => { if (!inSync) zoomBy(1); },
      "=": () => { if (!inSync) zoomBy(1); },  // "+" without Shift on most layouts
      "-": () => { if (!inSync) zoomBy(-1); },
    }[ev.key] || (!inSync && zoomed(current) && PAN[ev.key]
      ? () => panBy(...PAN[ev.key].map((share, i) => share * (i ? current.offsetHeight : current.offsetWidth)))
      : null);
    if (act && target) { ev.preventDefault(); act(); }
  });
})();
