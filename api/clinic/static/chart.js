/* The clinic's charts (uPlot). clinicCharts.mount is what every chart page shares (the reports page's
   report-chart.js too, loaded after this file): data from the page's <script type="application/json"> (no
   inline script: CSP), drawn once the page is ready and again at the new width after a resize. The rest is the
   participant page's charts: glucose readings against the protocol's ranges, and insulin doses. */
(function () {
  "use strict";
  var COLORS = {
    band: "#d8efdc", illness: "#e6e0f0", postprandial: "#b84a00", level1: "#d98e04", level2: "#a4161a",
    fasting: "#0b5cad", after_meal: "#6a3d9a", other: "#1b1f24", out: "#a4161a", hypo: "#a4161a",
    basal: "#1d6b36", bolus: "#0b5cad"
  };

  function shape(ctx, context, x, y, r) {
    ctx.beginPath();
    if (context === "fasting") {
      ctx.rect(x - r, y - r, 2 * r, 2 * r);
    } else if (context === "postprandial") {
      ctx.moveTo(x, y - r * 1.2); ctx.lineTo(x + r * 1.1, y + r); ctx.lineTo(x - r * 1.1, y + r); ctx.closePath();
    } else {
      ctx.arc(x, y, r, 0, 2 * Math.PI);
    }
  }

  function hline(u, ctx, value, color, dash) {
    var y = Math.round(u.valToPos(value, "y", true));
    ctx.save();
    ctx.strokeStyle = color; ctx.lineWidth = 2 * devicePixelRatio; ctx.setLineDash(dash);
    ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
    ctx.restore();
  }

  function glucoseChart(el, d, width) {
    var xs = d.readings.map(function (r) { return r[0]; });
    var ys = d.readings.map(function (r) { return r[1]; });
    var top = Math.max(d.ranges.postprandial_limit * 1.4, Math.max.apply(null, ys.concat([0])) * 1.05);
    var ranges = d.ranges;
    return new uPlot({
      width: width, height: 320,
      scales: { x: { time: true, range: [d.start, d.end] }, y: { range: [0, top] } },
      legend: { show: false },
      cursor: { show: false },
      axes: [{}, { label: d.unit, size: 60 }],
      series: [{}, { label: "glucose", paths: function () { return null; }, points: { show: false } }],
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx, b = u.bbox;
          ctx.save();
          ctx.fillStyle = COLORS.illness;
          d.illness.forEach(function (span) {
            var x0 = Math.max(b.left, u.valToPos(span[0], "x", true));
            var x1 = Math.min(b.left + b.width, u.valToPos(span[1], "x", true));
            if (x1 > x0) { ctx.fillRect(x0, b.top, x1 - x0, b.height); }
          });
          var yHigh = u.valToPos(ranges.fasting_high, "y", true), yLow = u.valToPos(ranges.fasting_low, "y", true);
          ctx.fillStyle = COLORS.band;
          ctx.fillRect(b.left, yHigh, b.width, yLow - yHigh);
          ctx.restore();
        }],
        draw: [function (u) {
          var ctx = u.ctx, r = 4 * devicePixelRatio;
          hline(u, ctx, ranges.postprandial_limit, COLORS.postprandial, [8, 6]);
          hline(u, ctx, ranges.hypo_level1, COLORS.level1, []);
          hline(u, ctx, ranges.hypo_level2, COLORS.level2, []);
          ctx.save();
          d.readings.forEach(function (reading) {
            var x = u.valToPos(reading[0], "x", true), y = u.valToPos(reading[1], "y", true);
            var context = reading[2] === "fasting" || reading[2] === "postprandial" ? reading[2] : "other";
            shape(ctx, context, x, y, r);
            ctx.fillStyle = context === "postprandial" ? COLORS.after_meal : COLORS[context];
            ctx.fill();
            if (reading[3]) {
              ctx.lineWidth = 2 * devicePixelRatio; ctx.strokeStyle = COLORS.out;
              ctx.beginPath(); ctx.arc(x, y, r * 2, 0, 2 * Math.PI); ctx.stroke();
            }
          });
          ctx.fillStyle = COLORS.hypo;
          ctx.font = (14 * devicePixelRatio) + "px sans-serif";
          ctx.textAlign = "center";
          d.hypo_events.forEach(function (t) {
            ctx.fillText("\u2731", u.valToPos(t, "x", true), u.bbox.top + 14 * devicePixelRatio);
          });
          ctx.restore();
        }]
      }
    }, [xs, ys], el);
  }

  function insulinChart(el, d, width) {
    var xs = d.doses.map(function (x) { return x[0]; });
    var ys = d.doses.map(function (x) { return x[1]; });
    return new uPlot({
      width: width, height: 140,
      scales: { x: { time: true, range: [d.start, d.end] }, y: { range: [0, Math.max.apply(null, ys.concat([1])) * 1.15] } },
      legend: { show: false },
      cursor: { show: false },
      axes: [{}, { label: "IU", size: 60 }],
      series: [{}, { label: "insulin", paths: function () { return null; }, points: { show: false } }],
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, zero = u.valToPos(0, "y", true);
          ctx.save();
          ctx.lineWidth = 3 * devicePixelRatio;
          d.doses.forEach(function (dose) {
            var x = u.valToPos(dose[0], "x", true);
            ctx.strokeStyle = dose[2] === "basal" ? COLORS.basal : COLORS.bolus;
            ctx.beginPath(); ctx.moveTo(x, zero); ctx.lineTo(x, u.valToPos(dose[1], "y", true)); ctx.stroke();
          });
          ctx.restore();
        }]
      }
    }, [xs, ys], el);
  }

  // draw(el, data, width) draws into el and returns the charts it made, for the next redraw to destroy
  function mount(sourceId, elementId, draw) {
    function start() {
      var source = document.getElementById(sourceId);
      var el = document.getElementById(elementId);
      if (!source || !el || typeof uPlot === "undefined") { return; }
      var data = JSON.parse(source.textContent);
      var charts = [];
      function redraw() {
        charts.forEach(function (c) { c.destroy(); });
        charts = draw(el, data, Math.max(280, el.clientWidth - 2));
      }
      redraw();
      var pending = null;
      window.addEventListener("resize", function () {
        clearTimeout(pending);
        pending = setTimeout(redraw, 200);
      });
    }

    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", start);
    } else {
      start();
    }
  }

  window.clinicCharts = { mount: mount };

  mount("chart-data", "glucose-chart", function (glucoseEl, data, width) {
    var insulinEl = document.getElementById("insulin-chart");
    var charts = [glucoseChart(glucoseEl, data, width), insulinChart(insulinEl, data, width)];
    glucoseEl.dataset.drawn = String(data.readings.length);
    return charts;
  });
})();
