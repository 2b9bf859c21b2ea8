// Live pages: show whether the page's WebSocket (htmx ws extension) is connected (the
// extension reconnects by itself; on every (re)connect the server first sends the current
// state), and keep what the operator opened open across live updates.
(function () {
  "use strict";
  // A page is Live once the server has sent it the current state, its first message: a socket
  // can open and be closed at once, as while Redis is unreachable.
  var closesInARow = 0;
  // Reconnect within 2 s, whatever the tries so far: the extension's own delay doubles up to
  // 64 s, so a page that failed a few times while Redis restarted stayed "Reconnecting…" for a
  // minute after it was back. It counts only closes before any state, and a random part spreads
  // the pages of a crowd reconnecting at once.
  htmx.config.wsReconnectDelay = function () {
    return Math.min(250 * Math.pow(2, closesInARow), 2000) * (0.5 + Math.random() / 2);
  };
  function show(root, state, text) {
    root.querySelectorAll(".live-indicator").forEach(function (indicator) {
      indicator.dataset.state = state;
      indicator.textContent = text;
    });
  }
  // The run page's graph follows the step rows: once a message is swapped in, each node takes
  // the status of the row it links to (its data-row; rows carry data-status). The rows are
  // the one thing the server sends, so the graph can never tell another story than the table.
  function followRows(root) {
    root.querySelectorAll(".graph-node[data-row]").forEach(function (node) {
      var row = document.getElementById(node.dataset.row);
      var status = row && row.dataset.status;
      if (!status || status === node.dataset.status) { return; }
      node.dataset.status = status;
      var label = node.querySelector(".graph-node-status");
      if (label) { label.textContent = status; }
      node.querySelector("title").textContent = node.dataset.step + ": " + status;
    });
  }
  document.addEventListener("htmx:wsAfterMessage", function (event) {
    closesInARow = 0;
    show(event.target, "live", "Live");
    followRows(event.target);
  });
  // The server says why it closed (say, "Redis is unreachable"), if it knows.
  document.addEventListener("htmx:wsClose", function (event) {
    var reason = event.detail.event.reason;
    closesInARow += 1;
    show(event.target, "reconnecting", reason ? reason + ": reconnecting…" : "Reconnecting…");
  });
  // A live update must not close what the operator opened (a confirmation about to be clicked,
  // a long output): open <details> with an id are opened in the fragment that replaces them.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    event.detail.target.querySelectorAll("details[open][id]").forEach(function (open) {
      var replacement = event.detail.fragment.querySelector("#" + CSS.escape(open.id));
      if (replacement) { replacement.open = true; }
    });
  });
})();
