/* The reports page's small chart (uPlot): one or two figures over the frames (weeks, visit months) of a report.
   Data comes from <script type="application/json" id="report-chart-data">, read and redrawn on resize by
   chart.js's clinicCharts.mount (loaded before this file). The first series is a solid line with squares, the
   second a dashed line with dots, so colour is never the only cue. */
(function () {
  "use strict";
  var STYLES = [
    { stroke: "#0b5cad", dash: [], fill: "#0b5cad" },
    { stroke: "#a4161a", dash: [8, 6], fill: "#a4161a" }
  ];

  function chart(el, d, width) {
    var series = [{ label: d.x_label }];
    d.series.forEach(function (s, i) {
      var style = STYLES[i % STYLES.length];
      series.push({
        label: s.label, stroke: style.stroke, width: 2, dash: style.dash, spanGaps: false,
        points: { show: true, size: 8, fill: style.fill, stroke: style.stroke }
      });
    });
    var data = [d.xs].concat(d.series.map(function (s) { return s.values; }));
    var lo = Math.min.apply(null, d.xs), hi = Math.max.apply(null, d.xs);
    return new uPlot({
      width: width, height: 200,
      scales: { x: { time: false, range: [lo - 0.5, hi + 0.5] }, y: { range: function (u, min, max) { return [0, Math.max(1, (max || 0) * 1.15)]; } } },
      legend: { show: false },
      cursor: { show: false },
      axes: [{ label: d.x_label, incrs: [1, 2, 5, 10] }, { label: d.y_label, size: 60 }],
      series: series
    }, data, el);
  }

  if (!window.clinicCharts) { return; }
  window.clinicCharts.mount("report-chart-data", "report-chart", function (el, data, width) {
    var drawn = chart(el, data, width);
    el.dataset.drawn = String(data.xs.length);
    return [drawn];
  });
})();
