// The upload page's service worker: Background Sync sends the claims kept in this browser when
// the link is back, the tab open or not (upload-queue.js does the sending). Registered with
// `?queue=<the hashed upload-queue.js>&store=<the member's database>`: a deploy that changes
// the queue changes this script's URL, so the browser installs the new one.
"use strict";
const params = new URL(self.location.href).searchParams;
importScripts(params.get("queue"));

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// One tag per member's database: a shared phone never sends one member's claims with another's
// session (the claim's own CSRF token would be refused anyway).
self.addEventListener("sync", (event) => {
  if (!event.tag.startsWith("mvq-upload-")) return;
  event.waitUntil((async () => {
    const db = await self.mvqQueue.open(event.tag);
    try {
      // A dropped link rejects, so the browser schedules the sync again (with its own back-off).
      if ((await self.mvqQueue.sendAll(db)) === "dropped") throw new Error("the link dropped");
    } finally {
      db.close();
    }
  })());
});
