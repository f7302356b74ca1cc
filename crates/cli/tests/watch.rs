//! `forecast watch` end to end: alerts from JSON lines on stdin and from a growing CSV
//! file, equal to the strategy signal's crossings; delivery to a real local webhook
//! receiver and a real local SMTP server (aiosmtpd with STARTTLS and AUTH), at least
//! once with idempotency keys, through a receiver that is down and comes back.

mod common;

use common::{json_lines, msft, watch_stdin};
use forecast_core::strategy::alert::RuleSet;
use forecast_core::strategy::signal;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RULES: &str = r#"
[[rule]]
name = "fast-cross"
when = { kind = "sma-cross", fast = 3, slow = 8 }

[[rule]]
name = "oversold"
when = { kind = "rsi", period = 5, lower = 25, upper = 75 }
on = "long"
message = "RSI(5) under 25"
"#;

/// The alerts the rules' signals give on `bars` (rule, ds, signal), from bar `from`
/// on: where a rule's (matching) value changes to a non-zero value.
fn expected(bars: &[(String, f64)], from: usize) -> Vec<(String, String, i64)> {
    let rules = RuleSet::from_toml(RULES).unwrap();
    let close: Vec<f64> = bars.iter().map(|b| b.1).collect();
    let mut out = vec![];
    for i in from.max(1)..bars.len() {
        for r in &rules.rules {
            let s = signal(r.when.as_ref().unwrap(), &close).unwrap();
            let m = |v: i8| match r.on {
                forecast_core::strategy::alert::Fires::Long if v < 0 => 0,
                forecast_core::strategy::alert::Fires::Short if v > 0 => 0,
                _ => v,
            };
            if m(s[i]) != 0 && m(s[i]) != m(s[i - 1]) {
                out.push((r.name.clone(), bars[i].0.clone(), m(s[i]) as i64));
            }
        }
    }
    out
}

fn alerts(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn triples(alerts: &[Value]) -> Vec<(String, String, i64)> {
    alerts
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["ds"].as_str().unwrap().to_string(),
                a["signal"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn rules_file(dir: &Path) -> PathBuf {
    let p = dir.join("rules.toml");
    std::fs::write(&p, RULES).unwrap();
    p
}

#[test]
fn stdin_alerts_are_the_signal_crossings_with_stable_keys() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let bars = msft(300);
    let mut input = json_lines(&bars);
    // A feed that repeats its last bar, a blank line and a bad line: skipped, reported.
    input.push_str(&json_lines(&bars[299..]));
    input.push_str("\n{\"ds\": \"2030-01-01\"}\n");
    let out = watch_stdin(&rules, &input, &[], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("stdin line 303") && err.contains("close"),
        "{err}"
    );
    let got = alerts(&out.stdout);
    let want = expected(&bars, 0);
    assert!(want.len() >= 10, "too few crossings to test: {want:?}");
    assert_eq!(triples(&got), want);
    for a in &got {
        assert_eq!(a["key"].as_str().unwrap().len(), 32, "{a}");
        let close = bars.iter().find(|b| b.0 == a["ds"]).unwrap().1;
        assert_eq!(a["value"].as_f64().unwrap(), close, "{a}");
        assert!(
            a["message"]
                .as_str()
                .unwrap()
                .contains(a["rule"].as_str().unwrap())
                || a["rule"] == "oversold"
        );
    }
    assert!(got.iter().any(|a| a["message"] == "RSI(5) under 25"));
    // The same bars again: the same alerts with the same idempotency keys.
    let again = watch_stdin(&rules, &json_lines(&bars), &[], &[]);
    assert_eq!(alerts(&again.stdout), got);
}

#[test]
fn a_growing_csv_alerts_on_new_rows_only() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let bars = msft(260);
    let csv = dir.path().join("bars.csv");
    let mut text = String::from("date,close\n");
    for (d, c) in &bars[..200] {
        text.push_str(&format!("{d},{c}\n"));
    }
    std::fs::write(&csv, &text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .args(["watch", "--data"])
        .arg(&csv)
        .arg("--rules")
        .arg(&rules)
        .args(["--poll-interval", "0.05"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&csv).unwrap();
    for (d, c) in &bars[200..] {
        // Half a line, then the rest: a row is read only once its newline is there.
        let row = format!("{d},{c}\n");
        let (a, b) = row.split_at(row.len() / 2);
        f.write_all(a.as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        f.write_all(b.as_bytes()).unwrap();
        f.flush().unwrap();
    }
    std::thread::sleep(Duration::from_millis(600));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "watch did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = expected(&bars, 200);
    assert!(want.len() >= 3, "too few crossings to test: {want:?}");
    assert_eq!(triples(&alerts(&out.stdout)), want);
}

/// A receiver process (`tests/receivers.py`) and its log of what it received.
struct Receiver {
    child: Child,
    log: PathBuf,
}

impl Receiver {
    fn start(python: &str, args: &[&str], log: &Path, env: &[(&str, &str)]) -> Receiver {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/receivers.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(&args[..2])
            .arg(log)
            .args(&args[2..])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the receiver did not start");
        Receiver {
            child,
            log: log.to_path_buf(),
        }
    }

    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn keys(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["key"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_webhook_that_was_down_gets_every_alert_once() {
    let Some(python) = forecast_test_support::peer_python_or_skip(
        "alerts",
        "a_webhook_that_was_down_gets_every_alert_once",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let bars = msft(120);
    let port = forecast_test_support::free_port().to_string();
    let url = format!("http://127.0.0.1:{port}/alerts");
    // The receiver is down while every bar arrives; it comes back 2 s later.
    let log = dir.path().join("webhook.jsonl");
    let (p, l) = (python.clone(), log.clone());
    let port2 = port.clone();
    let receiver = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        Receiver::start(&p, &["http", &port2, "--drop-first-ack"], &l, &[])
    });
    let out = watch_stdin(&rules, &json_lines(&bars), &["--webhook", &url], &[]);
    let receiver = receiver.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fired = alerts(&out.stdout);
    assert!(fired.len() >= 4, "too few alerts to test: {fired:?}");
    let got = receiver.received();
    // The first acknowledgement was lost: that alert came twice, with the same key,
    // and dropping repeated keys leaves exactly the fired alerts, in order.
    assert_eq!(got.len(), fired.len() + 1, "{got:?}");
    assert_eq!(got[0]["key"], got[1]["key"]);
    let mut seen = std::collections::HashSet::new();
    let bodies: Vec<Value> = got
        .iter()
        .filter(|r| seen.insert(r["key"].as_str().unwrap().to_string()))
        .map(|r| r["body"].clone())
        .collect();
    assert_eq!(bodies, fired);
    for r in &got {
        assert_eq!(r["key"], r["body"]["key"], "header and body keys differ");
    }
}

#[test]
fn a_refused_alert_is_reported_not_lost() {
    let Some(python) = forecast_test_support::peer_python_or_skip(
        "alerts",
        "a_refused_alert_is_reported_not_lost",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let port = forecast_test_support::free_port().to_string();
    let _receiver = Receiver::start(
        &python,
        &["http", &port, "--status", "422"],
        &dir.path().join("webhook.jsonl"),
        &[],
    );
    let dead = dir.path().join("dead.jsonl");
    let out = watch_stdin(
        &rules,
        &json_lines(&msft(120)),
        &[
            "--webhook",
            &format!("http://127.0.0.1:{port}/alerts"),
            "--dead-letter",
            dead.to_str().unwrap(),
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("not delivered") && err.contains("422"),
        "{err}"
    );
    let fired = alerts(&out.stdout);
    let dead: Vec<Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dead_alerts: Vec<Value> = dead.iter().map(|d| d["undelivered"].clone()).collect();
    assert_eq!(dead_alerts, fired);
}

#[test]
fn e_mail_alerts_over_starttls_with_credentials_from_the_environment() {
    let Some(python) = forecast_test_support::peer_python_or_skip(
        "alerts",
        "e_mail_alerts_over_starttls_with_credentials_from_the_environment",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let port = forecast_test_support::free_port().to_string();
    let secret = "s3cret-pa55word";
    let creds = [("RECEIVER_USER", "alerts"), ("RECEIVER_PASSWORD", secret)];
    let receiver = Receiver::start(
        &python,
        &["smtp", &port, dir.path().to_str().unwrap()],
        &dir.path().join("mail.jsonl"),
        &creds,
    );
    let ca = dir.path().join("ca.pem");
    let smtp = format!("smtp://127.0.0.1:{port}");
    let args = [
        "--smtp",
        &smtp,
        "--mail-to",
        "ops@example.com",
        "--smtp-ca",
        ca.to_str().unwrap(),
    ];
    let env = [
        ("FORECAST_SMTP_USERNAME", "alerts"),
        ("FORECAST_SMTP_PASSWORD", secret),
    ];
    let out = watch_stdin(&rules, &json_lines(&msft(120)), &args, &env);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let fired = alerts(&out.stdout);
    assert!(!fired.is_empty());
    let mails = receiver.received();
    assert_eq!(mails.len(), fired.len(), "{mails:?}");
    for (m, a) in mails.iter().zip(&fired) {
        assert_eq!(
            m["message_id"],
            format!("<{}@forecast.alerts>", a["key"].as_str().unwrap())
        );
        assert_eq!(m["to"], serde_json::json!(["ops@example.com"]));
        assert_eq!(m["tls"], true);
        assert_eq!(m["authenticated"], true);
        assert_eq!(m["user"], "alerts");
        assert!(m["body"]
            .as_str()
            .unwrap()
            .contains(a["key"].as_str().unwrap()));
    }
    assert_eq!(keys(&fired).len(), fired.len());
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), err);
    assert!(!printed.contains(secret), "the password was printed");

    // Credentials inside the URL are refused; a wrong password is reported, not lost.
    let url = format!("smtp://alerts:{secret}@127.0.0.1:{port}");
    let out = watch_stdin(
        &rules,
        "",
        &["--smtp", &url, "--mail-to", "ops@example.com"],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("credentials inside the URL"),
        "{err}"
    );
    assert!(!err.contains(secret), "{err}");
    let wrong = [
        ("FORECAST_SMTP_USERNAME", "alerts"),
        ("FORECAST_SMTP_PASSWORD", "wrong"),
    ];
    let out = watch_stdin(&rules, &json_lines(&msft(120)), &args, &wrong);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not delivered"),
        "{err}"
    );
    assert_eq!(receiver.received().len(), fired.len());
}

/// `--model` with an `outside` rule: the alerts are the bars whose close lies outside
/// the saved model's one-step 95% interval, the model conditioned on each bar before.
#[test]
fn outside_rules_follow_the_saved_models_interval_bar_by_bar() {
    use forecast_core::{artifact, ForecasterSpec, ModelConfig, Series};
    let dir = tempfile::tempdir().unwrap();
    let bars = msft(400);
    let (fit, live) = bars.split_at(300);
    let close: Vec<f64> = fit.iter().map(|b| b.1).collect();
    let model = ForecasterSpec::new(ModelConfig::from_kind("arima").unwrap())
        .fit_quiet(&Series::from_values(close, 1))
        .unwrap();
    let model_dir = dir.path().join("model");
    artifact::save(&model, &model_dir).unwrap();
    let rules = dir.path().join("outside.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"unusual\"\noutside = { level = 95 }\n",
    )
    .unwrap();
    let csv = dir.path().join("live.csv");
    let mut text = String::from("date,close\n");
    for (d, c) in live {
        text.push_str(&format!("{d},{c}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let (csv, rules, model_dir) = (
        csv.to_str().unwrap(),
        rules.to_str().unwrap(),
        model_dir.to_str().unwrap(),
    );
    let watch = [
        "watch",
        "--once",
        "--from-start",
        "--data",
        csv,
        "--rules",
        rules,
    ];
    let stdout = common::ok(&[&watch[..], &["--model", model_dir]].concat());
    // The same through the library: forecast, compare, condition.
    let mut m = artifact::load(Path::new(model_dir)).unwrap();
    let mut want = vec![];
    let mut before = 0i64;
    for (d, c) in live {
        let p = m.predict(1, &[95.0], &[]).unwrap();
        let band = &p.intervals[0];
        let v = if *c > band.upper[0] {
            1
        } else if *c < band.lower[0] {
            -1
        } else {
            0
        };
        if v != 0 && v != before {
            want.push(("unusual".to_string(), d.clone(), v));
        }
        before = v;
        m = m.extend(&[*c], &[], &[]).unwrap();
    }
    assert!(want.len() >= 3, "too few unusual bars to test: {want:?}");
    assert_eq!(triples(&alerts(stdout.as_bytes())), want);

    // Without --model the rule is refused.
    let err = common::fails(&watch);
    assert!(err.contains("--model"), "{err}");
}
