//! `forecast serve` as a user runs it: the real binary on a free port, its forecast equal
//! to `forecast predict`'s, SIGTERM with a request in flight (answered, then exit 0) and
//! with streams open (closed with going-away), and WebSocket streams of 100 bars whose
//! forecasts equal `forecast predict --data` on the extended history.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;
use common::{dataset, ok, train_args};

/// The server process and its address (`host:port`), read from its "listening on" line;
/// killed if still running when dropped.
struct Serving {
    child: Child,
    addr: String,
    log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Serving {
    serve_env(args, &[]).0
}

/// [`serve`] with environment variables set; also the lines printed before "listening on".
fn serve_env(args: &[&str], env: &[(&str, &str)]) -> (Serving, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .arg("serve")
        .args(args)
        .args(["--port", "0"])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start forecast serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut early = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no 'listening on' within a minute: {early:?}"));
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_string();
        }
        early.push(line);
    };
    (
        Serving {
            child,
            addr,
            log: rx,
        },
        early,
    )
}

/// One HTTP/1.1 request on a fresh connection; the status and body.
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_answer(&mut s)
}

fn read_answer(s: &mut TcpStream) -> (u16, String) {
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn the_served_forecast_is_predicts_and_sigterm_answers_the_request_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("msft");
    let model = model.to_str().unwrap();
    ok(&train_args(
        &dataset("msft_daily.csv"),
        "close",
        "drift",
        model,
        &[],
    ));
    let predicted = ok(&[
        "predict",
        "--model",
        model,
        "--horizon",
        "5",
        "--level",
        "80,95",
        "--format",
        "json",
    ]);
    let predicted: Value = serde_json::from_str(&predicted).unwrap();

    let mut srv = serve(&["--model", model]);
    let (status, body) = request(
        &srv.addr,
        "POST",
        "/v1/models/msft/forecast",
        r#"{"h": 5, "level": [80, 95]}"#,
    );
    assert_eq!(status, 200, "{body}");
    let served: Value = serde_json::from_str(&body).unwrap();
    for i in 0..5 {
        let (p, s) = (&predicted["rows"][i], &served["forecasts"][i]);
        assert_eq!(p["timestamp"], s["ds"]);
        for (pk, sk) in [
            ("forecast", "mean"),
            ("lower_80", "lo-80"),
            ("upper_80", "hi-80"),
            ("lower_95", "lo-95"),
            ("upper_95", "hi-95"),
        ] {
            assert_eq!(
                p[pk].as_f64().unwrap(),
                s[sk].as_f64().unwrap(),
                "{pk} step {i}"
            );
        }
    }

    // A request in flight: headers and half the body sent, then SIGTERM, then the rest.
    let body = r#"{"h": 3, "level": [90]}"#;
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    write!(
        s,
        "POST /v1/models/msft/forecast HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        srv.addr,
        body.len(),
        &body[..8]
    )
    .unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = srv.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    // New connections are refused once the server stops accepting.
    assert!(
        TcpStream::connect_timeout(&srv.addr.parse().unwrap(), Duration::from_secs(2)).is_err(),
        "the server still accepts connections after SIGTERM"
    );
    s.write_all(&body.as_bytes()[8..]).unwrap();
    let (status, answer) = read_answer(&mut s);
    assert_eq!(status, 200, "the request in flight was answered: {answer}");
    let v: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["forecasts"].as_array().unwrap().len(), 3);
    let exit = srv.child.wait().unwrap();
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");
    let log: Vec<String> = srv.log.try_iter().collect();
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:?}");
}

#[test]
fn the_token_comes_from_the_environment_and_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("msft");
    let model = model.to_str().unwrap();
    ok(&train_args(
        &dataset("msft_daily.csv"),
        "close",
        "naive",
        model,
        &[],
    ));
    let token = "tok-8f2e61d0c4";
    let mut child = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .args([
            "serve",
            "--model",
            model,
            "--port",
            "0",
            "--token-env",
            "FORECAST_TEST_TOKEN",
        ])
        .env("FORECAST_TEST_TOKEN", token)
        .env("FORECAST_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("a listening line").unwrap();
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_string();
        }
    };
    let url = "/v1/models/msft/forecast";
    assert_eq!(request(&addr, "POST", url, r#"{"h": 1}"#).0, 401);
    let mut s = TcpStream::connect(&addr).unwrap();
    let body = r#"{"h": 1}"#;
    write!(
        s,
        "POST {url} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    assert_eq!(read_answer(&mut s).0, 200);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success());
    assert!(
        rest.iter().any(|l| l.contains("answered")),
        "requests are logged: {rest:?}"
    );
    assert!(
        !rest.iter().any(|l| l.contains(token)),
        "the token was logged: {rest:?}"
    );
    // A missing variable is an error before anything listens.
    let out = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .args([
            "serve",
            "--model",
            model,
            "--port",
            "0",
            "--token-env",
            "FORECAST_NO_SUCH_VAR",
        ])
        .env_remove("FORECAST_NO_SUCH_VAR")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("FORECAST_NO_SUCH_VAR"));
}

/// One stream message as JSON (pings are answered by the client library).
fn next_json(
    ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
) -> Value {
    loop {
        match ws.read().expect("a stream message") {
            tungstenite::Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            tungstenite::Message::Close(f) => panic!("the stream closed: {f:?}"),
            _ => {}
        }
    }
}

/// Relative closeness for the stream-versus-predict comparisons: 1e-9 of the value's
/// magnitude (at least 1), since the stream's ARIMA state comes from one Kalman step per
/// bar and `predict --data` runs the filter over the whole file, which switches to its
/// steady-state recursions; the baselines and the network agree exactly.
fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn streams_of_100_bars_forecast_as_predict_on_the_extended_history() {
    let dir = tempfile::tempdir().unwrap();
    // MSFT: 500 training rows, then 100 real bars that follow them.
    let text = std::fs::read_to_string(dataset("msft_daily.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    let rows = &lines[lines.len() - 600..];
    let write = |name: &str, n: usize| {
        let path = dir.path().join(name);
        let mut body = String::from(header);
        body.push('\n');
        for r in &rows[..n] {
            body.push_str(r);
            body.push('\n');
        }
        std::fs::write(&path, body).unwrap();
        path.display().to_string()
    };
    let head = write("head.csv", 500);
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let kinds: &[(&str, &[&str])] = &[
        ("arima", &["--order", "1,1,1"]),
        ("seasonal-naive", &[]),
        (
            "lstm",
            &[
                "--horizon",
                "3",
                "--set",
                "epochs=2",
                "--set",
                "hidden_size=8",
                "--set",
                "lookback=12",
            ],
        ),
    ];
    for (kind, extra) in kinds {
        let out = models.join(kind);
        ok(&train_args(
            &head,
            "close",
            kind,
            out.to_str().unwrap(),
            extra,
        ));
    }
    let srv = serve(&["--model", models.to_str().unwrap()]);
    let bars: Vec<(String, f64)> = rows[500..]
        .iter()
        .map(|r| {
            let f: Vec<&str> = r.split(',').collect();
            (f[0].to_string(), f[4].parse().unwrap())
        })
        .collect();
    for (kind, _) in kinds {
        let (mut ws, _) =
            tungstenite::connect(format!("ws://{}/v1/models/{kind}/stream", srv.addr)).unwrap();
        ws.send(tungstenite::Message::text(
            r#"{"type": "subscribe", "h": 3, "level": [80, 95]}"#,
        ))
        .unwrap();
        let sub = next_json(&mut ws);
        assert_eq!(sub["type"], "subscribed", "{sub}");
        assert_eq!(sub["series"][0]["rows"], 500);
        let first = next_json(&mut ws);
        assert_eq!(first["type"], "forecast", "{first}");
        let mut answers = Vec::new();
        for (ds, y) in &bars {
            ws.send(tungstenite::Message::text(
                json!({"type": "bar", "ds": ds, "y": y}).to_string(),
            ))
            .unwrap();
            let a = next_json(&mut ws);
            assert_eq!(a["type"], "forecast", "{kind} bar {ds}: {a}");
            assert_eq!(a["ds"], ds.as_str());
            answers.push(a);
        }
        for k in [1usize, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100] {
            let data = write(&format!("{kind}-{k}.csv"), 500 + k);
            let model = models.join(kind);
            let p = ok(&[
                "predict",
                "--model",
                model.to_str().unwrap(),
                "--data",
                &data,
                "--horizon",
                "3",
                "--level",
                "80,95",
                "--format",
                "json",
            ]);
            let p: Value = serde_json::from_str(&p).unwrap();
            let s = &answers[k - 1];
            assert_eq!(s["rows"], 500 + k);
            for i in 0..3 {
                let (pr, sr) = (&p["rows"][i], &s["forecasts"][i]);
                assert_eq!(pr["timestamp"], sr["ds"], "{kind} bar {k} step {i}");
                for (pk, sk) in [
                    ("forecast", "mean"),
                    ("lower_80", "lo-80"),
                    ("upper_80", "hi-80"),
                    ("lower_95", "lo-95"),
                    ("upper_95", "hi-95"),
                ] {
                    let (a, b) = (sr[sk].as_f64().unwrap(), pr[pk].as_f64().unwrap());
                    assert!(
                        close_to(a, b),
                        "{kind} bar {k} step {i} {sk}: stream {a}, predict {b}"
                    );
                }
            }
        }
        ws.close(None).unwrap();
    }
    // SIGTERM with a stream open: the stream gets going-away, the server exits 0.
    let (mut ws, _) =
        tungstenite::connect(format!("ws://{}/v1/models/arima/stream", srv.addr)).unwrap();
    ws.send(tungstenite::Message::text(r#"{"h": 2}"#)).unwrap();
    assert_eq!(next_json(&mut ws)["type"], "subscribed");
    let mut srv = srv;
    Command::new("kill")
        .args(["-TERM", &srv.child.id().to_string()])
        .status()
        .unwrap();
    let code = loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(Some(f))) => break u16::from(f.code),
            Ok(_) => {}
            Err(e) => panic!("no close frame before the connection ended: {e}"),
        }
    };
    assert_eq!(code, 1001, "going away");
    let exit = srv.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_registered_model_is_fetched_served_and_served_again_offline_from_the_cache() {
    // A server of this test's own, with basic auth, that it can stop.
    let Some(mut server) =
        forecast_test_support::OwnMlflowServer::or_skip("serve_models_uri", true)
    else {
        return;
    };
    server.up();
    let uri = server.uri();
    let password = forecast_test_support::OWN_SERVER_ADMIN_PASSWORD;
    let creds = [
        ("MLFLOW_TRACKING_USERNAME", "admin"),
        ("MLFLOW_TRACKING_PASSWORD", password),
    ];
    let runs = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("local");
    let reg = format!("msft-{}", std::process::id());
    let data = dataset("msft_daily.csv");
    common::run_ok(common::isolated(runs.path()).envs(creds).args(train_args(
        &data,
        "close",
        "drift",
        out.to_str().unwrap(),
        &[
            "--tracking-uri",
            &uri,
            "--experiment",
            "serve",
            "--register-model",
            &reg,
        ],
    )));
    let body = r#"{"h": 3, "level": [80]}"#;
    let local = serve(&["--model", out.to_str().unwrap()]);
    let (status, want) = request(&local.addr, "POST", "/v1/models/local/forecast", body);
    assert_eq!(status, 200, "{want}");
    drop(local);
    let want: Value = serde_json::from_str(&want).unwrap();
    let cache = dir.path().join("cache");
    let cache = cache.to_str().unwrap();
    let route = format!("/v1/models/{reg}/forecast");
    let model = |v: &str| format!("models:/{reg}/{v}");
    // The tracking credentials rules: without them the server refuses.
    let refused = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .args(["serve", "--model", &model("latest"), "--model-cache", cache])
        .env("MLFLOW_TRACKING_URI", &uri)
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    let env = [("MLFLOW_TRACKING_URI", uri.as_str()), creds[0], creds[1]];
    let check = |version: &str, says: &str| {
        let (srv, early) = serve_env(&["--model", &model(version), "--model-cache", cache], &env);
        assert!(
            early.iter().any(|l| l.contains(says)),
            "{version}: {early:?}"
        );
        let (status, got) = request(&srv.addr, "POST", &route, body);
        assert_eq!(status, 200, "{got}");
        let got: Value = serde_json::from_str(&got).unwrap();
        assert_eq!(got["forecasts"], want["forecasts"], "{version}");
        assert_eq!(got["model"], reg.as_str());
    };
    check("latest", "fetched version 1");
    // The tracking server goes down: both forms start from the cache.
    server.stop();
    check("1", "serving cached version 1");
    check("latest", "serving cached version 1");
    // Down and never fetched: an error naming the cache, nothing served.
    let out = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .args(["serve", "--model", &model("2"), "--model-cache", cache])
        .envs(env)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no cached copy"), "{err}");
}
