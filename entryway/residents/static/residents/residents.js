// User module: the Home AutoMation switch dims Premium Plan and turns it off (see data-disables in entryway.js).
(function () {
  "use strict";

  function sync(group) {
    var on = document.querySelector('input[type=radio][name="' + group + '"][data-disables]');
    if (!on) return;
    var target = document.getElementById(on.getAttribute("data-disables"));
    if (!target) return;
    var dim = on.checked;
    target.disabled = dim;
    if (dim) {
      target.checked = false;
      var off = document.querySelector('input[type=radio][name="' + target.name + '"][value="off"]');
      if (off) off.checked = true;
    }
    var wrapper = target.closest(".field");
    if (wrapper) wrapper.classList.toggle("dimmed", dim);
  }

  // Choosing Off in a switch whose On option dims another re-enables it.
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el.type === "radio" && document.querySelector('input[type=radio][name="' + el.name + '"][data-disables]')) {
      sync(el.name);
    }
  });
  document.querySelectorAll("input[type=radio][data-disables]").forEach(function (el) { sync(el.name); });
})();
