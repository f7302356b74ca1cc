// Draws a report's charts from its JSON block and wires its tables (search, sort).
// Everything it needs is on the page; it loads nothing.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("forecast-report-data").textContent);

  // Up to 7 significant digits, without trailing zeros: what the JSON holds, readably.
  function num(v) {
    if (v === null || v === undefined || v === "-") return "–";
    if (typeof v !== "number") return String(v);
    return String(Number(v.toPrecision(7)));
  }

  // Every series' value at the hovered point; a band (a stacked lower/width pair whose
  // points carry both bounds) once, as "lo – hi".
  function valuesFormatter(params) {
    if (!Array.isArray(params)) params = [params];
    if (params.length === 0) return "";
    var lines = [params[0].axisValueLabel !== undefined ? params[0].axisValueLabel : params[0].name];
    params.forEach(function (p) {
      var d = p.data;
      if (d && typeof d === "object" && !Array.isArray(d) && d.band !== undefined) {
        if (d.band === "upper") lines.push(p.marker + p.seriesName + ": " + num(d.lo) + " – " + num(d.hi));
        return;
      }
      var v = p.value;
      if (Array.isArray(v)) {
        // candlesticks: [open, close, low, high]; scatter: [x, y]
        if (p.seriesType === "candlestick") {
          v = v.slice(-4);
          lines.push(p.marker + p.seriesName + ": O " + num(v[0]) + " H " + num(v[3]) + " L " + num(v[2]) + " C " + num(v[1]));
          return;
        }
        v = v[v.length - 1];
      }
      if (v === null || v === undefined) return;
      lines.push(p.marker + p.seriesName + ": " + num(v));
    });
    return lines.join("<br>");
  }

  function withFormatters(option) {
    var tips = [];
    if (option.tooltip) tips.push(option.tooltip);
    (option.series || []).forEach(function (s) { if (s.tooltip) tips.push(s.tooltip); });
    tips.forEach(function (t) {
      if (t.formatter === "values") t.formatter = valuesFormatter;
      if (!t.className) t.className = "forecast-tooltip";
    });
    return option;
  }

  var charts = {};
  var pending = data.charts.length;
  function drawn() {
    pending -= 1;
    if (pending === 0) document.body.setAttribute("data-rendered", "true");
  }
  data.charts.forEach(function (c) {
    var el = document.getElementById(c.id);
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.on("finished", function once() { chart.off("finished", once); drawn(); });
    chart.setOption(withFormatters(c.option));
    charts[c.id] = chart;
  });
  if (data.charts.length === 0) document.body.setAttribute("data-rendered", "true");
  // For readers who script the page (and the browser tests): the chart objects by id.
  window.forecastCharts = charts;
  window.addEventListener("resize", function () {
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });

  // Tables: a search box filters rows by their text; a click on a heading sorts.
  document.querySelectorAll("input.table-search").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        tr.classList.toggle("hidden", q !== "" && tr.textContent.toLowerCase().indexOf(q) < 0);
      });
    });
  });
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var asc = !th.classList.contains("asc");
        table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].textContent, y = b.cells[col].textContent;
          var nx = parseFloat(x), ny = parseFloat(y);
          var cmp = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return asc ? cmp : -cmp;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
