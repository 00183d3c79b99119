// Hide the companies checkboxes while the chosen role works with every company anyway.
(function () {
  var role = document.querySelector('select[name="role"]');
  var companies = document.querySelector("[data-companies]");
  if (!role || !companies) return;
  function sync() { companies.hidden = role.value === "account-admin"; }
  role.addEventListener("change", sync);
  sync();
})();
