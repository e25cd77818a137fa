// Policy editor: show only the parameters of each step's kind of approver (role and level for a
// role, usernames for named users). Without this script every field shows and the server still
// reads only those of the chosen kind.
(function () {
  "use strict";
  function sync(select) {
    var row = select.closest("[data-approver-row]");
    if (!row) return;
    row.querySelectorAll("[data-show-for]").forEach(function (element) {
      element.hidden = element.getAttribute("data-show-for") !== select.value;
    });
  }
  function syncAll(root) {
    root.querySelectorAll("select[data-approver-kind]").forEach(sync);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select[data-approver-kind]")) sync(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { syncAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { syncAll(event.target); });
})();
