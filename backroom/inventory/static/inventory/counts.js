// The counting screen: find an item, show only lines to do, mark typed-but-unsaved lines,
// Enter moves to the next field (and saves the line from its last one), warn before leaving
// with unsaved quantities. Saving itself is plain HTMX on each line's form.
(function () {
  "use strict";

  function lines() {
    return Array.prototype.slice.call(document.querySelectorAll(".count-line"));
  }

  function applyFilter() {
    var search = document.getElementById("count-search");
    var onlyOpen = document.getElementById("count-only-open");
    var query = search ? search.value.trim().toLowerCase() : "";
    var open = onlyOpen ? onlyOpen.checked : false;
    lines().forEach(function (line) {
      var matches = !query || (line.dataset.search || "").indexOf(query) !== -1;
      var todo = !open || line.classList.contains("is-uncounted") || line.classList.contains("is-dirty");
      line.classList.toggle("d-none", !(matches && todo));
    });
    document.querySelectorAll(".count-group").forEach(function (group) {
      var visible = group.querySelector(".count-line:not(.d-none)");
      group.classList.toggle("d-none", !visible);
    });
  }

  function nextLineInput(line) {
    var all = lines().filter(function (candidate) { return !candidate.classList.contains("d-none"); });
    var index = all.indexOf(line);
    var next = index >= 0 ? all[index + 1] : null;
    return next ? next.querySelector("input[data-unit]") : null;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var search = document.getElementById("count-search");
    var onlyOpen = document.getElementById("count-only-open");
    if (search) { search.addEventListener("input", applyFilter); }
    if (onlyOpen) { onlyOpen.addEventListener("change", applyFilter); }

    document.addEventListener("input", function (event) {
      var line = event.target.closest && event.target.closest(".count-line");
      if (line && event.target.matches("input[data-unit]")) { line.classList.add("is-dirty"); }
    });

    document.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || !event.target.matches || !event.target.matches("input[data-unit]")) { return; }
      var line = event.target.closest(".count-line");
      var inputs = Array.prototype.slice.call(line.querySelectorAll("input[data-unit]"));
      var index = inputs.indexOf(event.target);
      if (index < inputs.length - 1) {
        event.preventDefault();
        inputs[index + 1].focus();
        inputs[index + 1].select();
        return;
      }
      // The last field: the form submits (saves the line); go on to the next line.
      var next = nextLineInput(line);
      if (next) { window.setTimeout(function () { next.focus(); next.select(); }, 0); }
    });

    // Replaced lines come back from the server saved (or with their errors): keep the filter.
    document.body.addEventListener("htmx:oobAfterSwap", applyFilter);

    window.addEventListener("beforeunload", function (event) {
      if (document.querySelector(".count-line.is-dirty")) {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    document.querySelectorAll("form[data-testid=submit-form]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        // Typed but not saved: saving first keeps those quantities (submitting would drop them).
        var dirty = document.querySelector(".count-line.is-dirty");
        if (dirty) {
          event.preventDefault();
          var flash = document.getElementById("count-flash");
          if (flash) {
            flash.innerHTML = "";
            var alert = document.createElement("div");
            alert.className = "alert alert-warning py-2 mb-0 mt-2";
            alert.setAttribute("role", "alert");
            alert.textContent = form.dataset.unsavedMessage || "";
            flash.appendChild(alert);
          }
          dirty.scrollIntoView({block: "center"});
        }
      });
    });
  });
})();
