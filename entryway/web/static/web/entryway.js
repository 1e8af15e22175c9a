// entryway: small progressive enhancements. No inline scripts (the CSP forbids them).
(function () {
  "use strict";

  function on(root, selector, event, handler) {
    root.addEventListener(event, function (e) {
      var target = e.target.closest(selector);
      if (target && root.contains(target)) handler.call(target, e, target);
    });
  }

  // <select data-autosubmit> submits its form when changed (Lines per page, filters).
  on(document, "select[data-autosubmit]", "change", function (e, el) { el.form.submit(); });

  // <input type="checkbox" data-select-all="group"> toggles every checkbox with data-group="group".
  on(document, "input[data-select-all]", "change", function (e, el) {
    var group = el.getAttribute("data-select-all");
    document.querySelectorAll('input[type=checkbox][data-group="' + group + '"]').forEach(function (box) {
      if (!box.disabled) box.checked = el.checked;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });

  // Keep "Selected: N" counters up to date: <span data-selected-count="group">.
  on(document, "input[type=checkbox][data-group]", "change", function (e, el) {
    var group = el.getAttribute("data-group");
    var n = document.querySelectorAll('input[type=checkbox][data-group="' + group + '"]:checked').length;
    document.querySelectorAll('[data-selected-count="' + group + '"]').forEach(function (c) { c.textContent = n; });
  });

  // Password fields with an eye toggle: <button data-toggle-password="input-id">.
  on(document, "button[data-toggle-password]", "click", function (e, el) {
    e.preventDefault();
    var input = document.getElementById(el.getAttribute("data-toggle-password"));
    if (!input) return;
    var show = input.type === "password";
    input.type = show ? "text" : "password";
    el.setAttribute("aria-pressed", show ? "true" : "false");
  });

  // A switch that dims and turns off another: <input data-disables="id_other">.
  function applyDisables(el) {
    var other = document.getElementById(el.getAttribute("data-disables"));
    if (!other) return;
    var on = el.type === "checkbox" ? el.checked : el.value === "on" && el.checked;
    if (on) { other.checked = false; }
    other.disabled = !!on;
    var wrapper = other.closest(".field");
    if (wrapper) wrapper.classList.toggle("dimmed", !!on);
  }
  document.querySelectorAll("input[data-disables]").forEach(applyDisables);
  on(document, "input[data-disables]", "change", function (e, el) { applyDisables(el); });

  // Forms with data-confirm ask before submitting.
  on(document, "form[data-confirm]", "submit", function (e, el) {
    if (!window.confirm(el.getAttribute("data-confirm"))) e.preventDefault();
  });
})();
