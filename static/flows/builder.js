// Builder enhancements, all optional: without this file the script fields are plain textareas
// and steps are reordered with the up/down buttons.
(function () {
  "use strict";

  // Script fields become CodeMirror editors (line numbers, Python highlighting). The textarea
  // stays in the form: every change is copied back and announced with an "input" event, which
  // drives htmx's debounced live check exactly as typing in the textarea would.
  var LEAVE_KEYS = { Tab: false, "Shift-Tab": false };

  function enhanceScriptEditors(root) {
    if (!window.CodeMirror) return;
    root.querySelectorAll("textarea[data-code-editor]").forEach(function (textarea) {
      if (textarea.dataset.enhanced) return;
      textarea.dataset.enhanced = "true";
      var label = document.querySelector('label[for="' + textarea.id + '"]');
      var editor = CodeMirror.fromTextArea(textarea, {
        mode: "python",
        lineNumbers: true,
        indentUnit: 4,
        viewportMargin: Infinity,
        inputStyle: "contenteditable",
        screenReaderLabel: label ? label.textContent.trim() : "Script",
        extraKeys: {
          Esc: function (ed) { ed.removeKeyMap(LEAVE_KEYS); ed.addKeyMap(LEAVE_KEYS); },
          Tab: function (ed) { ed.execCommand(ed.somethingSelected() ? "indentMore" : "insertSoftTab"); },
          "Shift-Tab": "indentLess",
        },
      });
      // Tab indents, so keyboard users leave with Esc then Tab (or Shift-Tab): after Esc the
      // Tab keys are left to the browser until any other key is pressed or focus moves on.
      var leaveNoMore = function () { editor.removeKeyMap(LEAVE_KEYS); };
      editor.on("keydown", function (_ed, event) {
        if (["Escape", "Tab", "Shift"].indexOf(event.key) < 0) leaveNoMore();
      });
      editor.on("blur", leaveNoMore);
      editor.on("change", function () {
        editor.save();
        textarea.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });
  }

  // Drag a step by its handle; on drop the new order is posted and the server's list replaces
  // the one on the page (the up/down buttons do the same without dragging).
  var dragged = null;

  function stepOf(target) {
    return target.closest ? target.closest("#step-list > li.step") : null;
  }

  document.addEventListener("dragstart", function (event) {
    if (!event.target.classList || !event.target.classList.contains("drag-handle")) return;
    dragged = stepOf(event.target);
    if (!dragged) return;
    dragged.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.stepId);
    event.dataTransfer.setDragImage(dragged, 20, 20);
  });

  document.addEventListener("dragover", function (event) {
    var over = dragged && stepOf(event.target);
    if (!over || over === dragged) return;
    event.preventDefault();
    var box = over.getBoundingClientRect();
    var after = event.clientY > box.top + box.height / 2;
    over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
  });

  document.addEventListener("drop", function (event) {
    if (dragged && stepOf(event.target)) event.preventDefault();
  });

  document.addEventListener("dragend", function () {
    if (!dragged) return;
    var list = dragged.parentNode;
    dragged.classList.remove("dragging");
    dragged = null;
    var order = Array.prototype.map.call(list.querySelectorAll(":scope > li.step"), function (li) {
      return li.dataset.stepId;
    });
    htmx.ajax("POST", list.dataset.reorderUrl, {
      source: list, target: "#step-list", swap: "outerHTML", values: { order: order },
    });
  });

  // htmx leaves the page unchanged on an error answer; say what happened instead of nothing.
  function showProblem(text) {
    var banner = document.getElementById("client-problem");
    if (!banner) {
      banner = document.createElement("p");
      banner.id = "client-problem";
      banner.className = "message message-error";
      banner.setAttribute("role", "alert");
      document.querySelector("main").prepend(banner);
    }
    banner.textContent = text;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    showProblem(status === 403 ? "Your account is not allowed to do that."
      : "The server could not do that (error " + status + "). Reload the page and try again.");
  });

  document.addEventListener("htmx:sendError", function () {
    showProblem("The server cannot be reached. Check the connection and try again; nothing was lost.");
  });

  document.addEventListener("DOMContentLoaded", function () {
    enhanceScriptEditors(document);
    if (window.htmx) htmx.onLoad(enhanceScriptEditors);
  });
})();
