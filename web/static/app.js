// Keyboard shortcuts, the lease heartbeat and the footage veil. No build step, no framework.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const item = document.getElementById("item");
  const media = document.getElementById("media");

  function unveil() {
    if (!media) return;
    media.classList.remove("veiled");
    media.querySelectorAll("video").forEach((v) => { v.muted = false; });
  }
  document.getElementById("unveil")?.addEventListener("click", unveil);

  function submit(id) {
    const form = document.getElementById(id);
    if (form) form.requestSubmit();
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const typing = ev.target.closest && ev.target.closest("input, textarea, select");
    if (typing) {
      // Enter in the reject form sends it once a reason is chosen.
      if (ev.key === "Enter" && ev.target.closest("#reject-form")) {
        ev.preventDefault();
        submit("reject-form");
      }
      return;
    }
    const actions = {
      n: () => submit("claim-form"),
      a: () => submit("approve-form"),
      r: () => document.getElementById("reason")?.focus(),
      e: () => submit("escalate-form"),
      u: unveil,
    };
    const act = actions[ev.key];
    if (act) { ev.preventDefault(); act(); }
  });

  // While the page is open the lease is renewed, so a long clip never loses its reviewer.
  const lease = item?.dataset.leaseToken;
  if (lease) {
    const beat = async () => {
      const res = await fetch(item.dataset.heartbeatUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ lease_token: lease }),
      });
      const shown = document.getElementById("lease-expires");
      if (res.ok) {
        const body = await res.json();
        if (shown) shown.textContent = body.lease_expires_at;
      } else if (shown) {
        shown.textContent = "lost: claim the item again";
      }
    };
    const seconds = Number(item.dataset.leaseSeconds || 600);
    setInterval(beat, Math.max(2, seconds / 3) * 1000);
  }
})();
