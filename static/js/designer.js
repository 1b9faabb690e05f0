// The flow designer as a document. The server does the work: every
// operation button posts to /flows/{slug}/draft/ops and htmx morphs the
// answered form in place (idiomorph keeps focus, caret and scroll). This
// file adds what a form cannot say:
//   - a dirty marker while anything is unsaved, and a beforeunload guard;
//   - saving after a few quiet seconds, so a burst of edits is one draft
//     revision; Ctrl/Cmd+S saves at once;
//   - Enter in a field saves (never presses a destructive button);
//   - Ctrl/Cmd+Z and Ctrl/Cmd+Shift+Z (or Ctrl+Y) undo and redo the last
//     operations when no text field has the focus (a field keeps the
//     browser's own undo of typing).
(function () {
  "use strict";
  var QUIET_MS = 3000;
  var typed = false;   // fields typed in since the last save was sent
  var inFlight = 0;    // operation requests under way
  var timer = null;

  function form() { return document.getElementById("draft"); }
  function pendingOps() {
    var f = form();
    var ops = f && f.querySelector('input[name="ops"]');
    return !!(ops && ops.value);
  }
  function dirty() { return typed || pendingOps() || inFlight > 0; }
  function showDirty() {
    var f = form();
    if (!f) { return; }
    var d = dirty();
    f.setAttribute("data-dirty", d ? "true" : "false");
    var m = document.getElementById("dirty");
    if (m) { m.hidden = !d; }
  }
  function save() {
    clearTimeout(timer);
    var f = form();
    var b = f && f.querySelector("#save");
    if (!b || b.disabled) { return; }
    if (inFlight > 0) { schedule(); return; }
    b.click();
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { if (dirty()) { save(); } }, QUIET_MS);
  }

  if (window.Idiomorph) {
    // The field being typed in keeps what the analyst typed even when an
    // answer arrives meanwhile.
    Idiomorph.defaults.ignoreActiveValue = true;
  }

  document.addEventListener("input", function (ev) {
    if (!ev.target.closest || !ev.target.closest("#draft")) { return; }
    typed = true;
    showDirty();
    schedule();
  });

  document.addEventListener("htmx:beforeRequest", function (ev) {
    var cfg = ev.detail.requestConfig || {};
    if ((cfg.path || "").indexOf("/draft/ops") < 0) { return; }
    inFlight++;
    if (cfg.parameters && cfg.parameters.op === "save") { typed = false; }
    showDirty();
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    var cfg = ev.detail.requestConfig || {};
    if ((cfg.path || "").indexOf("/draft/ops") < 0) { return; }
    inFlight = Math.max(0, inFlight - 1);
    if (!ev.detail.successful && cfg.parameters && cfg.parameters.op === "save") { typed = true; }
  });
  // A conflict (409) or a refused operation (422) answers the form with the
  // reason in it: swap it like any other answer.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var s = ev.detail.xhr && ev.detail.xhr.status;
    if ((s === 409 || s === 422) && (ev.detail.requestConfig.path || "").indexOf("/draft/ops") >= 0) {
      ev.detail.shouldSwap = true;
      ev.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    showDirty();
    if (pendingOps()) { schedule(); }
  });

  window.addEventListener("beforeunload", function (ev) {
    if (!form() || !dirty()) { return; }
    ev.preventDefault();
    ev.returnValue = "";
  });

  document.addEventListener("keydown", function (ev) {
    var f = form();
    if (!f) { return; }
    var mod = ev.ctrlKey || ev.metaKey;
    var key = (ev.key || "").toLowerCase();
    if (mod && key === "s") {
      ev.preventDefault();
      save();
      return;
    }
    var inText = ev.target.matches && ev.target.matches("input, textarea, select, [contenteditable]");
    if (mod && !inText && (key === "z" || key === "y")) {
      var redo = key === "y" || ev.shiftKey;
      var b = f.querySelector(redo ? "#redo" : "#undo");
      if (b && !b.disabled) { ev.preventDefault(); b.click(); }
      return;
    }
    // Enter in a one-line field of the designer saves; it never reaches a
    // destructive button.
    if (key === "enter" && !mod && ev.target.matches && ev.target.matches("#draft input") &&
        ev.target.type !== "button" && ev.target.type !== "submit") {
      ev.preventDefault();
      save();
    }
  });
})();
