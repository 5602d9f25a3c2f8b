// Field pages: fill the check-in form with the phone's position when it gives one, and keep a
// second tap from sending a form twice (the server would answer the first result anyway).
(function () {
  "use strict";
  var checkIn = document.getElementById("check-in-form");
  if (checkIn && navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        checkIn.elements.latitude.value = pos.coords.latitude.toFixed(6);
        checkIn.elements.longitude.value = pos.coords.longitude.toFixed(6);
      },
      function () { /* no fix: check in without a position */ },
      { maximumAge: 120000, timeout: 10000 }
    );
  }
  // "Other parts from the van": without JavaScript all rows show; here only the filled ones and
  // one empty row, and "Add another part" reveals the next, so a phone screen stays short.
  var rows = Array.prototype.slice.call(document.querySelectorAll(".other-parts .other-part"));
  if (rows.length > 1) {
    var shown = 0;
    rows.forEach(function (row, i) {
      if (row.querySelector("select").value || row.querySelector("[aria-invalid]") || i === 0) { shown = i; }
    });
    var more = document.createElement("button");
    more.type = "button";
    more.className = "btn";
    more.textContent = "Add another part";
    var sync = function () {
      rows.forEach(function (row, i) { row.hidden = i > shown; });
      more.hidden = shown >= rows.length - 1;
    };
    more.addEventListener("click", function () {
      shown += 1;
      sync();
      rows[shown].querySelector("select").focus();
    });
    rows[0].parentNode.appendChild(more);
    sync();
  }
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });
})();
