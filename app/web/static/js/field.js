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
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });
})();
