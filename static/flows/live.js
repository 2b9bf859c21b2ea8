// Live pages: show whether the page's WebSocket (htmx ws extension) is connected. The
// extension reconnects by itself; on every (re)connect the server first sends the current state.
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
})();
