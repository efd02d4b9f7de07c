// The disputes page's one key: `a` accepts the suggestion of the dispute holding the focus,
// else the first one on the page. (`u`, the veil, is app.js's, as on the item page.)
(function () {
  "use strict";
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.key !== "a") return;
    if (ev.target.closest && ev.target.closest("textarea, select, input")) return;
    const here = document.activeElement?.closest?.("section.dispute");
    const form = (here || document).querySelector("form.accept");
    if (!form) return;
    ev.preventDefault();
    form.requestSubmit();
  });
})();
