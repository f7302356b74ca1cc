//! Helpers shared by the end-to-end tests of the `forecast` binary.
// Each test file uses a subset of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    let out = forecast(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{args:?} should fail");
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
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
