// Live pages: show whether the page's WebSocket (htmx ws extension) is connected (the
// extension reconnects by itself; on every (re)connect the server first sends the current
// state), and keep what the operator opened open across live updates.
(function () {
  "use strict";
  function show(root, state, text) {
    root.querySelectorAll(".live-indicator").forEach(function (indicator) {
      indicator.dataset.state = state;
      indicator.textContent = text;
    });
  }
  document.addEventListener("htmx:wsOpen", function (event) { show(event.target, "live", "Live"); });
  document.addEventListener("htmx:wsClose", function (event) { show(event.target, "reconnecting", "Reconnecting…"); });
  // A live update must not close what the operator opened (a confirmation about to be clicked,
  // a long output): open <details> with an id are opened in the fragment that replaces them.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    event.detail.target.querySelectorAll("details[open][id]").forEach(function (open) {
      var replacement = event.detail.fragment.querySelector("#" + CSS.escape(open.id));
      if (replacement) { replacement.open = true; }
    });
  });
})();
