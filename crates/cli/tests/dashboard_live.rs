//! The dashboard of `forecast serve` as a browser uses it, over real sockets: the page
//! (chart library inlined, a strict Content-Security-Policy), the data endpoint
//! (history, the library's indicators, the forecast), and the live feed: a bar sent by
//! one client on a stream, or POSTed as history, reaches a second client subscribed to
//! `/v1/models/{name}/live` with its indicators, the new forecast and the alerts it fired.

use forecast_core::features::indicators;
use serde_json::{json, Value};
use std::time::Duration;

mod common;
use common::serving::{next_json, send, serve, ws};
use common::{dataset, ok, root, train_args, MSFT_NEXT_TRADING_DAYS};

/// MSFT's daily bars (the whole file) and a naive model trained on them, in `dir`.
fn msft_model(dir: &std::path::Path) -> String {
    let model = dir.join("msft");
    let model = model.to_str().unwrap().to_string();
    ok(&train_args(
        &dataset("msft_daily.csv"),
        "close",
        "naive",
        &model,
        &[],
    ));
    model
}

/// The columns of `datasets/msft_daily.csv`: dates and open, high, low, close.
fn msft_columns() -> (Vec<String>, [Vec<f64>; 4]) {
    let text = std::fs::read_to_string(dataset("msft_daily.csv")).unwrap();
    let mut ds = vec![];
    let mut cols: [Vec<f64>; 4] = Default::default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        ds.push(f[0].to_string());
        for (c, col) in cols.iter_mut().enumerate() {
            col.push(f[c + 1].parse().unwrap());
        }
    }
    (ds, cols)
}

fn get(addr: &str, path: &str, token: Option<&str>) -> reqwest::blocking::Response {
    let client = reqwest::blocking::Client::new();
    let mut req = client.get(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.timeout(Duration::from_secs(120)).send().unwrap()
}

fn get_json(addr: &str, path: &str) -> (u16, Value) {
    let r = get(addr, path, None);
    let status = r.status().as_u16();
    (status, r.json().unwrap())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// Equal as the server writes them: NaN (JSON null) where the library has NaN.
fn assert_same(name: &str, served: &[f64], library: &[f64]) {
    assert_eq!(served.len(), library.len(), "{name}: lengths");
    for (i, (a, b)) in served.iter().zip(library).enumerate() {
        assert!(
            (a.is_nan() && b.is_nan()) || a == b,
            "{name}[{i}]: served {a}, library {b}"
        );
    }
}

#[test]
fn the_page_inlines_the_chart_library_under_a_strict_policy_and_the_token_guards_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let model = msft_model(dir.path());
    let token = "tok+/dash=9";
    let srv = serve(
        &["--model", &model, "--token-env", "FORECAST_DASH_TOKEN"],
        &[("FORECAST_DASH_TOKEN", token)],
    );
    let addr = &srv.addr;
    // The page itself answers without the token: it holds no data.
    let page = get(addr, "/", None);
    assert_eq!(page.status().as_u16(), 200);
    let headers = page.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'sha256-",
        "style-src 'unsafe-inline'",
        &format!("connect-src 'self' ws://{addr} wss://{addr}"),
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{part} not in {csp}");
    }
    assert!(!csp.contains("http:") && !csp.contains('*'), "{csp}");
    let html = page.text().unwrap();
    let echarts =
        std::fs::read_to_string(root().join("crates/report/vendor/echarts/echarts.min.js"))
            .unwrap();
    assert!(html.contains(&echarts), "the chart library is inlined");
    for hook in [
        "id=\"chart\"",
        "id=\"model-select\"",
        "id=\"series-select\"",
        "id=\"alerts\"",
        "id=\"token-form\"",
        "window.forecastDashboard",
        "dataset.ready",
        "dataset.bars",
    ] {
        assert!(html.contains(hook), "{hook} is on the page");
    }
    assert!(!html.contains("<script src") && !html.contains("<link"));

    // The data needs the token: a header, or for a browser's WebSocket a subprotocol.
    assert_eq!(
        get(addr, "/v1/models/msft/data", None).status().as_u16(),
        401
    );
    let r = get(addr, "/v1/models/msft/data?bars=10", Some(token));
    assert_eq!(r.status().as_u16(), 200);
    let data: Value = r.json().unwrap();
    assert_eq!(data["ds"].as_array().unwrap().len(), 10);
    match ws(addr, "/v1/models/msft/live", Some("forecast.live")) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("a live feed without the token: {:?}", other.map(|_| ())),
    }
    let wrong = format!("forecast.live, forecast.bearer.{}", "d3Jvbmc");
    assert!(ws(addr, "/v1/models/msft/live", Some(&wrong)).is_err());
    // base64url of the token, unpadded: "tok+/dash=9" → dG9rKy9kYXNoPTk
    let right = "forecast.live, forecast.bearer.dG9rKy9kYXNoPTk";
    let mut live = ws(addr, "/v1/models/msft/live", Some(right)).unwrap();
    let snap = next_json(&mut live);
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["model"], "msft");
}

#[test]
fn the_data_endpoint_answers_history_the_librarys_indicators_and_the_forecast() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    msft_model(&models);
    let stocks = models.join("stocks");
    ok(&[
        "train",
        "--data",
        &dataset("techstocks_daily.csv"),
        "--id-column",
        "ticker",
        "--target",
        "close",
        "--model",
        "naive",
        "--out",
        stocks.to_str().unwrap(),
    ]);
    let data_arg = format!("msft={}", dataset("msft_daily.csv"));
    let srv = serve(
        &["--model", models.to_str().unwrap(), "--data", &data_arg],
        &[],
    );
    let addr = &srv.addr;
    let (ds, [open, high, low, close]) = msft_columns();
    let n = close.len();
    let (status, data) = get_json(addr, "/v1/models/msft/data?bars=300");
    assert_eq!(status, 200, "{data}");
    assert_eq!(data["ohlc"], true);
    assert_eq!(data["total"], n);
    assert_eq!(data["series_ids"], json!([]));
    let from = n - 300;
    let served_ds: Vec<&str> = data["ds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(served_ds, ds[from..]);
    assert_same("open", &floats(&data["open"]), &open[from..]);
    assert_same("high", &floats(&data["high"]), &high[from..]);
    assert_same("low", &floats(&data["low"]), &low[from..]);
    assert_same("close", &floats(&data["close"]), &close[from..]);
    // The indicators are the library's over the whole history, cut to the bars shown.
    let ind = &data["indicators"];
    let [upper, middle, lower] = indicators::bbands(&close, 20, 2.0);
    for (name, library) in [
        ("sma_20", indicators::sma(&close, 20)),
        ("sma_50", indicators::sma(&close, 50)),
        ("bb_upper_20", upper),
        ("bb_middle_20", middle),
        ("bb_lower_20", lower),
        ("rsi_14", indicators::rsi(&close, 14)),
    ] {
        assert_same(name, &floats(&ind[name]), &library[from..]);
    }
    // The forecast is the model's: what POST /forecast answers for the same request.
    let r = reqwest::blocking::Client::new()
        .post(format!("http://{addr}/v1/models/msft/forecast"))
        .json(&json!({"h": data["h"], "level": [80, 95]}))
        .send()
        .unwrap();
    let posted: Value = r.json().unwrap();
    assert_eq!(data["forecast"], posted["forecasts"]);
    assert_eq!(data["h"], 30);
    assert_eq!(data["forecast"][0]["ds"], MSFT_NEXT_TRADING_DAYS[0]);
    assert!(data["forecast"][0]["lo-95"].as_f64() < data["forecast"][0]["lo-80"].as_f64());

    // A panel: the first series by default, any by unique_id; history from the rows the
    // model keeps (no --data for it), so no candles.
    let (status, panel) = get_json(addr, "/v1/models/stocks/data");
    assert_eq!(status, 200, "{panel}");
    let ids = panel["series_ids"].as_array().unwrap().clone();
    assert!(ids.len() > 1, "{ids:?}");
    assert_eq!(panel["unique_id"], ids[0]);
    assert_eq!(panel["ohlc"], false);
    let second = ids[1].as_str().unwrap();
    let (status, one) = get_json(addr, &format!("/v1/models/stocks/data?unique_id={second}"));
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["unique_id"], second);

    // Unknown model or series: 404; a bad query: 400; always a JSON error.
    for (path, code, error) in [
        ("/v1/models/nope/data", 404, "RESOURCE_DOES_NOT_EXIST"),
        (
            "/v1/models/stocks/data?unique_id=NOPE",
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "/v1/models/msft/data?bars=0",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/v1/models/msft/data?bars=abc",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/v1/models/msft/data?bars=99999999999999999999999",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/v1/models/msft/data?colour=red",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/v1/models/msft/data?unique_id=MSFT",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            "/v1/models/msft/data?bars=%ZZ",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        ("/v1/models/nope/live", 404, "RESOURCE_DOES_NOT_EXIST"),
        (
            "/v1/models/stocks/live?unique_id=NOPE",
            404,
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            "/v1/models/msft/live?bars=5",
            400,
            "INVALID_PARAMETER_VALUE",
        ),
        // Not a WebSocket handshake.
        ("/v1/models/msft/live", 400, "BAD_REQUEST"),
    ] {
        let (status, body) = get_json(addr, path);
        assert_eq!(status, code, "{path}: {body}");
        assert_eq!(body["error_code"], error, "{path}: {body}");
    }
    // The live feed refuses an unknown series before upgrading.
    match ws(addr, "/v1/models/stocks/live?unique_id=NOPE", None) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 404),
        other => panic!("an unknown series: {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_bar_sent_by_one_client_reaches_the_dashboard_with_its_forecast_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let model = msft_model(dir.path());
    let rules = root().join("experiments/alerts/dashboard.toml");
    let srv = serve(
        &[
            "--model",
            &model,
            "--data",
            &dataset("msft_daily.csv"),
            "--rules",
            rules.to_str().unwrap(),
        ],
        &[],
    );
    let addr = &srv.addr;
    let (_, [_, _, _, mut close]) = msft_columns();
    let last = *close.last().unwrap();

    // The dashboard's client subscribes first.
    let mut live = ws(addr, "/v1/models/msft/live", Some("forecast.live")).unwrap();
    let snap = next_json(&mut live);
    assert_eq!(snap["type"], "snapshot");
    let total = snap["total"].as_u64().unwrap();
    assert_eq!(total as usize, close.len());
    let names: Vec<&str> = snap["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["outside-95", "rsi-70-30", "expected-move-2pct"]);
    let before = snap["forecast"][0]["mean"].as_f64().unwrap();

    // Another client streams a bar far above the model's 95% band.
    let mut stream = ws(addr, "/v1/models/msft/stream", None).unwrap();
    send(
        &mut stream,
        json!({"type": "subscribe", "h": 5, "level": [95]}),
    );
    assert_eq!(next_json(&mut stream)["type"], "subscribed");
    assert_eq!(next_json(&mut stream)["type"], "forecast");
    let jump = last * 1.25;
    send(
        &mut stream,
        json!({"type": "bar", "ds": MSFT_NEXT_TRADING_DAYS[0], "y": jump,
               "open": last, "high": jump * 1.01, "low": last * 0.99}),
    );
    // The sender's own stream answers as before: its forecast, then the alert.
    let own = next_json(&mut stream);
    assert_eq!(own["type"], "forecast", "{own}");
    assert_eq!(own["forecasts"][0]["mean"], jump);
    let own_alert = next_json(&mut stream);
    assert_eq!(own_alert["type"], "alert", "{own_alert}");
    assert_eq!(own_alert["rule"], "outside-95");

    let ev = next_json(&mut live);
    assert_eq!(ev["type"], "bar", "{ev}");
    assert_eq!(ev["source"], "stream");
    assert_eq!(ev["total"], total + 1);
    assert_eq!(ev["bar"]["ds"], MSFT_NEXT_TRADING_DAYS[0]);
    assert_eq!(ev["bar"]["close"], jump);
    assert_eq!(ev["bar"]["open"], last);
    assert_eq!(ev["bar"]["high"], jump * 1.01);
    let after = ev["forecast"][0]["mean"].as_f64().unwrap();
    assert_ne!(after, before, "the forecast moves with the bar");
    assert_eq!(ev["forecast"][0]["ds"], MSFT_NEXT_TRADING_DAYS[1]);
    // The same forecast the sender's stream got (one conditioning path).
    assert_eq!(own["forecasts"][0]["mean"], ev["forecast"][0]["mean"]);
    assert_eq!(own["forecasts"][0]["lo-95"], ev["forecast"][0]["lo-95"]);
    assert_eq!(own["forecasts"][0]["hi-95"], ev["forecast"][0]["hi-95"]);
    close.push(jump);
    let sma20 = *indicators::sma(&close, 20).last().unwrap();
    let rsi14 = *indicators::rsi(&close, 14).last().unwrap();
    assert_eq!(ev["indicators"]["sma_20"].as_f64(), Some(sma20));
    assert_eq!(ev["indicators"]["rsi_14"].as_f64(), Some(rsi14));
    let alerts = ev["alerts"].as_array().unwrap();
    let fired: Vec<&str> = alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    assert!(fired.contains(&"outside-95"), "{ev}");
    let outside = alerts.iter().find(|a| a["rule"] == "outside-95").unwrap();
    assert_eq!(outside["signal"], 1);
    assert_eq!(outside["ds"], MSFT_NEXT_TRADING_DAYS[0]);
    assert_eq!(outside["value"], jump);

    // A bar POSTed as history reaches it too; a repeat of a bar the feed has is not
    // sent again.
    let next = jump * 0.999;
    let r = reqwest::blocking::Client::new()
        .post(format!("http://{addr}/v1/models/msft/forecast"))
        .json(&json!({"h": 3, "history": [
            {"ds": MSFT_NEXT_TRADING_DAYS[0], "y": jump},
            {"ds": MSFT_NEXT_TRADING_DAYS[1], "y": next},
        ]}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ev = next_json(&mut live);
    assert_eq!(ev["source"], "history", "{ev}");
    assert_eq!(ev["total"], total + 2);
    assert_eq!(ev["bar"]["ds"], MSFT_NEXT_TRADING_DAYS[1]);
    // Without its own open/high/low a bar is drawn from the last close.
    assert_eq!(ev["bar"]["open"], jump);
    assert_eq!(ev["forecast"][0]["mean"], next);

    // A dashboard opened now starts from the bars the feed took in, and its alerts.
    let (status, data) = get_json(addr, "/v1/models/msft/data?bars=3");
    assert_eq!(status, 200);
    assert_eq!(data["total"], total + 2);
    assert_eq!(data["live_bars"], 2);
    assert_eq!(data["ds"][2], MSFT_NEXT_TRADING_DAYS[1]);
    assert!(data["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["rule"] == "outside-95"));
}
