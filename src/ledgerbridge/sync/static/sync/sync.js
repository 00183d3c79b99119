// "Select every invoice": one box that ticks or clears the list (the boxes work without it).
(function () {
  function wire(root) {
    var all = root.querySelector("[data-pick-all]");
    if (!all || all.dataset.wired) return;
    var form = all.closest("form");
    var boxes = form.querySelectorAll('input[name="psa_id"]');
    all.hidden = false;
    all.dataset.wired = "1";
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    form.addEventListener("change", function (event) {
      if (event.target === all) return;
      var ticked = form.querySelectorAll('input[name="psa_id"]:checked').length;
      all.checked = ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  // The list arrives later through htmx.
  document.addEventListener("htmx:afterSettle", function () { wire(document); });
})();
