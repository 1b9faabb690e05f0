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
})();
