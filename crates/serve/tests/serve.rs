//! The real server on an ephemeral 127.0.0.1 port, driven by a real HTTP client:
//! MLflow's scoring protocol, the native API, bad input, the token, limits, metrics
//! and a model swapped while requests run; WebSocket streams with a real WebSocket
//! client (bars answered as conditioning on the extended history would, bad messages,
//! a slow client closed while others keep their latency, ping keep-alive).

use forecast_core::artifact;
use forecast_core::data::{load_data, Data, PanelOptions};
use forecast_core::panel::{fit_panel, series_of, ShortPolicy};
use forecast_core::{Forecaster, ForecasterSpec, LoadOptions, ModelConfig, Series, SeriesSpec};
use forecast_serve::{ServeOptions, Server, Source};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spec(kind: &str, set: &[(&str, &str)]) -> ForecasterSpec {
    let mut m = ModelConfig::from_kind(kind).unwrap();
    for (k, v) in set {
        m.set(k, v).unwrap();
    }
    ForecasterSpec::new(m)
}

/// The MSFT file and its closes as a series.
fn msft() -> (forecast_core::Frame, Series) {
    let frame = forecast_core::load(
        repo().join("datasets/msft_daily.csv"),
        &LoadOptions {
            required: vec!["close".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let series = Series::from_frame(
        &frame,
        &SeriesSpec {
            target: "close".into(),
            features: vec![],
            indicators: vec![],
            season_length: None,
        },
    )
    .unwrap();
    (frame, series)
}

/// MSFT closes, the last 500 days.
fn msft_last_500() -> Series {
    let series = msft().1;
    let n = series.len();
    series.slice(n - 500, n)
}

/// [`msft_last_500`], fitted with `kind` and saved to `dir`.
fn train_msft(dir: &Path, kind: &str, set: &[(&str, &str)]) -> Forecaster {
    let f = spec(kind, set).fit_quiet(&msft_last_500()).unwrap();
    artifact::save(&f, dir).unwrap();
    f
}

/// The tech-stocks panel (long table, `ticker` ids), fitted with `kind`, saved to `dir`;
/// the series it was fitted on.
fn train_panel(dir: &Path, kind: &str) -> Vec<forecast_core::panel::PanelSeries> {
    let Data::Panel(panel) = load_data(
        &repo().join("datasets/techstocks_daily.csv"),
        &PanelOptions {
            id_column: Some("ticker".into()),
            load: LoadOptions {
                required: vec!["close".into()],
                ..Default::default()
            },
            wide: None,
        },
    )
    .unwrap() else {
        panic!("a panel")
    };
    let series = series_of(
        &panel,
        &SeriesSpec {
            target: "close".into(),
            features: vec![],
            indicators: vec![],
            season_length: Some(5),
        },
    )
    .unwrap();
    let fit = fit_panel(
        &spec(kind, &[]),
        "ticker",
        &series,
        ShortPolicy::Error,
        &|| {},
    )
    .unwrap();
    assert!(fit.failed.is_empty());
    artifact::save_panel(&fit.fitted, dir).unwrap();
    series
}

/// A running server: its base URL; stops when dropped.
struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(source: Source, options: ServeOptions) -> Running {
    let (server, report) = Server::open(source, options).unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            server
                .run(listener, async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(30)).unwrap();
    Running {
        base: format!("http://{addr}"),
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn post(base: &str, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let r = client()
        .post(format!("{base}{path}"))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let v =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"));
    (status, v)
}

fn get(base: &str, path: &str) -> (u16, String) {
    let r = client().get(format!("{base}{path}")).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn mlflow_scoring_protocol_answers_the_library_forecast_in_every_input_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msft");
    train_msft(&path, "arima", &[("order", "1,1,1")]);
    // The forecast served must be the saved model's, as `forecast predict` computes it.
    let saved = artifact::load(&path).unwrap();
    let want = saved.predict(7, &[80.0, 95.0], &[]).unwrap();
    let times = saved.future_timestamps(7).unwrap();
    let srv = start(Source::detect(&path).unwrap(), ServeOptions::default());

    assert_eq!(get(&srv.base, "/ping"), (200, "\n".into()));
    assert_eq!(get(&srv.base, "/health").0, 200);
    assert_eq!(
        get(&srv.base, "/version"),
        (200, env!("CARGO_PKG_VERSION").into())
    );

    let bodies = [
        (
            "application/json",
            r#"{"dataframe_split": {"columns": ["h", "level"], "data": [[7, [80, 95]]]}}"#,
        ),
        (
            "application/json",
            r#"{"dataframe_records": [{"h": 7, "level": [80, 95]}]}"#,
        ),
        (
            "application/json",
            r#"{"instances": [{"h": 7, "level": [95, 80]}]}"#,
        ),
        (
            "application/json",
            r#"{"inputs": {"h": [7], "level": ["80;95"]}}"#,
        ),
        (
            "application/json; charset=utf-8",
            r#"{"inputs": {"h": 1}, "params": {"h": 7, "level": [80, 95]}}"#,
        ),
        ("text/csv", "h,level\n7,80;95\n"),
    ];
    for (ct, body) in bodies {
        let (status, v) = post(&srv.base, "/invocations", ct, body);
        assert_eq!(status, 200, "{body}: {v}");
        let rows = v["predictions"].as_array().unwrap();
        assert_eq!(rows.len(), 7, "{body}");
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r["ds"], json!(times[i]), "{body}");
            assert!(r.get("unique_id").is_none(), "one series has no unique_id");
            // Exactly equal: the same computation, written and read back without loss.
            assert_eq!(r["arima"].as_f64().unwrap(), want.point[i], "{body}");
            for iv in &want.intervals {
                let l = iv.level as i64;
                assert_eq!(r[format!("arima-lo-{l}")].as_f64().unwrap(), iv.lower[i]);
                assert_eq!(r[format!("arima-hi-{l}")].as_f64().unwrap(), iv.upper[i]);
            }
        }
    }
    // Two rows are two requests, answered in order.
    let (status, v) = post(
        &srv.base,
        "/invocations",
        "application/json",
        r#"{"dataframe_records": [{"h": 2}, {"h": 3}]}"#,
    );
    assert_eq!(status, 200);
    let ds: Vec<&str> = v["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ds"].as_str().unwrap())
        .collect();
    assert_eq!(ds, [&times[0], &times[1], &times[0], &times[1], &times[2]]);
}

#[test]
fn the_native_api_lists_models_and_forecasts_chosen_series_of_a_panel() {
    let dir = tempfile::tempdir().unwrap();
    train_panel(&dir.path().join("stocks"), "seasonal-naive");
    train_msft(&dir.path().join("msft"), "naive", &[]);
    let panel = artifact::load_panel(&dir.path().join("stocks")).unwrap();
    let srv = start(Source::detect(dir.path()).unwrap(), ServeOptions::default());

    let (status, text) = get(&srv.base, "/v1/models");
    assert_eq!(status, 200);
    let models: Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = models["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["msft", "stocks"]);
    let stocks = &models["models"][1];
    assert_eq!(stocks["kind"], "seasonal-naive");
    assert_eq!(stocks["series"], panel.series.len());
    assert_eq!(stocks["id_column"], "ticker");
    assert_eq!(stocks["version"].as_str().unwrap().len(), 12);

    let (status, v) = post(
        &srv.base,
        "/v1/models/stocks/forecast",
        "application/json",
        r#"{"h": 4, "level": [90], "ids": ["MSFT", "AAPL"]}"#,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["model"], "stocks");
    let rows = v["forecasts"].as_array().unwrap();
    assert_eq!(rows.len(), 8);
    for (k, id) in ["MSFT", "AAPL"].iter().enumerate() {
        let f = &panel.series.iter().find(|(i, _)| i == id).unwrap().1;
        let want = f.predict(4, &[90.0], &[]).unwrap();
        let times = f.future_timestamps(4).unwrap();
        for i in 0..4 {
            let r = &rows[k * 4 + i];
            assert_eq!(r["unique_id"], *id);
            assert_eq!(r["ds"], json!(times[i]));
            assert_eq!(r["mean"].as_f64().unwrap(), want.point[i]);
            assert_eq!(r["lo-90"].as_f64().unwrap(), want.intervals[0].lower[i]);
            assert_eq!(r["hi-90"].as_f64().unwrap(), want.intervals[0].upper[i]);
        }
    }
    // Every series when no ids are given.
    let (status, v) = post(
        &srv.base,
        "/v1/models/stocks/forecast",
        "application/json",
        r#"{"h": 2}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(
        v["forecasts"].as_array().unwrap().len(),
        2 * panel.series.len()
    );
    // /invocations names no model: with two served it points to the native route.
    let (status, v) = post(
        &srv.base,
        "/invocations",
        "application/json",
        r#"{"inputs": {"h": 1}}"#,
    );
    assert_eq!(status, 400);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("/v1/models/{name}/forecast"));
    let (status, text) = get(&srv.base, "/openapi.json");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).unwrap();
    for route in [
        "/ping",
        "/health",
        "/version",
        "/invocations",
        "/v1/models",
        "/v1/models/{name}/forecast",
        "/v1/models/{name}/stream",
        "/forecast",
        "/openapi.json",
        "/metrics",
    ] {
        assert!(doc["paths"].get(route).is_some(), "{route} is documented");
    }
}

#[test]
fn bad_requests_get_a_json_4xx_naming_the_field_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    train_panel(&dir.path().join("stocks"), "naive");
    let srv = start(
        Source::detect(&dir.path().join("stocks")).unwrap(),
        ServeOptions {
            max_horizon: 50,
            max_body_bytes: 4096,
            ..Default::default()
        },
    );
    let inv = "/invocations";
    let fc = "/v1/models/stocks/forecast";
    let json_ct = "application/json";
    let cases: Vec<(&str, &str, String, u16, &str, &str)> = vec![
        (
            inv,
            json_ct,
            "{".into(),
            400,
            "BAD_REQUEST",
            "not valid JSON",
        ),
        (
            inv,
            json_ct,
            r#"{"dataframe_records": [{"h": 0}]}"#.into(),
            400,
            "INVALID_PARAMETER_VALUE",
            "h: must be between 1 and 50",
        ),
        (
            inv,
            json_ct,
            r#"{"dataframe_records": [{"h": 51}]}"#.into(),
            400,
            "INVALID_PARAMETER_VALUE",
            "--max-horizon",
        ),
        (
            inv,
            json_ct,
            r#"{"dataframe_records": [{"h": -1}]}"#.into(),
            400,
            "INVALID_PARAMETER_VALUE",
            "whole number",
        ),
        (
            inv,
            json_ct,
            r#"{"dataframe_records": [{"h": 2, "level": [100]}]}"#.into(),
            400,
            "INVALID_PARAMETER_VALUE",
            "level",
        ),
        (
            inv,
            json_ct,
            r#"{"dataframe_records": [{"h": 2, "unique_id": "NOPE"}]}"#.into(),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "series 'NOPE'",
        ),
        (
            inv,
            "text/plain",
            "h\n1\n".into(),
            415,
            "BAD_REQUEST",
            "text/plain",
        ),
        (
            inv,
            "text/csv",
            "h,level\n1,abc\n".into(),
            400,
            "INVALID_PARAMETER_VALUE",
            "level",
        ),
        (
            inv,
            json_ct,
            format!(r#"{{"inputs": {{"h": 1}}, "pad": "{}"}}"#, "x".repeat(5000)),
            413,
            "REQUEST_LIMIT_EXCEEDED",
            "4096 bytes",
        ),
        (
            fc,
            json_ct,
            r#"{"level": [80]}"#.into(),
            400,
            "BAD_REQUEST",
            "missing field `h`",
        ),
        (
            fc,
            json_ct,
            r#"{"h": 1, "horizon": 3}"#.into(),
            400,
            "BAD_REQUEST",
            "unknown field `horizon`",
        ),
        (
            fc,
            json_ct,
            r#"{"h": 1, "history": [{"ds": "2030-01-02", "y": 1.0}]}"#.into(),
            400,
            "INVALID_PARAMETER_VALUE",
            "history[0].unique_id",
        ),
        (
            fc,
            json_ct,
            r#"{"h": 1, "ids": [null]}"#.into(),
            400,
            "INVALID_PARAMETER_VALUE",
            "ids[0]",
        ),
        (
            fc,
            json_ct,
            r#"{"h": "NaN"}"#.into(),
            400,
            "INVALID_PARAMETER_VALUE",
            "h:",
        ),
        (
            fc,
            "text/csv",
            "h\n1\n".into(),
            415,
            "BAD_REQUEST",
            "application/json",
        ),
        (
            "/v1/models/nope/forecast",
            json_ct,
            r#"{"h": 1}"#.into(),
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "model 'nope'",
        ),
        (
            "/no/such/route",
            json_ct,
            "{}".into(),
            404,
            "ENDPOINT_NOT_FOUND",
            "no route",
        ),
        (
            "/ping",
            json_ct,
            "{}".into(),
            405,
            "BAD_REQUEST",
            "does not take POST",
        ),
    ];
    for (path, ct, body, status, code, needle) in cases {
        let (s, v) = post(&srv.base, path, ct, &body);
        assert_eq!(s, status, "{path} {body:.80}: {v}");
        assert_eq!(v["error_code"], code, "{path} {body:.80}: {v}");
        let msg = v["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{path} {body:.80}: {msg}");
    }
    // Still serving.
    let (s, v) = post(&srv.base, fc, json_ct, r#"{"h": 1, "ids": ["AAPL"]}"#);
    assert_eq!(s, 200, "{v}");
}

#[test]
fn the_token_guards_every_route_but_the_probes_and_metrics_count_what_was_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msft");
    train_msft(&path, "naive", &[]);
    let srv = start(
        Source::detect(&path).unwrap(),
        ServeOptions {
            token: Some("s3cret-token".into()),
            ..Default::default()
        },
    );
    let c = client();
    let body = r#"{"h": 3}"#;
    let url = format!("{}/v1/models/msft/forecast", srv.base);
    let no = c.post(&url).body(body).send().unwrap();
    assert_eq!(no.status().as_u16(), 401);
    assert_eq!(no.headers()["www-authenticate"], "Bearer");
    let v: Value = no.json().unwrap();
    assert_eq!(v["error_code"], "UNAUTHENTICATED");
    let wrong = c
        .post(&url)
        .bearer_auth("s3cret-tokeN")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    for _ in 0..3 {
        let ok = c
            .post(&url)
            .bearer_auth("s3cret-token")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(ok.status().as_u16(), 200);
        assert!(ok.headers().contains_key("x-request-id"));
    }
    let traced = c
        .post(&url)
        .bearer_auth("s3cret-token")
        .header("x-request-id", "client-42")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(traced.headers()["x-request-id"], "client-42");
    assert_eq!(
        c.get(format!("{}/ping", srv.base))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        c.get(format!("{}/health", srv.base))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        c.get(format!("{}/metrics", srv.base))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let metrics = c
        .get(format!("{}/metrics", srv.base))
        .bearer_auth("s3cret-token")
        .send()
        .unwrap()
        .text()
        .unwrap();
    let count = |status: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("forecast_http_requests_total{")
                    && l.contains(r#"route="/v1/models/{name}/forecast""#)
                    && l.contains(&format!(r#"status="{status}""#))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(count("200"), 4.0, "{metrics}");
    assert_eq!(count("401"), 2.0, "{metrics}");
    assert!(metrics.contains("forecast_http_request_duration_seconds_bucket"));
    assert!(metrics.contains("forecast_models_served 1"));
}

#[test]
fn a_model_swapped_while_requests_run_fails_none_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    train_msft(&path, "naive", &[]);
    let first = artifact::load(&path)
        .unwrap()
        .predict(1, &[], &[])
        .unwrap()
        .point[0];
    let srv = start(
        Source::Folder(dir.path().to_path_buf()),
        ServeOptions {
            reload_interval: Duration::from_millis(20),
            ..Default::default()
        },
    );
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let seen_new = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (base, done, answered, seen_new) = (
                srv.base.clone(),
                done.clone(),
                answered.clone(),
                seen_new.clone(),
            );
            std::thread::spawn(move || {
                let c = client();
                while !done.load(Ordering::Relaxed) {
                    let r = c
                        .post(format!("{base}/v1/models/m/forecast"))
                        .header("content-type", "application/json")
                        .body(r#"{"h": 1}"#)
                        .send()
                        .unwrap();
                    let status = r.status().as_u16();
                    let v: Value = r.json().unwrap();
                    assert_eq!(status, 200, "a request failed during the swap: {v}");
                    if v["forecasts"][0]["mean"].as_f64().unwrap() != first {
                        seen_new.store(true, Ordering::Relaxed);
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Redeploy: a different model written beside and renamed over the old one, a few
    // times over, while the clients run.
    for k in 0..3 {
        std::thread::sleep(Duration::from_millis(150));
        let kind = if k % 2 == 0 { "drift" } else { "naive" };
        let f = train_msft(&dir.path().join(".staging"), kind, &[]);
        std::fs::remove_dir_all(dir.path().join(".staging")).unwrap();
        artifact::save(&f, &path).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !seen_new.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("no request failed");
    }
    assert!(
        seen_new.load(Ordering::Relaxed),
        "the new version was never served"
    );
    assert!(answered.load(Ordering::Relaxed) > 20);
}

/// MLflow's own scoring client (`ScoringServerClient.invoke` with a pandas frame, as
/// MLflow's deploy tools send it) and a plain `requests.post` from Python get the answer
/// our Rust client gets.
#[test]
fn mlflows_python_scoring_client_gets_the_answer_our_client_gets() {
    let Some(mlflow) = forecast_test_support::env_or_skip(
        "FORECAST_MLFLOW_BIN",
        "mlflows_python_scoring_client_gets_the_answer_our_client_gets",
    ) else {
        return;
    };
    let python = Path::new(&mlflow).with_file_name("python");
    let dir = tempfile::tempdir().unwrap();
    train_panel(&dir.path().join("stocks"), "drift");
    let srv = start(
        Source::detect(&dir.path().join("stocks")).unwrap(),
        ServeOptions::default(),
    );
    let (host, port) = srv
        .base
        .trim_start_matches("http://")
        .split_once(':')
        .unwrap();
    let script = r#"
import json, sys
import pandas as pd
import requests
from mlflow.pyfunc.scoring_server.client import ScoringServerClient
host, port = sys.argv[1], int(sys.argv[2])
c = ScoringServerClient(host, port)
c.wait_server_ready(timeout=30)
frame = pd.DataFrame({"h": [5, 3], "level": [[80, 95], [80, 95]], "unique_id": ["AAPL", "MSFT"]})
client = c.invoke(frame).get_predictions().to_dict(orient="records")
plain = requests.post(
    f"http://{host}:{port}/invocations",
    json={"dataframe_records": [{"h": 5, "level": [80, 95], "unique_id": "AAPL"},
                                {"h": 3, "level": [80, 95], "unique_id": "MSFT"}]},
).json()["predictions"]
with_params = c.invoke([{"h": 1, "unique_id": "MSFT"}], params={"h": 3, "level": [80, 95]})
print(json.dumps({"client": client, "plain": plain,
                  "params": with_params.get_predictions().to_dict(orient="records"),
                  "version": c.get_version()}))
"#;
    let out = std::process::Command::new(&python)
        .args(["-c", script, host, port])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let py: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (status, ours) = post(
        &srv.base,
        "/invocations",
        "application/json",
        r#"{"dataframe_records": [{"h": 5, "level": [80, 95], "unique_id": "AAPL"}, {"h": 3, "level": [80, 95], "unique_id": "MSFT"}]}"#,
    );
    assert_eq!(status, 200);
    let ours = ours["predictions"].as_array().unwrap();
    assert_eq!(ours.len(), 8);
    let same = |theirs: &Value, ours: &[Value], what: &str| {
        let theirs = theirs.as_array().unwrap();
        assert_eq!(theirs.len(), ours.len(), "{what}");
        for (t, o) in theirs.iter().zip(ours) {
            let o = o.as_object().unwrap();
            assert_eq!(
                t.as_object().unwrap().len(),
                o.len(),
                "{what}: {t} vs {o:?}"
            );
            for (k, v) in o {
                match v {
                    // Floats cross JSON both ways without loss (shortest round-trip form).
                    Value::Number(n) => assert_eq!(t[k].as_f64(), n.as_f64(), "{what}: {k}"),
                    other => assert_eq!(&t[k], other, "{what}: {k}"),
                }
            }
        }
    };
    same(&py["client"], ours, "ScoringServerClient.invoke(DataFrame)");
    same(&py["plain"], ours, "requests.post");
    same(&py["params"], &ours[5..], "params override the rows");
    assert_eq!(py["version"], env!("CARGO_PKG_VERSION"));
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn ws_connect(base: &str, path: &str) -> Ws {
    let url = format!("{}{path}", base.replace("http://", "ws://"));
    tungstenite::connect(url).unwrap().0
}

fn ws_send(ws: &mut Ws, v: &str) {
    ws.send(tungstenite::Message::text(v)).unwrap();
}

/// The next text message as JSON (pings are answered by the client library).
fn ws_json(ws: &mut Ws) -> Value {
    loop {
        match ws.read().expect("a stream message") {
            tungstenite::Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            tungstenite::Message::Close(f) => panic!("the stream closed: {f:?}"),
            _ => {}
        }
    }
}

/// Read until the server's close frame; its code and reason.
fn ws_close_code(ws: &mut Ws) -> (u16, String) {
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(Some(f))) => {
                return (u16::from(f.code), f.reason.to_string())
            }
            Ok(_) => {}
            Err(e) => panic!("the connection ended without a close frame: {e}"),
        }
    }
}

#[test]
fn a_panel_stream_answers_each_bar_as_conditioning_on_the_extended_history() {
    let dir = tempfile::tempdir().unwrap();
    let trained = train_panel(&dir.path().join("stocks"), "seasonal-naive");
    let panel = artifact::load_panel(&dir.path().join("stocks")).unwrap();
    let srv = start(Source::detect(dir.path()).unwrap(), ServeOptions::default());
    let mut ws = ws_connect(&srv.base, "/v1/models/stocks/stream");
    ws_send(
        &mut ws,
        r#"{"type": "subscribe", "h": 4, "level": [90], "ids": ["MSFT", "AAPL"]}"#,
    );
    let sub = ws_json(&mut ws);
    assert_eq!(sub["type"], "subscribed", "{sub}");
    assert_eq!(sub["model"], "stocks");
    assert_eq!(sub["series"].as_array().unwrap().len(), 2);
    for id in ["MSFT", "AAPL"] {
        let f = ws_json(&mut ws);
        assert_eq!(
            (f["type"].as_str(), f["unique_id"].as_str()),
            (Some("forecast"), Some(id))
        );
    }
    let (_, metrics) = get(&srv.base, "/metrics");
    assert!(metrics.contains("forecast_streams_open 1"), "{metrics}");

    // 30 bars, alternating series; each answer equals the library's forecast after
    // conditioning the series on its training rows plus the bars so far.
    let mut history: Vec<Series> = ["MSFT", "AAPL"]
        .iter()
        .map(|id| trained.iter().find(|p| p.id == *id).unwrap().series.clone())
        .collect();
    let fitted: Vec<Forecaster> = ["MSFT", "AAPL"]
        .iter()
        .map(|id| {
            panel
                .series
                .iter()
                .find(|(i, _)| i == id)
                .unwrap()
                .1
                .clone()
        })
        .collect();
    let dates: Vec<Vec<String>> = fitted
        .iter()
        .map(|f| f.future_timestamps(16).unwrap())
        .collect();
    for b in 0..30 {
        let (k, id) = (b % 2, ["MSFT", "AAPL"][b % 2]);
        let last = *history[k].target.last().unwrap();
        let y = last * (1.0 + 0.01 * ((b as f64) * 0.7).sin());
        let ds = &dates[k][b / 2];
        ws_send(
            &mut ws,
            &json!({"type": "bar", "unique_id": id, "ds": ds, "y": y}).to_string(),
        );
        let a = ws_json(&mut ws);
        assert_eq!(a["type"], "forecast", "{a}");
        assert_eq!(
            (a["unique_id"].as_str(), a["ds"].as_str()),
            (Some(id), Some(ds.as_str()))
        );
        let h = &mut history[k];
        h.target.push(y);
        let t = forecast_core::data::parse_timestamp(ds).unwrap();
        h.times.as_mut().unwrap().push(t);
        h.schema.last_timestamp = Some(t);
        let want_f = fitted[k].condition(h).unwrap();
        let want = want_f.predict(4, &[90.0], &[]).unwrap();
        let times = want_f.future_timestamps(4).unwrap();
        assert_eq!(a["rows"], h.len());
        for i in 0..4 {
            let r = &a["forecasts"][i];
            assert_eq!(r["ds"], json!(times[i]), "bar {b} step {i}");
            assert_eq!(
                r["mean"].as_f64().unwrap(),
                want.point[i],
                "bar {b} step {i}"
            );
            assert_eq!(r["lo-90"].as_f64().unwrap(), want.intervals[0].lower[i]);
            assert_eq!(r["hi-90"].as_f64().unwrap(), want.intervals[0].upper[i]);
        }
    }

    // Bad messages get an error naming the field; the stream stays open.
    let next_ds = &dates[0][15];
    let cases: Vec<(String, &str, &str)> = vec![
        ("{not json".into(), "BAD_REQUEST", "JSON"),
        ("[1, 2]".into(), "BAD_REQUEST", "JSON object"),
        (
            r#"{"type": "sell"}"#.into(),
            "INVALID_PARAMETER_VALUE",
            "type",
        ),
        (
            json!({"ds": next_ds, "y": 1.0}).to_string(),
            "INVALID_PARAMETER_VALUE",
            "unique_id",
        ),
        (
            json!({"unique_id": "NOPE", "ds": next_ds, "y": 1.0}).to_string(),
            "RESOURCE_DOES_NOT_EXIST",
            "NOPE",
        ),
        (
            json!({"unique_id": "MSFT", "ds": next_ds, "y": "nan"}).to_string(),
            "INVALID_PARAMETER_VALUE",
            "y",
        ),
        (
            json!({"unique_id": "MSFT", "ds": next_ds}).to_string(),
            "INVALID_PARAMETER_VALUE",
            "y",
        ),
        (
            json!({"unique_id": "MSFT", "ds": dates[0][14], "y": 1.0}).to_string(),
            "INVALID_PARAMETER_VALUE",
            "does not continue",
        ),
        (
            json!({"unique_id": "MSFT", "ds": "yesterday", "y": 1.0}).to_string(),
            "INVALID_PARAMETER_VALUE",
            "ds",
        ),
        (
            json!({"unique_id": "MSFT", "y": 1.0}).to_string(),
            "INVALID_PARAMETER_VALUE",
            "ds",
        ),
        (
            json!({"unique_id": "MSFT", "ds": next_ds, "y": 1.0, "volume": 3}).to_string(),
            "INVALID_PARAMETER_VALUE",
            "volume",
        ),
        (
            r#"{"type": "subscribe", "h": 0}"#.into(),
            "INVALID_PARAMETER_VALUE",
            "h",
        ),
        (
            r#"{"type": "subscribe", "h": 2, "ids": ["ZZZ"]}"#.into(),
            "RESOURCE_DOES_NOT_EXIST",
            "ZZZ",
        ),
        (
            r#"{"type": "subscribe", "h": 2, "level": [120]}"#.into(),
            "INVALID_PARAMETER_VALUE",
            "level",
        ),
    ];
    for (msg, code, names) in &cases {
        ws_send(&mut ws, msg);
        let e = ws_json(&mut ws);
        assert_eq!(e["type"], "error", "{msg}: {e}");
        assert_eq!(e["error_code"], *code, "{msg}: {e}");
        assert!(e["message"].as_str().unwrap().contains(names), "{msg}: {e}");
    }
    ws.send(tungstenite::Message::binary(vec![1u8, 2, 3]))
        .unwrap();
    assert_eq!(ws_json(&mut ws)["type"], "error");
    // Still following both series, from where the good bars left them.
    ws_send(
        &mut ws,
        &json!({"unique_id": "MSFT", "ds": next_ds, "y": 100.0}).to_string(),
    );
    let a = ws_json(&mut ws);
    assert_eq!(a["type"], "forecast", "{a}");
    assert_eq!(a["rows"], history[0].len() + 1);
    // A bar before any subscription, and the /forecast alias (two models here: ?model=).
    let mut other = ws_connect(&srv.base, "/forecast?model=stocks");
    ws_send(
        &mut other,
        &json!({"unique_id": "MSFT", "ds": next_ds, "y": 1.0}).to_string(),
    );
    let e = ws_json(&mut other);
    assert!(
        e["message"].as_str().unwrap().contains("subscribe first"),
        "{e}"
    );
    // Unknown models and plain GETs are JSON 4xx before any upgrade.
    let (status, body) = get(&srv.base, "/v1/models/nope/stream");
    assert_eq!(status, 404, "{body}");
    let (status, body) = get(&srv.base, "/v1/models/stocks/stream");
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body.contains("WebSocket"), "{body}");
    // Shutdown closes the streams with going-away.
    drop(srv);
    assert_eq!(ws_close_code(&mut ws).0, forecast_serve::CLOSE_GOING_AWAY);
}

#[test]
fn a_slow_stream_is_closed_while_others_keep_their_latency_and_pings_keep_streams_alive() {
    let dir = tempfile::tempdir().unwrap();
    let f = train_msft(&dir.path().join("msft"), "naive", &[]);
    let dates = f.future_timestamps(3000).unwrap();
    let srv = start(
        Source::detect(&dir.path().join("msft")).unwrap(),
        ServeOptions {
            stream_queue: 4,
            ..ServeOptions::default()
        },
    );
    // The slow client asks for long forecasts and reads nothing.
    let mut slow = ws_connect(&srv.base, "/v1/models/msft/stream");
    ws_send(
        &mut slow,
        r#"{"type": "subscribe", "h": 1000, "level": [50, 80, 95, 99]}"#,
    );
    let base = srv.base.clone();
    let fast = std::thread::spawn(move || {
        let mut ws = ws_connect(&base, "/v1/models/msft/stream");
        ws_send(&mut ws, r#"{"h": 3}"#);
        ws_json(&mut ws);
        ws_json(&mut ws);
        let mut worst = Duration::ZERO;
        for (i, ds) in f.future_timestamps(200).unwrap().iter().enumerate() {
            let t = std::time::Instant::now();
            ws_send(
                &mut ws,
                &json!({"ds": ds, "y": 100.0 + i as f64}).to_string(),
            );
            assert_eq!(ws_json(&mut ws)["type"], "forecast");
            worst = worst.max(t.elapsed());
            std::thread::sleep(Duration::from_millis(5));
        }
        worst
    });
    for (i, ds) in dates.iter().enumerate() {
        if slow
            .send(tungstenite::Message::text(
                json!({"ds": ds, "y": 50.0 + i as f64}).to_string(),
            ))
            .is_err()
        {
            break;
        }
    }
    let worst = fast.join().unwrap();
    // Generous for a debug build on a 2-core machine running other tests (the latency
    // itself is benches/stream_load.sh's): the point is that the slow
    // stream's backlog (megabytes of unread forecasts) does not hold the others up.
    assert!(
        worst < Duration::from_secs(2),
        "a fast stream waited {worst:?}"
    );
    let (code, reason) = ws_close_code(&mut slow);
    assert_eq!(code, forecast_serve::CLOSE_TOO_SLOW, "{reason}");
    assert!(reason.contains("too slow"), "{reason}");
    drop(srv);

    // Pings: a client that reads answers them and stays; one that never reads is closed.
    let srv = start(
        Source::detect(&dir.path().join("msft")).unwrap(),
        ServeOptions {
            stream_ping: Duration::from_millis(300),
            ..ServeOptions::default()
        },
    );
    let mut quiet = ws_connect(&srv.base, "/v1/models/msft/stream");
    let mut alive = ws_connect(&srv.base, "/v1/models/msft/stream");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = alive.get_mut() {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    let (mut pings, until) = (0, std::time::Instant::now() + Duration::from_millis(1500));
    while std::time::Instant::now() < until {
        match alive.read() {
            Ok(tungstenite::Message::Ping(_)) => pings += 1,
            Ok(m) => panic!("unexpected {m:?}"),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("the answering client was dropped: {e}"),
        }
    }
    assert!(pings >= 3, "{pings} pings in 1.5 s");
    let (code, reason) = ws_close_code(&mut quiet);
    assert_eq!(code, forecast_serve::CLOSE_NO_PONG, "{reason}");
    assert!(reason.contains("ping"), "{reason}");
}

/// Close to 1e-9 of the magnitude: the server updates ARIMA's state one Kalman step per
/// new row, the reference re-filters the whole extended history.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn native_history_continues_the_series_and_future_feeds_the_regressors() {
    let dir = tempfile::tempdir().unwrap();
    // An ARIMA on MSFT: history rows after the model's last day.
    let msft = train_msft(&dir.path().join("msft"), "arima", &[("order", "[1,1,1]")]);
    // An ARIMAX without timestamps: y = 2 x + AR(1) noise.
    let n = 300;
    let x: Vec<f64> = (0..n)
        .map(|t| (t as f64 * 0.3).sin() + 0.01 * t as f64)
        .collect();
    let mut e = 0.0;
    let y: Vec<f64> = (0..n)
        .map(|t| {
            e = 0.5 * e + ((t * 7919 % 101) as f64 / 101.0 - 0.5);
            2.0 * x[t] + e
        })
        .collect();
    let mut s = Series::from_values(y[..280].to_vec(), 1);
    s.features.push(forecast_core::data::Column {
        name: "x".into(),
        values: x[..280].to_vec(),
        integer: false,
    });
    s.schema.features = vec!["x".into()];
    s.schema.input_columns = vec!["x".into()];
    let armax = spec("arima", &[("order", "[1,0,0]")])
        .fit_quiet(&s)
        .unwrap();
    artifact::save(&armax, &dir.path().join("armax")).unwrap();
    let srv = start(Source::detect(dir.path()).unwrap(), ServeOptions::default());

    let dates = msft.future_timestamps(10).unwrap();
    let ys: Vec<f64> = (0..10).map(|i| 400.0 + i as f64).collect();
    let history: Vec<Value> = dates
        .iter()
        .zip(&ys)
        .map(|(d, y)| json!({"ds": d, "y": y}))
        .collect();
    let (status, v) = post(
        &srv.base,
        "/v1/models/msft/forecast",
        "application/json",
        &json!({"h": 3, "level": [80], "history": history}).to_string(),
    );
    assert_eq!(status, 200, "{v}");
    // The reference: the last 500 closes plus the new rows, conditioned in one pass.
    let mut ext = msft_last_500();
    for (d, y) in dates.iter().zip(&ys) {
        let t = forecast_core::data::parse_timestamp(d).unwrap();
        ext.target.push(*y);
        ext.times.as_mut().unwrap().push(t);
        ext.schema.last_timestamp = Some(t);
    }
    let want_f = msft.condition(&ext).unwrap();
    let want = want_f.predict(3, &[80.0], &[]).unwrap();
    let times = want_f.future_timestamps(3).unwrap();
    for i in 0..3 {
        let r = &v["forecasts"][i];
        assert_eq!(r["ds"], json!(times[i]));
        assert!(close(r["mean"].as_f64().unwrap(), want.point[i]), "{r}");
        assert!(close(
            r["lo-80"].as_f64().unwrap(),
            want.intervals[0].lower[i]
        ));
    }

    // Rows the model already holds, sent again before the new ones, are skipped: the
    // same answer as the new rows alone.
    let held = msft_last_500();
    let held_times = held.times.clone().unwrap();
    let day = |t: &chrono::NaiveDateTime| t.format("%Y-%m-%d").to_string();
    let n0 = held.len();
    let mut overlapping: Vec<Value> = (n0 - 5..n0)
        .map(|i| json!({"ds": day(&held_times[i]), "y": held.target[i]}))
        .collect();
    overlapping.extend(history.iter().cloned());
    let (status, again) = post(
        &srv.base,
        "/v1/models/msft/forecast",
        "application/json",
        &json!({"h": 3, "level": [80], "history": overlapping}).to_string(),
    );
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["forecasts"], v["forecasts"]);
    // Only repeats: the model's own forecast.
    let (status, only) = post(
        &srv.base,
        "/v1/models/msft/forecast",
        "application/json",
        &json!({"h": 3, "history": [{"ds": day(&held_times[n0 - 1]), "y": held.target[n0 - 1]}]})
            .to_string(),
    );
    assert_eq!(status, 200, "{only}");
    let own = msft.predict(3, &[], &[]).unwrap();
    assert!(close(
        only["forecasts"][0]["mean"].as_f64().unwrap(),
        own.point[0]
    ));
    // A day inside the kept rows on which the market was closed.
    let closed = {
        let mut d = held_times[n0 - 10];
        while held_times.contains(&d) {
            d += chrono::Duration::days(1);
        }
        day(&d)
    };

    // ARIMAX: history with the regressor, future regressors over the horizon.
    let history: Vec<Value> = (280..290).map(|t| json!({"y": y[t], "x": x[t]})).collect();
    let future: Vec<Value> = (290..294).map(|t| json!({"x": x[t]})).collect();
    let (status, v) = post(
        &srv.base,
        "/v1/models/armax/forecast",
        "application/json",
        &json!({"h": 4, "history": history, "future": future}).to_string(),
    );
    assert_eq!(status, 200, "{v}");
    let mut s2 = Series::from_values(y[..290].to_vec(), 1);
    s2.features.push(forecast_core::data::Column {
        name: "x".into(),
        values: x[..290].to_vec(),
        integer: false,
    });
    s2.schema.features = vec!["x".into()];
    let fut = [forecast_core::data::Column {
        name: "x".into(),
        values: x[290..294].to_vec(),
        integer: false,
    }];
    let want = armax.condition(&s2).unwrap().predict(4, &[], &fut).unwrap();
    for i in 0..4 {
        let got = v["forecasts"][i]["mean"].as_f64().unwrap();
        assert!(
            close(got, want.point[i]),
            "step {i}: {got} vs {}",
            want.point[i]
        );
    }

    // Bad rows: 400 naming the row and the field.
    let last_day = msft
        .schema
        .last_timestamp
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let closed_msg = format!("history[0].ds: {closed} does not continue the series: the model's data has no row at that time");
    let old_msg = format!(
        "history[0].ds: {} is too old to check against the model's data",
        day(&held_times[n0 - 40])
    );
    let cases = [
        (
            "msft",
            json!({"h": 1, "history": [{"ds": last_day, "y": 1.0}]}),
            "history[0].y: 1 contradicts the model's row",
        ),
        (
            "msft",
            json!({"h": 1, "history": [{"ds": closed, "y": 1.0}]}),
            closed_msg.as_str(),
        ),
        (
            "msft",
            json!({"h": 1, "history": [{"ds": day(&held_times[n0 - 40]), "y": held.target[n0 - 40]}]}),
            old_msg.as_str(),
        ),
        (
            "msft",
            json!({"h": 1, "history": [{"ds": dates[0], "y": 1.0}, {"ds": last_day, "y": held.target[n0 - 1]}]}),
            "history[1].ds",
        ),
        (
            "msft",
            json!({"h": 1, "history": [{"ds": dates[1], "y": 1.0}, {"ds": dates[0], "y": 1.0}]}),
            "history[1].ds",
        ),
        (
            "msft",
            json!({"h": 1, "history": [{"ds": dates[0], "y": "NaN"}]}),
            "history[0].y",
        ),
        (
            "msft",
            json!({"h": 1, "history": [{"ds": dates[0]}]}),
            "history[0].y",
        ),
        (
            "msft",
            json!({"h": 1, "history": [{"y": 1.0}]}),
            "history[0].ds",
        ),
        (
            "msft",
            json!({"h": 1, "history": [{"ds": dates[0], "y": 1.0, "volume": 2}]}),
            "history[0].volume",
        ),
        ("msft", json!({"h": 1, "history": [5]}), "history[0]"),
        (
            "msft",
            json!({"h": 1, "history": [{"ds": dates[0], "y": 1.0, "unique_id": "A"}]}),
            "unique_id",
        ),
        ("msft", json!({"h": 1, "future": [{"x": 1.0}]}), "future"),
        ("armax", json!({"h": 2, "future": [{"x": 1.0}]}), "x"),
        (
            "armax",
            json!({"h": 1, "history": [{"y": 1.0}]}),
            "history[0].x",
        ),
    ];
    for (model, body, names) in &cases {
        let (status, v) = post(
            &srv.base,
            &format!("/v1/models/{model}/forecast"),
            "application/json",
            &body.to_string(),
        );
        assert_eq!(status, 400, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(names),
            "{body}: {v}"
        );
    }
}

/// With alert rules, a stream's bars that fire a rule are answered with the alerts
/// after their forecast: the ones a watch started from the model's kept rows gives.
#[test]
fn a_stream_with_rules_sends_each_alert_once_after_its_forecast() {
    let (frame, series) = msft();
    let close = frame.column("close").unwrap();
    let times = frame.times.clone().unwrap();
    let n = close.len();
    let (fit_end, bars) = (n - 80, 80);
    let series = series.slice(fit_end - 400, fit_end);
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("msft");
    let fitted = spec("naive", &[]).fit_quiet(&series).unwrap();
    artifact::save(&fitted, &model_dir).unwrap();
    let rules_text =
        "[[rule]]\nname = \"cross\"\nwhen = { kind = \"sma-cross\", fast = 3, slow = 8 }\n";
    let rules = forecast_core::strategy::alert::RuleSet::from_toml(rules_text).unwrap();
    let options = ServeOptions {
        rules: Some(Arc::new(rules.clone())),
        ..Default::default()
    };
    let server = start(Source::detect(&model_dir).unwrap(), options);

    // What a watch from the kept rows says about the same bars.
    let mut watch = forecast_core::strategy::alert::Watch::new(rules, true);
    watch
        .prime("", &fitted.recent.times, &fitted.recent.target)
        .unwrap();
    let mut expected = vec![];
    for i in fit_end..fit_end + bars {
        if let forecast_core::strategy::alert::Pushed::New(a) =
            watch.push("", times[i], close[i]).unwrap()
        {
            expected.extend(a.into_iter().map(|a| serde_json::to_value(a).unwrap()));
        }
    }
    assert!(
        expected.len() >= 4,
        "too few crossings to test: {expected:?}"
    );

    let mut ws = ws_connect(&server.base, "/v1/models/msft/stream");
    ws_send(&mut ws, r#"{"type": "subscribe", "h": 3}"#);
    assert_eq!(ws_json(&mut ws)["type"], "subscribed");
    assert_eq!(ws_json(&mut ws)["type"], "forecast");
    let mut got = vec![];
    for i in fit_end..fit_end + bars {
        let ds = times[i].format("%Y-%m-%d").to_string();
        ws_send(
            &mut ws,
            &format!(r#"{{"type": "bar", "ds": "{ds}", "y": {}}}"#, close[i]),
        );
        let f = ws_json(&mut ws);
        assert_eq!(f["type"], "forecast", "{f}");
        assert_eq!(f["ds"], ds.as_str());
        let fired = expected.iter().filter(|a| a["ds"] == ds.as_str()).count();
        for _ in 0..fired {
            let mut a = ws_json(&mut ws);
            assert_eq!(a["type"], "alert", "{a}");
            a.as_object_mut().unwrap().remove("type");
            got.push(a);
        }
    }
    assert_eq!(got, expected);
    // Nothing more was sent: the next answer is the next subscription's.
    ws_send(&mut ws, r#"{"type": "subscribe", "h": 1}"#);
    assert_eq!(ws_json(&mut ws)["type"], "subscribed");
}

#[test]
fn theta_models_are_served_as_the_library_forecasts_them() {
    let dir = tempfile::tempdir().unwrap();
    let panel_series = train_panel(&dir.path().join("stocks"), "auto-theta");
    let msft = train_msft(&dir.path().join("msft"), "theta", &[("variant", "dotm")]);
    let panel = artifact::load_panel(&dir.path().join("stocks")).unwrap();
    assert_eq!(panel.series.len(), panel_series.len());
    let srv = start(Source::detect(dir.path()).unwrap(), ServeOptions::default());
    let (status, v) = post(
        &srv.base,
        "/v1/models/msft/forecast",
        "application/json",
        r#"{"h": 5, "level": [95]}"#,
    );
    assert_eq!(status, 200, "{v}");
    let want = msft.predict(5, &[95.0], &[]).unwrap();
    let rows = v["forecasts"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["mean"].as_f64().unwrap(), want.point[i]);
        assert_eq!(r["lo-95"].as_f64().unwrap(), want.intervals[0].lower[i]);
        assert_eq!(r["hi-95"].as_f64().unwrap(), want.intervals[0].upper[i]);
    }
    let (status, v) = post(
        &srv.base,
        "/v1/models/stocks/forecast",
        "application/json",
        r#"{"h": 3, "ids": ["AAPL"]}"#,
    );
    assert_eq!(status, 200, "{v}");
    let f = &panel.series.iter().find(|(i, _)| i == "AAPL").unwrap().1;
    let want = f.predict(3, &[], &[]).unwrap();
    let rows = v["forecasts"].as_array().unwrap();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["mean"].as_f64().unwrap(), want.point[i]);
    }
}
