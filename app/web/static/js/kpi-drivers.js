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
  // The axis spans at least ±1 CSAT point and otherwise only the facts that have an interval: scaled
  // to a fact without one (one answer on a side), "SLA breached −0.45" filled the whole chart and
  // looked like the strongest effect. Such a bar past the axis is cut there (its number in the tooltip).
  var MIN_SPAN = 1;

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
          uncertain: r.getAttribute("data-uncertain") === "1",
          fewest: Math.min(Number(r.getAttribute("data-n-with") || 0), Number(r.getAttribute("data-n-without") || 0))
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

  // What a bar without an interval says on the chart itself, not only in its tooltip.
  function noInterval(f) { return f.fewest < 2 ? "too few answers" : "no interval (no spread)"; }

  // Written beside the bar, across the zero line from it (inside the axis whatever the bar's length).
  function notes(items) {
    return {
      id: "driversNotes",
      afterDatasetsDraw: function (chart) {
        var ctx = chart.ctx, tick = chart.scales.y.options.ticks.font || {};
        chart.getDatasetMeta(0).data.forEach(function (bar, i) {
          var f = items[i];
          if (!f || f.low !== null) return;
          var left = bar.x < bar.base;
          ctx.save();
          ctx.font = "italic " + (tick.size || 12) + "px " + (Chart.defaults.font.family || "sans-serif");
          ctx.fillStyle = "#1f2933";
          ctx.textAlign = left ? "left" : "right";
          ctx.textBaseline = "middle";
          ctx.fillText(noInterval(f), bar.base + (left ? 6 : -6), bar.y);
          ctx.restore();
        });
      }
    };
  }

  // A long fact ("Repeat visit (a return within 30 days)") in lines of about `width` letters: on a
  // phone one line was wider than the room left of the axis and was cut at the canvas' edge.
  function wrap(text, width) {
    var lines = [], line = "";
    String(text).split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > width) { lines.push(line); line = word; }
      else line = line ? line + " " + word : word;
    });
    if (line) lines.push(line);
    return lines;
  }

  document.querySelectorAll("canvas[data-drivers-for]").forEach(function (canvas) {
    var table = document.getElementById(canvas.getAttribute("data-drivers-for"));
    if (!table) return;
    var items = facts(table);
    if (!items.length) return;  // no answers: the page says so instead of an empty grid
    var ends = [-MIN_SPAN, MIN_SPAN];
    items.forEach(function (f) { if (f.low !== null) ends.push(f.difference, f.low, f.high); });
    // the labels take at most ~40 % of the width (7 px a letter), the bars the rest
    var letters = Math.max(12, Math.floor(canvas.parentNode.clientWidth * 0.4 / 7));
    var labels = items.map(function (f) { return wrap(f.label, letters); });
    var lines = labels.reduce(function (sum, l) { return sum + l.length; }, 0);
    // room for every line of every label (the box's CSS height is a minimum)
    canvas.parentNode.style.height = Math.max(224, 70 + lines * 16 + items.length * 12) + "px";
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: [{ label: "difference in mean CSAT (with − without)",
                     data: items.map(function (f) { return f.difference; }),
                     backgroundColor: items.map(colour),
                     hoverBackgroundColor: items.map(colour) }]
      },
      options: {
        indexAxis: "y", animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: "CSAT points" },
                       min: Math.max(-LIMIT, Math.floor(Math.min.apply(null, ends) * 2) / 2),
                       max: Math.min(LIMIT, Math.ceil(Math.max.apply(null, ends) * 2) / 2) },
                  y: { ticks: { autoSkip: false } } },
        plugins: {
          legend: { display: false },  // the page's legend says what solid, light and whiskers mean
          tooltip: { callbacks: { label: function (ctx) { return tooltipLines(items[ctx.dataIndex]); } } }
        }
      },
      plugins: [whiskers(items), notes(items)]
    });
    canvas.setAttribute("data-drawn", "1");
  });
})();
