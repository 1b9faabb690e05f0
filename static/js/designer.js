// The flow designer as a document. The server does the work: every
// operation button posts to /flows/{slug}/draft/ops and htmx morphs the
// answered form in place (idiomorph keeps focus, caret and scroll). This
// file adds what a form cannot say:
//   - a dirty marker while anything is unsaved, and a beforeunload guard;
//   - saving after a few quiet seconds, so a burst of edits is one draft
//     revision; Ctrl/Cmd+S saves at once;
//   - (Enter in a field presses the form's first button, a plain save,
//     sent through the operations endpoint like the others);
//   - Ctrl/Cmd+Z and Ctrl/Cmd+Shift+Z (or Ctrl+Y) undo and redo the last
//     operations when no text field has the focus (a field keeps the
//     browser's own undo of typing);
//   - the page's other forms (add a sample, save a test case, publish …)
//     save the draft first and carry its new revision, so nothing typed is
//     lost and they do not conflict with the page's own saves.
(function () {
  "use strict";
  var QUIET_MS = 3000;
  var typed = false;   // fields typed in since the last save was sent
  var inFlight = 0;    // operation requests under way
  var timer = null;
  var leaving = false; // the analyst chose to discard (Reload their version)
  var afterSave = [];  // callbacks waiting for the next save's outcome

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
    if (inFlight > 0) { timer = setTimeout(save, 200); return; }
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
    // A collapsible section without a data-key keeps the state the
    // analyst gave it across answers; keyed ones are handled below.
    Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, node) {
      if (name === "open" && node.tagName === "DETAILS" && !node.hasAttribute("data-key")) { return false; }
    };
  }

  // An operation's answer sends the problems and the diagram out of band
  // whether they changed or not, and a preview every fragment the page
  // does not know the digest of: fragments identical to what the page
  // shows are not swapped.
  document.addEventListener("htmx:oobBeforeSwap", function (ev) {
    var frag = ev.detail.fragment, target = ev.detail.target;
    var el = frag && (frag.firstElementChild || frag);
    if (el && target && el.outerHTML === target.outerHTML) { ev.detail.shouldSwap = false; }
  });

  // The live preview (#live-preview, a moment after the last keystroke) and the
  // form's operations (its buttons and saves) are two queues of requests,
  // each one at a time, that can be under way together. Previews among
  // themselves answer in the order they were sent (one under way, only the
  // newest waiting). An operation's answer morphs the whole form with every
  // live value as of the fields it sent, so:
  //   - a preview answer is dropped when an operation was sent or answered
  //     after the preview was sent: it describes a form the operation has
  //     replaced, where rows may have moved under the same ids;
  //   - after an operation's answer, when the analyst typed while it was
  //     under way or a preview answer was dropped meanwhile, the preview is
  //     asked for again.
  // The last answer shown therefore follows the last keystroke and the last
  // operation. Every fragment a preview sends is morphed in (idiomorph), not
  // replaced, so a button pressed while an answer arrives is still the
  // button released.
  var opEpoch = 0;         // bumped by every operation sent and answered
  var opsUnderWay = 0;
  var inputs = 0;          // input events in the form so far
  var previewOwed = false; // ask for a preview once no operation is under way
  function isPreview(ev) { return !!ev.detail.elt && ev.detail.elt.id === "live-preview"; }
  function isOp(ev) { return ((ev.detail.requestConfig || {}).path || "").indexOf("/draft/ops") >= 0; }
  function previewAgain() {
    if (!previewOwed || opsUnderWay > 0) { return; }
    var p = document.getElementById("live-preview");
    previewOwed = false;
    if (p) { htmx.trigger(p, "refresh"); }
  }
  // A preview answers only the fragments the page does not show already:
  // it is sent the digest (data-v) of every fragment an answer brought.
  document.addEventListener("htmx:configRequest", function (ev) {
    if (!isPreview(ev)) { return; }
    var shown = [];
    document.querySelectorAll("[data-v]").forEach(function (el) { shown.push(el.getAttribute("data-v")); });
    ev.detail.parameters.shown = shown.join(" ");
  });
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var xhr = ev.detail.xhr;
    if (!xhr) { return; }
    if (isPreview(ev)) { xhr.crossdockEpoch = opEpoch; return; }
    if (!isOp(ev)) { return; }
    opEpoch++;
    opsUnderWay++;
    xhr.crossdockInputs = inputs;
  });
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (!isPreview(ev) || !ev.detail.xhr || ev.detail.xhr.crossdockEpoch === opEpoch) { return; }
    ev.detail.shouldSwap = false;
    previewOwed = true;
    previewAgain();
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    var xhr = ev.detail.xhr;
    // (htmx fires it again on a parent when the answer removed the button.)
    if (!xhr || !isOp(ev) || xhr.crossdockAnswered) { return; }
    xhr.crossdockAnswered = true;
    opEpoch++;
    opsUnderWay = Math.max(0, opsUnderWay - 1);
    if (xhr.crossdockInputs !== inputs) { previewOwed = true; }
    previewAgain();
  });

  // Groups of rows and their option panels carry a data-key made from the
  // route and target names, not the position (rowKey on the server): a
  // group the analyst opened or closed stays so after an answer even when
  // rows were added, removed or moved above it, which morphing by position
  // would get wrong. A key not seen before comes as the server renders it.
  var openBefore = null;
  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (!ev.detail.target || ev.detail.target.id !== "draft") { return; }
    openBefore = {};
    ev.detail.target.querySelectorAll("details[data-key]").forEach(function (d) {
      openBefore[d.getAttribute("data-key")] = d.open;
    });
  });
  document.addEventListener("htmx:afterSwap", function () {
    var before = openBefore;
    openBefore = null;
    var f = form();
    if (!before || !f) { return; }
    f.querySelectorAll("details[data-key]").forEach(function (d) {
      var k = d.getAttribute("data-key");
      if (Object.prototype.hasOwnProperty.call(before, k)) { d.open = before[k]; }
    });
  });

  document.addEventListener("input", function (ev) {
    if (!ev.target.closest || !ev.target.closest("#draft")) { return; }
    inputs++;
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
    // A conflict or a refusal is swapped in (below) but saved nothing.
    var ok = !!ev.detail.xhr && ev.detail.xhr.status >= 200 && ev.detail.xhr.status < 300;
    if (cfg.parameters && cfg.parameters.op === "save") {
      if (!ok) { typed = true; }
      var waiting = afterSave;
      afterSave = [];
      setTimeout(function () {
        waiting.forEach(function (fn) { fn(ok); });
      }, 0);
    }
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
  // The page's other forms carry the draft revision too: keep them on the
  // revision the draft form now holds.
  function syncRevision() {
    var f = form();
    var r = f && f.querySelector('input[name="revision"]');
    if (!r) { return; }
    document.querySelectorAll('form:not(#draft) input[name="revision"]').forEach(function (i) { i.value = r.value; });
  }
  document.addEventListener("htmx:afterSettle", function () {
    syncRevision();
    showDirty();
    if (pendingOps()) { schedule(); }
  });

  // Another form of the page (a sample, a test case, publishing) saves the
  // draft first, then goes on; a refused save (a conflict) stops it there.
  document.addEventListener("submit", function (ev) {
    var other = ev.target;
    if (!form() || other.id === "draft" || !dirty()) { return; }
    ev.preventDefault();
    var submitter = ev.submitter;
    var tries = 0;
    var goOn = function (ok) {
      if (!ok) { return; }
      // Typed into meanwhile: save that too, then go on, rather than
      // dropping what the analyst submitted.
      if (dirty() && ++tries < 5) { afterSave.push(goOn); save(); return; }
      if (dirty()) { return; }
      syncRevision();
      if (submitter) { other.requestSubmit(submitter); } else { other.requestSubmit(); }
    };
    afterSave.push(goOn);
    save();
  }, true);
  document.addEventListener("click", function (ev) {
    if (ev.target.closest && ev.target.closest("[data-discard]")) { leaving = true; }
  }, true);

  window.addEventListener("beforeunload", function (ev) {
    if (leaving || !form() || !dirty()) { return; }
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
  });

  // Choosing a source field in a route's pane, typing an example output
  // or choosing a file changes nothing in the draft by itself: such input
  // neither marks the page unsaved nor asks for a preview.
  document.addEventListener("input", function (ev) {
    var t = ev.target;
    if (t.matches && t.matches('[name^="pick:"], [name^="example:"], [data-load-into]')) { ev.stopPropagation(); }
  }, true);

  // A file chosen for a text field (a route's target schema) fills the
  // field as if pasted; without JavaScript, paste the file's text.
  document.addEventListener("change", function (ev) {
    var input = ev.target;
    var sel = input.getAttribute && input.getAttribute("data-load-into");
    if (!sel || !input.files || !input.files[0]) { return; }
    var into = document.querySelector(sel);
    if (!into) { return; }
    input.files[0].text().then(function (text) {
      into.value = text;
      into.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
})();
