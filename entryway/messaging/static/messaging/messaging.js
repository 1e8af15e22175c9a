// Message module: character counters on Add Message and the "Selected: N" receiver count.
(function () {
  "use strict";

  function updateCounter(input) {
    var counter = document.querySelector('[data-counter-for="' + input.id + '"]');
    if (!counter) return;
    var limit = parseInt(input.getAttribute("data-char-limit"), 10);
    var n = input.value.length;
    counter.textContent = n + " / " + limit;
    counter.classList.toggle("over", n > limit);
  }

  function updateSelected() {
    var n = document.querySelectorAll('input[type=checkbox][name="receivers"]:checked').length;
    document.querySelectorAll("[data-receivers-selected]").forEach(function (el) { el.textContent = n; });
  }

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("[data-char-limit]")) updateCounter(e.target);
  });
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches('input[type=checkbox][name="receivers"], input[data-select-all]')) {
      updateSelected();
    }
  });
  document.addEventListener("htmx:afterSwap", updateSelected);

  function init() {
    document.querySelectorAll("[data-char-limit]").forEach(updateCounter);
    updateSelected();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
