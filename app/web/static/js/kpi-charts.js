// Draws each KPI table as a line chart: the window's periods, and a flat line at the whole
// same-length window before (the card's "before" figure) to read them against. The table is the
// source: the chart shows exactly its numbers, and without scripts the table alone remains.
// (Each period's own "period before", the table's last column, was once a second line: it was the
// first line shifted one step right, and read as a second series.)
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  document.querySelectorAll("canvas[data-chart-for]").forEach(function (canvas) {
    var table = document.getElementById(canvas.getAttribute("data-chart-for"));
    if (!table) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    // data-value is the API's figure (minutes for durations); the table reads it in the card's unit.
    var per = Number(table.getAttribute("data-per") || "1");
    var num = function (text) { return text === "" ? null : Number(text) / per; };
    var before = num(table.getAttribute("data-window-before") || "");
    new Chart(canvas, {
      type: "line",
      data: {
        labels: rows.map(function (r) { return r.getAttribute("data-period"); }),
        datasets: [
          { label: table.getAttribute("data-label"), data: rows.map(function (r) { return num(r.getAttribute("data-value")); }),
            borderColor: "#1f5fa8", backgroundColor: "#1f5fa8", spanGaps: false },
        ].concat(before === null ? [] : [
          { label: "the window before, in all", data: rows.map(function () { return before; }),
            borderColor: "#8a96a6", backgroundColor: "#8a96a6", borderDash: [4, 4], pointRadius: 0 }
        ])
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 scales: { y: { beginAtZero: true, title: { display: true, text: table.getAttribute("data-unit") } } } }
    });
    canvas.setAttribute("data-drawn", "1");
  });
})();
