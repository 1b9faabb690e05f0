// Crossdock's own small behaviours. htmx does the partial updates; this file
// only holds what htmx cannot express.
(function () {
  "use strict";
  // Confirm destructive actions: <button data-confirm="Deactivate ana@…?">.
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-confirm]");
    if (el && !window.confirm(el.getAttribute("data-confirm"))) {
      ev.preventDefault();
      ev.stopPropagation();
    }
  }, true);
  // Mobile navigation toggle.
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("[data-nav-toggle]");
    if (t) { document.body.classList.toggle("nav-open"); }
  });
  // Designer: remember the expression input last focused, and insert a
  // field's path there when the analyst clicks it in the field tree.
  var lastExpr = null;
  document.addEventListener("focusin", function (ev) {
    if (ev.target.matches && ev.target.matches("input[data-expr]")) { lastExpr = ev.target; }
  });
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-insert-path]");
    if (!b || !lastExpr || lastExpr.disabled) { return; }
    var path = b.getAttribute("data-insert-path");
    var s = lastExpr.selectionStart == null ? lastExpr.value.length : lastExpr.selectionStart;
    var e = lastExpr.selectionEnd == null ? s : lastExpr.selectionEnd;
    lastExpr.value = lastExpr.value.slice(0, s) + path + lastExpr.value.slice(e);
    lastExpr.focus();
    lastExpr.setSelectionRange(s + path.length, s + path.length);
    lastExpr.dispatchEvent(new Event("input", { bubbles: true }));
  });
  // On a phone-sized screen the designer's reference material (variables,
  // fields, functions) starts collapsed, after the mapping.
  if (window.matchMedia && window.matchMedia("(max-width: 860px)").matches) {
    document.querySelectorAll("details[data-narrow-closed]").forEach(function (d) { d.open = false; });
  }
  // Client-side filter: <input data-filter="#functions li"> hides items whose
  // data-search does not contain the text.
  document.addEventListener("input", function (ev) {
    var sel = ev.target.getAttribute && ev.target.getAttribute("data-filter");
    if (!sel) { return; }
    var q = ev.target.value.toLowerCase();
    document.querySelectorAll(sel).forEach(function (li) {
      li.hidden = q !== "" && (li.getAttribute("data-search") || "").toLowerCase().indexOf(q) < 0;
    });
  });
  // JSON editors: <textarea data-json="#msg"> says at once whether its text
  // is JSON; the server checks again before anything is replayed.
  document.addEventListener("input", function (ev) {
    var sel = ev.target.getAttribute && ev.target.getAttribute("data-json");
    if (!sel) { return; }
    var out = document.querySelector(sel), msg = "";
    try { JSON.parse(ev.target.value); } catch (e) { msg = "Not valid JSON: " + e.message; }
    ev.target.setCustomValidity(msg);
    if (out) { out.textContent = msg; }
  });
  // A refused request from a form marked data-swap-refusals (422 or 409)
  // answers the reason into the form's target, leaving the rest of the
  // page, and what the user selected on it, as it was.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var s = ev.detail.xhr && ev.detail.xhr.status;
    var elt = ev.detail.requestConfig && ev.detail.requestConfig.elt;
    if ((s === 409 || s === 422) && elt && elt.closest && elt.closest("[data-swap-refusals]")) {
      ev.detail.shouldSwap = true;
      ev.detail.isError = false;
    }
  });
})();
