// Draws each KPI table as a line chart: the window's periods, and a flat line at the whole
// same-length window before (the card's "before" figure) to read them against. The table is the
// source: the chart shows exactly its numbers, and without scripts the table alone remains.
// (Each period's own "period before", the table's last column, was once a second line: it was the
// first line shifted one step right, and read as a second series.)
// The cards show how sure a figure is (n, its 95 % interval); the lines showed none, so NPS going
// +75 → −25 on 4 answers read as a collapse. Now a period with a small sample (n under the table's
// data-few) is drawn hollow, and a period whose figure has an interval in the data (the rates and
// survey scores; durations, utilisation and backlog have none) gets it as a vertical whisker, cut
// at the chart's edge rather than stretching the axis; the tooltip says n and the interval.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  var LINE = "#1f5fa8", WHISKER = "rgba(31, 95, 168, .55)";

  // A vertical line from each period's interval low to its high end, capped where the cap is inside.
  function intervals(points) {
    return {
      id: "kpiIntervals",
      afterDatasetsDraw: function (chart) {
        var y = chart.scales.y, area = chart.chartArea, ctx = chart.ctx;
        chart.getDatasetMeta(0).data.forEach(function (pt, i) {
          var p = points[i];
          if (!p || p.value === null || p.low === null || p.high === null) return;
          var from = y.getPixelForValue(p.low), to = y.getPixelForValue(p.high);  // from: the lower, so larger y
          var bottom = Math.min(area.bottom, from), top = Math.max(area.top, to);
          ctx.save();
          ctx.strokeStyle = WHISKER;
          ctx.lineWidth = 2;
          ctx.beginPath();
          ctx.moveTo(pt.x, bottom);
          ctx.lineTo(pt.x, top);
          if (from <= area.bottom) { ctx.moveTo(pt.x - 4, from); ctx.lineTo(pt.x + 4, from); }
          if (to >= area.top) { ctx.moveTo(pt.x - 4, to); ctx.lineTo(pt.x + 4, to); }
          ctx.stroke();
          ctx.restore();
        });
      }
    };
  }

  document.querySelectorAll("canvas[data-chart-for]").forEach(function (canvas) {
    var table = document.getElementById(canvas.getAttribute("data-chart-for"));
    if (!table) return;
    var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr"));
    // data-value is the API's figure (minutes for durations); the table reads it in the card's unit.
    var per = Number(table.getAttribute("data-per") || "1");
    var few = Number(table.getAttribute("data-few") || "0");
    var num = function (text) { return text === "" || text === null ? null : Number(text) / per; };
    var before = num(table.getAttribute("data-window-before") || "");
    var points = rows.map(function (r) {
      var n = Number(r.getAttribute("data-n") || "0");
      return {
        value: num(r.getAttribute("data-value")),
        n: n,
        few: n < few,
        low: num(r.getAttribute("data-ci-low")),
        high: num(r.getAttribute("data-ci-high")),
        shown: (r.querySelector(".value") || {}).textContent || "",
        interval: r.getAttribute("data-ci-text") || ""
      };
    });
    new Chart(canvas, {
      type: "line",
      data: {
        labels: rows.map(function (r) { return r.getAttribute("data-period"); }),
        datasets: [
          { label: table.getAttribute("data-label"), data: points.map(function (p) { return p.value; }),
            borderColor: LINE, backgroundColor: LINE, spanGaps: false,
            // hollow: a small sample (the legend under the chart says so in words)
            pointBackgroundColor: points.map(function (p) { return p.few ? "#fff" : LINE; }),
            pointBorderColor: LINE, pointBorderWidth: 2,
            pointRadius: points.map(function (p) { return p.few ? 4 : 3; }) },
        ].concat(before === null ? [] : [
          { label: "the window before, in all", data: rows.map(function () { return before; }),
            borderColor: "#8a96a6", backgroundColor: "#8a96a6", borderDash: [4, 4], pointRadius: 0 }
        ])
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
                 scales: { y: { beginAtZero: true, title: { display: true, text: table.getAttribute("data-unit") } } },
                 plugins: { tooltip: { callbacks: {
                   label: function (ctx) {
                     if (ctx.datasetIndex !== 0) return ctx.dataset.label + ": " + ctx.formattedValue;
                     return ctx.dataset.label + ": " + points[ctx.dataIndex].shown;  // as the table says it
                   },
                   afterLabel: function (ctx) {
                     if (ctx.datasetIndex !== 0) return [];
                     var p = points[ctx.dataIndex];
                     var lines = ["n = " + p.n + (p.few ? " (few: read with care)" : "")];
                     if (p.interval) lines.push(p.interval);
                     return lines;
                   }
                 } } } },
      plugins: [intervals(points)]
    });
    canvas.setAttribute("data-drawn", "1");
  });
})();
