// The ticket queue: a live countdown to each ticket's next SLA due time, keyboard navigation
// (j/k or arrows move between tickets, Enter opens, x ticks) and "tick all". Without JavaScript
// the list, the filters and the bulk form work the same; only the countdown stands still.
(function () {
  "use strict";
  function plural(n, unit) { return n + " " + unit; }
  function describe(ms) {
    var future = ms >= 0;
    var min = Math.floor(Math.abs(ms) / 60000);
    var sec = Math.floor(Math.abs(ms) / 1000) % 60;
    var text;
    // Seconds tick while under an hour: that is when an agent watches the clock.
    if (min < 1) text = sec + " s";
    else if (min < 60) text = plural(min, "min") + " " + sec + " s";
    else if (min < 2880) text = Math.floor(min / 60) + " h" + (min % 60 ? " " + (min % 60) + " min" : "");
    else text = Math.floor(min / 1440) + " d";
    return future ? "in " + text : "overdue " + text;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-due]").forEach(function (el) {
      var ms = Date.parse(el.getAttribute("data-due")) - now;
      el.textContent = describe(ms);
      el.classList.toggle("overdue", ms < 0);
      el.classList.toggle("soon", ms >= 0 && ms < 3600000);
    });
  }
  tick();
  window.setInterval(tick, 1000);

  var links = Array.prototype.slice.call(document.querySelectorAll("a.row-link"));
  function current() { return links.indexOf(document.activeElement); }
  function focusRow(i) {
    if (!links.length) return;
    i = Math.max(0, Math.min(links.length - 1, i));
    links[i].focus();
    links.forEach(function (a, j) { a.closest("tr").classList.toggle("selected", i === j); });
  }
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" && ev.target.type !== "checkbox" || tag === "select" || tag === "textarea") return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var i = current();
    if (ev.key === "j" || ev.key === "ArrowDown") { focusRow(i < 0 ? 0 : i + 1); ev.preventDefault(); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { focusRow(i < 0 ? 0 : i - 1); ev.preventDefault(); }
    else if (ev.key === "x" && i >= 0) {
      var box = links[i].closest("tr").querySelector("input[type=checkbox]");
      box.checked = !box.checked;
      ev.preventDefault();
    }
  });
  var all = document.getElementById("tick-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=ticket]").forEach(function (b) { b.checked = all.checked; });
    });
  }
})();
