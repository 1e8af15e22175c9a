// Update Strategy Creation: the Upgrade Time field is used only with "Specific Time".
(function () {
  "use strict";
  function sync() {
    var specific = document.getElementById("id_time_specific");
    var field = document.getElementById("scheduled-at-field");
    var input = document.getElementById("id_scheduled_at");
    if (!specific || !field || !input) return;
    input.disabled = !specific.checked;
    field.classList.toggle("dimmed", !specific.checked);
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name === "time_mode") sync();
  });
  document.addEventListener("DOMContentLoaded", sync);
})();
