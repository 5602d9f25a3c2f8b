// Draws the drivers table as horizontal bars of the difference in mean CSAT (with − without), each
// with whiskers for its 95 % interval. The table is the source and the accessible fallback: the
// chart shows exactly its numbers, and the tooltip says them in the table's own words.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  // Solid: the 95 % interval stays clear of 0. Light: it spans 0 (or there is none), so the data do
  // not tell whether the fact lowers or raises satisfaction; the legend under the chart and the
  // table's "uncertain" say so in words, so the shade is not the only sign.
  var COLOURS = {
    lowers: "#b3412e", raises: "#2e7d4f", lowersUncertain: "#e8bcb3", raisesUncertain: "#b5d8c2"
  };
  var WHISKER = "#1f2933";
  // Two means of 1–5 ratings differ by at most 4: an interval past that is cut at the axis (no cap
  // there, the tooltip has its number) rather than squeezing every bar into a wider axis.
  var LIMIT = 4;

  function number(row, name) {
    var v = row.getAttribute(name);
    return v === null || v === "" ? null : Number(v);
  }

  function facts(table) {
    return Array.prototype.slice.call(table.querySelectorAll("tbody tr"))
      .filter(function (r) { return r.getAttribute("data-difference") !== ""; })
      .map(function (r) {
        return {
          label: r.getAttribute("data-fact-label"),
          difference: number(r, "data-difference"),
          low: number(r, "data-ci-low"),
          high: number(r, "data-ci-high"),
          differenceText: r.getAttribute("data-difference-text"),
          intervalText: r.getAttribute("data-ci-text"),
          uncertain: r.getAttribute("data-uncertain") === "1"
        };
      });
  }

  function colour(f) {
    return COLOURS[(f.difference < 0 ? "lowers" : "raises") + (f.uncertain ? "Uncertain" : "")];
  }

  function tooltipLines(f) {
    var lines = ["Difference: " + f.differenceText + " CSAT points (with − without)"];
    if (f.low === null) {
      lines.push("No 95 % interval (fewer than 2 answers on a side, or no spread): uncertain");
    } else {
      lines.push("95 % interval: " + f.intervalText);
      lines.push(f.uncertain ? "Uncertain: the interval spans 0" : "The interval stays clear of 0");
    }
    return lines;
  }

  // A horizontal line from the interval's low to its high end through the bar's middle, with a cap
  // at each end that lies inside the axis.
  function whiskers(items) {
    return {
      id: "driversWhiskers",
      afterDatasetsDraw: function (chart) {
        var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
        chart.getDatasetMeta(0).data.forEach(function (bar, i) {
          var f = items[i];
          if (!f || f.low === null || f.high === null) return;
          var from = x.getPixelForValue(f.low), to = x.getPixelForValue(f.high);
          var left = Math.max(area.left, from), right = Math.min(area.right, to);
          var half = Math.max(3, (bar.height || 12) / 3);
          ctx.save();
          ctx.strokeStyle = WHISKER;
          ctx.lineWidth = 2;
          ctx.beginPath();
          ctx.moveTo(left, bar.y);
          ctx.lineTo(right, bar.y);
          if (from >= area.left) { ctx.moveTo(from, bar.y - half); ctx.lineTo(from, bar.y + half); }
          if (to <= area.right) { ctx.moveTo(to, bar.y - half); ctx.lineTo(to, bar.y + half); }
          ctx.stroke();
          ctx.restore();
        });
      }
    };
  }

  document.querySelectorAll("canvas[data-drivers-for]").forEach(function (canvas) {
    var table = document.getElementById(canvas.getAttribute("data-drivers-for"));
    if (!table) return;
    var items = facts(table);
    var ends = [0];
    items.forEach(function (f) { ends.push(f.difference, f.low === null ? 0 : f.low, f.high === null ? 0 : f.high); });
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: items.map(function (f) { return f.label; }),
        datasets: [{ label: "difference in mean CSAT (with − without)",
                     data: items.map(function (f) { return f.difference; }),
                     backgroundColor: items.map(colour),
                     hoverBackgroundColor: items.map(colour) }]
      },
      options: {
        indexAxis: "y", animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: "CSAT points" },
                       suggestedMin: Math.max(-LIMIT, Math.min.apply(null, ends)),
                       suggestedMax: Math.min(LIMIT, Math.max.apply(null, ends)) } },
        plugins: {
          legend: { display: false },  // the page's legend says what solid, light and whiskers mean
          tooltip: { callbacks: { label: function (ctx) { return tooltipLines(items[ctx.dataIndex]); } } }
        }
      },
      plugins: [whiskers(items)]
    });
    canvas.setAttribute("data-drawn", "1");
  });
})();
