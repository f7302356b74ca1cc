//! `forecast serve` as a user runs it: the real binary on a free port, its forecast equal
//! to `forecast predict`'s, and SIGTERM with a request in flight (answered, then exit 0).

use serde_json::Value;
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .arg("serve")
        .args(args)
        .args(["--port", "0"])
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
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the server prints 'listening on' within a minute");
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_string();
        }
    };
    Serving {
        child,
        addr,
        log: rx,
    }
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
