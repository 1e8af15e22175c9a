// Add / Edit Device: relay rows appear one by one with "Add Relay" (without JS all four show).
(function () {
  "use strict";
  function setup() {
    var button = document.querySelector("[data-add-relay]");
    var rows = Array.prototype.slice.call(document.querySelectorAll("[data-relay-row]"));
    if (!button || !rows.length) return;
    var hidden = rows.filter(function (row) { return row.getAttribute("data-filled") !== "true"; });
    hidden.forEach(function (row) { row.classList.add("hidden"); });
    function refresh() {
      var left = rows.filter(function (row) { return row.classList.contains("hidden"); });
      button.classList.toggle("hidden", left.length === 0);
    }
    button.addEventListener("click", function (e) {
      e.preventDefault();
      var next = rows.filter(function (row) { return row.classList.contains("hidden"); })[0];
      if (!next) return;
      next.classList.remove("hidden");
      var first = next.querySelector("input");
      if (first) first.focus();
      refresh();
    });
    refresh();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
