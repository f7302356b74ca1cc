// The dashboard of `forecast serve`: draws what GET /v1/models/{name}/data returns
// and follows WebSocket /v1/models/{name}/live. Every number (indicators, forecast,
// alerts) comes from the server; this script only draws.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var TOKEN_KEY = "forecast.token";
  var chart = echarts.init($("chart"));
  var api = window.forecastDashboard = {
    chart: chart, state: null, ws: null, model: null, series: null,
    events: [], select: select, reload: loadModels
  };

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function status(state, text) {
    var s = $("status");
    s.dataset.state = state;
    s.textContent = text || state;
  }

  function needToken() {
    $("token-form").hidden = false;
    status("error", "token needed");
    $("token-input").focus();
  }

  $("token-form").addEventListener("submit", function (e) {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
    $("token-input").value = "";
    $("token-form").hidden = true;
    loadModels();
  });

  function get(path) {
    var headers = {};
    if (token()) headers.Authorization = "Bearer " + token();
    return fetch(path, { headers: headers, cache: "no-store" }).then(function (r) {
      if (r.status === 401) { needToken(); throw new Error("unauthenticated"); }
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
        return body;
      });
    });
  }

  function option(el, value, text) {
    var o = document.createElement("option");
    o.value = value; o.textContent = text;
    el.appendChild(o);
  }

  function loadModels() {
    status("idle", "loading");
    return get("/v1/models").then(function (body) {
      var sel = $("model-select");
      sel.textContent = "";
      body.models.forEach(function (m) { option(sel, m.name, m.name + " (" + m.kind + ")"); });
      if (!body.models.length) { status("error", "no model served"); return; }
      var keep = body.models.some(function (m) { return m.name === api.model; });
      return select(keep ? api.model : body.models[0].name, keep ? api.series : null);
    }).catch(function (e) { if (e.message !== "unauthenticated") status("error", e.message); });
  }

  $("model-select").addEventListener("change", function (e) { select(e.target.value, null); });
  $("series-select").addEventListener("change", function (e) { select(api.model, e.target.value); });

  function query(id, extra) {
    var q = [];
    if (id !== null && id !== undefined && id !== "") q.push("unique_id=" + encodeURIComponent(id));
    if (extra) q.push(extra);
    return q.length ? "?" + q.join("&") : "";
  }

  // Show a model (and a panel's series): its data now, then its live feed.
  function select(model, id) {
    api.model = model; api.series = id;
    $("model-select").value = model;
    var path = "/v1/models/" + encodeURIComponent(model);
    return get(path + "/data" + query(id)).then(function (snap) {
      var ids = snap.series_ids || [];
      $("series-label").hidden = !ids.length;
      var sel = $("series-select");
      sel.textContent = "";
      ids.forEach(function (s) { option(sel, s, s); });
      if (snap.unique_id) { sel.value = snap.unique_id; api.series = snap.unique_id; }
      show(snap);
      connect();
    }).catch(function (e) { if (e.message !== "unauthenticated") status("error", e.message); });
  }

  function b64url(text) {
    var bytes = new TextEncoder().encode(text), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function connect() {
    if (api.ws) { api.ws.onclose = null; api.ws.close(); }
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + location.host + "/v1/models/" + encodeURIComponent(api.model) + "/live" + query(api.series);
    var protocols = ["forecast.live"];
    if (token()) protocols.push("forecast.bearer." + b64url(token()));
    var ws = api.ws = new WebSocket(url, protocols);
    var model = api.model;
    status("idle", "connecting");
    ws.onopen = function () { status("live"); };
    ws.onmessage = function (m) {
      var ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      api.events.push(ev);
      if (api.events.length > 100) api.events.shift();
      if (ev.type === "snapshot") show(ev);
      else if (ev.type === "bar") onBar(ev);
    };
    ws.onclose = function () {
      if (api.ws !== ws) return;
      status("error", "disconnected; retrying");
      setTimeout(function () { if (api.ws === ws && api.model === model) connect(); }, 2000);
    };
  }

  // A snapshot (data endpoint or the live feed's first message) replaces the state.
  function show(snap) {
    var s = {
      ohlc: snap.ohlc, total: snap.total, ds: snap.ds.slice(), close: snap.close.slice(),
      open: (snap.open || []).slice(), high: (snap.high || []).slice(), low: (snap.low || []).slice(),
      ind: {}, forecast: snap.forecast, target: snap.target, model: snap.model
    };
    Object.keys(snap.indicators).forEach(function (k) { s.ind[k] = snap.indicators[k].slice(); });
    var first = !api.state;
    api.state = s;
    $("alerts").textContent = "";
    snap.alerts.forEach(addAlert);
    $("rules").textContent = snap.rules.length
      ? "Rules: " + snap.rules.map(function (r) { return r.name; }).join(", ")
      : "No alert rules (serve --rules FILE.toml).";
    draw(first);
    document.body.dataset.ready = "true";
  }

  function onBar(ev) {
    var s = api.state;
    if (!s || ev.model !== s.model || ev.total <= s.total) return;
    if (ev.total !== s.total + 1) { connect(); return; } // missed a bar: resync
    s.total = ev.total;
    s.ds.push(ev.bar.ds); s.close.push(ev.bar.close);
    if (s.ohlc) { s.open.push(ev.bar.open); s.high.push(ev.bar.high); s.low.push(ev.bar.low); }
    Object.keys(ev.indicators).forEach(function (k) { (s.ind[k] = s.ind[k] || []).push(ev.indicators[k]); });
    s.forecast = ev.forecast;
    ev.alerts.forEach(addAlert);
    draw(false);
    document.body.dataset.bars = String(Number(document.body.dataset.bars || 0) + 1);
  }

  function addAlert(a) {
    var li = document.createElement("li");
    li.className = "alert";
    li.dataset.rule = a.rule;
    li.dataset.signal = String(a.signal);
    var when = document.createElement("span");
    when.className = "when";
    when.textContent = a.ds + " · " + a.rule + (a.series ? " · " + a.series : "");
    li.appendChild(when);
    li.appendChild(document.createTextNode(a.message));
    $("alerts").insertBefore(li, $("alerts").firstChild);
  }

  function fmt(v) { return v === null || v === undefined ? "–" : Number(v).toFixed(2); }

  // Tooltip: the bar's values, or the forecast's mean and bands.
  function tooltip(params) {
    var s = api.state, i = params[0].dataIndex, n = s.ds.length, rows = [];
    if (i < n) {
      rows.push("<b>" + s.ds[i] + "</b>");
      if (s.ohlc) rows.push("O " + fmt(s.open[i]) + " H " + fmt(s.high[i]) + " L " + fmt(s.low[i]) + " C " + fmt(s.close[i]));
      else rows.push(s.target + " " + fmt(s.close[i]));
      [["sma_20", "SMA 20"], ["sma_50", "SMA 50"], ["bb_upper_20", "BB upper"], ["bb_lower_20", "BB lower"], ["rsi_14", "RSI 14"]].forEach(function (p) {
        if (s.ind[p[0]] && s.ind[p[0]][i] !== null && s.ind[p[0]][i] !== undefined) rows.push(p[1] + " " + fmt(s.ind[p[0]][i]));
      });
    } else {
      var f = s.forecast[i - n];
      if (!f) return "";
      rows.push("<b>" + f.ds + "</b> forecast");
      rows.push("mean " + fmt(f.mean));
      rows.push("80% " + fmt(f["lo-80"]) + " – " + fmt(f["hi-80"]));
      rows.push("95% " + fmt(f["lo-95"]) + " – " + fmt(f["hi-95"]));
    }
    return rows.join("<br>");
  }

  function draw(first) {
    var s = api.state, n = s.ds.length, h = s.forecast.length;
    var pad = function (a, before, after) {
      var out = [], i;
      for (i = 0; i < before; i++) out.push(null);
      out = out.concat(a);
      for (i = 0; i < after; i++) out.push(null);
      return out;
    };
    var fc = function (key) {
      // Starts at the last bar so the forecast joins the price line.
      return pad([key === "mean" || !h ? s.close[n - 1] : null].concat(s.forecast.map(function (f) { return f[key]; })), n - 1, 0);
    };
    var diff = function (lo, hi) {
      var a = fc(lo), b = fc(hi);
      return b.map(function (v, i) { return v === null || a[i] === null ? null : v - a[i]; });
    };
    var x = s.ds.concat(s.forecast.map(function (f) { return f.ds; }));
    var ind = function (k) { return pad(s.ind[k] || [], 0, h); };
    var price = s.ohlc
      // Forecast positions hold an empty candle ("-": ECharts' missing value; a null
      // item breaks the candlestick series when the chart is first drawn).
      ? { name: "price", type: "candlestick", data: s.close.map(function (c, i) { return [s.open[i], c, s.low[i], s.high[i]]; })
            .concat(Array.apply(null, Array(h)).map(function () { return ["-", "-", "-", "-"]; })),
          itemStyle: { color: "#1b7f3b", color0: "#b3261e", borderColor: "#1b7f3b", borderColor0: "#b3261e" } }
      : { name: "price", type: "line", data: pad(s.close, 0, h), showSymbol: false, lineStyle: { width: 1.5, color: "#1d2330" } };
    var line = function (name, data, color, dashed, axis) {
      return { name: name, type: "line", data: data, showSymbol: false, connectNulls: false, xAxisIndex: axis || 0, yAxisIndex: axis || 0,
               lineStyle: { width: 1, color: color, type: dashed ? "dashed" : "solid" }, itemStyle: { color: color } };
    };
    var band = function (name, lo, hi, color) {
      return [
        { name: name + " base", type: "line", data: fc(lo), stack: name, showSymbol: false, lineStyle: { opacity: 0 }, silent: true, tooltip: { show: false } },
        { name: name, type: "line", data: diff(lo, hi), stack: name, showSymbol: false, lineStyle: { opacity: 0 }, areaStyle: { color: color }, itemStyle: { color: color }, silent: true }
      ];
    };
    var opt = {
      animation: false,
      legend: { top: 4, data: ["price", "SMA 20", "SMA 50", "BB upper", "BB lower", "forecast", "95%", "80%", "RSI 14"] },
      tooltip: { trigger: "axis", axisPointer: { type: "cross" }, formatter: tooltip, className: "forecast-tooltip" },
      axisPointer: { link: [{ xAxisIndex: "all" }] },
      grid: [{ left: 60, right: 20, top: 40, height: "58%" }, { left: 60, right: 20, top: "76%", height: "14%" }],
      xAxis: [{ type: "category", data: x, boundaryGap: true, axisLabel: { show: false } },
              { type: "category", data: x, gridIndex: 1, boundaryGap: true }],
      yAxis: [{ scale: true, name: s.target }, { gridIndex: 1, min: 0, max: 100, splitNumber: 2, name: "RSI" }],
      series: [price,
        line("SMA 20", ind("sma_20"), "#2f6fdb"), line("SMA 50", ind("sma_50"), "#c77c02"),
        line("BB upper", ind("bb_upper_20"), "#8a93a0", true), line("BB lower", ind("bb_lower_20"), "#8a93a0", true)]
        .concat(band("95%", "lo-95", "hi-95", "rgba(123, 97, 255, 0.15)"))
        .concat(band("80%", "lo-80", "hi-80", "rgba(123, 97, 255, 0.25)"))
        .concat([line("forecast", fc("mean"), "#7b61ff"),
          Object.assign(line("RSI 14", ind("rsi_14"), "#7b61ff", false, 1), {
            markLine: { silent: true, symbol: "none", data: [{ yAxis: 70 }, { yAxis: 30 }], lineStyle: { color: "#b3261e", type: "dotted" } } })])
    };
    if (first) {
      var start = Math.max(0, 100 - 100 * 160 / x.length);
      opt.dataZoom = [{ type: "inside", xAxisIndex: [0, 1], start: start, end: 100 },
                      { type: "slider", xAxisIndex: [0, 1], start: start, end: 100, bottom: 4 }];
    }
    chart.setOption(opt);
    var last = n - 1;
    $("last-bar").textContent = n ? "last " + s.ds[last] + " · " + fmt(s.close[last]) + " · " + s.total + " bars" : "";
  }

  window.addEventListener("resize", function () { chart.resize(); });
  loadModels();
})();
