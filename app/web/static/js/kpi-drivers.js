// Draws the drivers table as horizontal bars of the difference in mean CSAT (with − without).
// The table is the source and the accessible fallback: the chart shows exactly its numbers.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  document.querySelectorAll("canvas[data-drivers-for]").forEach(function (canvas) {
    var table = document.getElementById(canvas.getAttribute("data-drivers-for"));
    if (!table) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"))
      .filter(function (r) { return r.getAttribute("data-difference") !== ""; });
    var values = rows.map(function (r) { return Number(r.getAttribute("data-difference")); });
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return r.getAttribute("data-fact-label"); }),
        datasets: [{ label: "difference in mean CSAT (with − without)", data: values,
                     backgroundColor: values.map(function (v) { return v < 0 ? "#b3412e" : "#2e7d4f"; }) }]
      },
      options: { indexAxis: "y", animation: false, responsive: true, maintainAspectRatio: false,
                 scales: { x: { title: { display: true, text: "CSAT points" } } } }
    });
    canvas.setAttribute("data-drawn", "1");
  });
})();
