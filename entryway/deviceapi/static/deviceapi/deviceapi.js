// Batch AutoP: keep the device selection across picker pages and searches.
// The selection lives in hidden inputs of the form; the page's checkboxes only mirror it.
(function () {
  "use strict";
  var GROUP = "autop-devices";

  function store() { return document.getElementById("autop-selected"); }

  function selectedIds() {
    var ids = {};
    var box = store();
    if (!box) return ids;
    box.querySelectorAll('input[name="devices"]').forEach(function (i) { ids[i.value] = true; });
    return ids;
  }

  function updateCount() {
    var n = Object.keys(selectedIds()).length;
    document.querySelectorAll("[data-autop-count]").forEach(function (c) { c.textContent = n; });
  }

  function sync() {
    var box = store();
    if (!box) return;
    var ids = selectedIds();
    document.querySelectorAll('input[type=checkbox][data-group="' + GROUP + '"]').forEach(function (cb) {
      // Checked boxes that are not stored yet (a page rendered after an error) join the selection.
      if (cb.checked && !ids[cb.value]) { add(cb.value); ids[cb.value] = true; }
      cb.checked = !!ids[cb.value];
      cb.removeAttribute("name");
    });
    updateCount();
  }

  function add(value) {
    var input = document.createElement("input");
    input.type = "hidden"; input.name = "devices"; input.value = value;
    store().appendChild(input);
  }

  function remove(value) {
    store().querySelectorAll('input[name="devices"]').forEach(function (i) { if (i.value === value) i.remove(); });
  }

  document.addEventListener("change", function (e) {
    var cb = e.target.closest && e.target.closest('input[type=checkbox][data-group="' + GROUP + '"]');
    if (!cb || !store()) return;
    var ids = selectedIds();
    if (cb.checked && !ids[cb.value]) add(cb.value);
    if (!cb.checked && ids[cb.value]) remove(cb.value);
    updateCount();
  });

  document.addEventListener("DOMContentLoaded", sync);
  // New picker rows (paging, search) arrive through htmx: mirror the stored selection on them.
  document.addEventListener("htmx:load", sync);
  document.addEventListener("htmx:afterSettle", sync);
})();
