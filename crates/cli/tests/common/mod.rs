//! Helpers shared by the end-to-end tests of the `forecast` binary.
// Each test file uses a subset of these.
#![allow(dead_code)]

pub mod serving;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The ten NYSE trading days after the last row of `datasets/msft_daily.csv` (Friday
/// 2017-11-10): Thanksgiving, Thursday 2017-11-23, is skipped.
pub const MSFT_NEXT_TRADING_DAYS: [&str; 10] = [
    "2017-11-13",
    "2017-11-14",
    "2017-11-15",
    "2017-11-16",
    "2017-11-17",
    "2017-11-20",
    "2017-11-21",
    "2017-11-22",
    "2017-11-24",
    "2017-11-27",
];

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn dataset(name: &str) -> String {
    root().join("datasets").join(name).display().to_string()
}

pub fn forecast(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forecast"))
        .args(args)
        .output()
        .expect("run forecast")
}

pub fn ok(args: &[&str]) -> String {
    let out = forecast(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The arguments of `forecast train --data DATA --target TARGET --model MODEL --out OUT`
/// followed by `extra`.
pub fn train_args<'a>(
    data: &'a str,
    target: &'a str,
    model: &'a str,
    out: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "train", "--data", data, "--target", target, "--model", model, "--out", out,
    ];
    args.extend_from_slice(extra);
    args
}

/// `forecast predict --model MODEL --horizon HORIZON --format json` followed by `extra`,
/// which must succeed; its output parsed.
pub fn predict_json(model: &str, horizon: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "predict",
        "--model",
        model,
        "--horizon",
        horizon,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = ok(&args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

/// A run refused as a usage error by the argument parser: exit status 2, an `error:`
/// line first, no panic.
pub fn usage_error(args: &[&str]) -> String {
    let out = forecast(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

/// A failing run: exactly one `error:` line, a non-zero exit, no panic.
pub fn fails(args: &[&str]) -> String {
    failed(&forecast(args), &format!("{args:?}"))
}

/// Asserts that the finished run `out` (of `what`) failed as errors should: exit status
/// 1, exactly one `error:` line on stderr, no panic. Returns the stderr.
pub fn failed(out: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{what} should fail");
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    stderr
}

/// The binary with its own spool (`FORECAST_RUNS_DIR`) and no MLflow settings inherited
/// from the environment, run from the repository root.
pub fn isolated(runs_dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forecast"));
    c.current_dir(root())
        .env("FORECAST_RUNS_DIR", runs_dir)
        .env_remove("MLFLOW_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_USERNAME")
        .env_remove("MLFLOW_TRACKING_PASSWORD")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env_remove("MLFLOW_EXPERIMENT_NAME");
    c
}

/// Runs `c`, asserts success and returns its stdout.
pub fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `forecast runs ARGS...` in the spool `runs_dir` (see [`isolated`]), which must succeed,
/// its output parsed as JSON.
pub fn runs_json(runs_dir: &Path, args: &[&str]) -> Value {
    let out = run_ok(isolated(runs_dir).arg("runs").args(args));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("runs {args:?}: not JSON ({e}): {out}"))
}

/// The rows of `forecast runs list --json` in the spool `runs_dir`.
pub fn runs_list(runs_dir: &Path) -> Vec<Value> {
    runs_json(runs_dir, &["list", "--json"])
        .as_array()
        .cloned()
        .expect("runs list --json prints an array")
}

/// The point forecasts of `predict --format json`, by step.
pub fn points(v: &Value) -> Vec<f64> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["forecast"].as_f64().unwrap())
        .collect()
}

/// The model directory's `model.json`, parsed.
/// A peer's fit `key` of series `series` in the committed reference file
/// `crates/forecast-core/tests/reference/<file>` (the Theta and ETS references' layout).
pub fn reference_fit(file: &str, series: &str, key: &str) -> Value {
    let path = root()
        .join("crates/forecast-core/tests/reference")
        .join(file);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == series)
        .unwrap()["fits"][key]
        .clone()
}

pub fn model_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap()
}

/// The first `n` series of an M3 file, as a new long-format file in `dir`.
pub fn m3_subset(dir: &Path, name: &str, n: usize) -> PathBuf {
    let text = std::fs::read_to_string(dataset(name)).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    let mut ids: Vec<String> = Vec::new();
    for line in lines {
        let id = line.split(',').next().unwrap().to_string();
        if !ids.contains(&id) {
            if ids.len() == n {
                continue;
            }
            ids.push(id);
        }
        out.push_str(line);
        out.push('\n');
    }
    let p = dir.join(name);
    std::fs::write(&p, out).unwrap();
    p
}

/// `forecast backtest --data DATA --model MODEL --json` followed by `extra`, which must
/// succeed, its output parsed.
pub fn backtest_json(data: &Path, model: &str, extra: &[&str]) -> Value {
    let data = data.to_str().expect("a UTF-8 path");
    let mut args = vec!["backtest", "--data", data, "--model", model, "--json"];
    args.extend(extra);
    serde_json::from_str(&ok(&args)).expect("backtest --json prints JSON")
}

/// The last `n` MSFT bars: (date, close).
pub fn msft(n: usize) -> Vec<(String, f64)> {
    let text = std::fs::read_to_string(dataset("msft_daily.csv")).unwrap();
    let rows: Vec<(String, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[4].parse().unwrap())
        })
        .collect();
    rows[rows.len() - n..].to_vec()
}

/// Bars as `forecast watch --stdin` reads them: one JSON object per line.
pub fn json_lines(bars: &[(String, f64)]) -> String {
    bars.iter()
        .map(|(d, c)| format!("{{\"ds\": \"{d}\", \"close\": {c}}}\n"))
        .collect()
}

/// `forecast watch --stdin --rules RULES EXTRA...` fed `input`.
pub fn watch_stdin(rules: &Path, input: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .args(["watch", "--stdin", "--rules"])
        .arg(rules)
        .args(extra)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
