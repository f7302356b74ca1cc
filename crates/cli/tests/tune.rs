//! `forecast tune` end to end: the shipped grid spec, and a run killed with SIGKILL in
//! the middle of the experiment and resumed.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn forecast() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forecast"));
    c.current_dir(repo()).env_remove("MLFLOW_TRACKING_URI");
    // The experiments' runs go to a scratch spool, not the user's.
    if std::env::var_os("FORECAST_RUNS_DIR").is_none() {
        c.env(
            "FORECAST_RUNS_DIR",
            std::env::temp_dir().join("forecast-tune-tests-runs"),
        );
    }
    c
}

#[test]
fn tune_json_prints_the_summary_of_the_baseline_grid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let o = forecast()
        .args([
            "tune",
            "--spec",
            "experiments/airpassengers-baselines-grid.toml",
            "--json",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    // 3 non-seasonal kinds + 5 season lengths, each with 2 transforms.
    assert_eq!(v["trials"], 16);
    assert_eq!(v["stopped_early"], 0);
    // Monthly airline data: the yearly season wins.
    assert_eq!(v["best"]["params"]["kind"], "seasonal-naive");
    assert_eq!(v["best"]["params"]["season_length"], 12);
    assert!(v["best"]["metric"].as_f64().unwrap() > 0.0);
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count(), 17);
    assert!(csv.lines().skip(1).all(|l| l.contains(",completed,")));
    assert!(out.join("best_model/model.json").is_file());
    assert!(out.join("state.json").is_file());
    // Starting again in the same directory is refused; resuming runs nothing new.
    let again = forecast()
        .args([
            "tune",
            "--spec",
            "experiments/airpassengers-baselines-grid.toml",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds an experiment"));
}

#[test]
fn the_lstm_asha_spec_parses() {
    let spec =
        tuner::forecast::ExperimentSpec::from_file(&repo().join("experiments/msft-lstm-asha.toml"))
            .unwrap();
    assert_eq!(spec.model.kind, "lstm");
    assert_eq!(spec.space().unwrap().params().len(), 5);
}

fn count_events(runs: &str) -> (BTreeMap<u64, usize>, BTreeMap<u64, usize>) {
    let (mut starts, mut finished) = (BTreeMap::new(), BTreeMap::new());
    for line in runs.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(id) = v["run_id"].as_str().and_then(|r| r.strip_prefix("trial-")) else {
            continue;
        };
        let id: u64 = id.parse().unwrap();
        match v["event"].as_str() {
            Some("run_started") => *starts.entry(id).or_default() += 1,
            Some("run_finished") => *finished.entry(id).or_default() += 1,
            _ => {}
        }
    }
    (starts, finished)
}

#[test]
fn tune_killed_with_sigkill_resumes_and_runs_every_trial_to_completion_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let spec = dir.path().join("spec.toml");
    let n = 20;
    // Each trial backtests 60 one-step folds on 8,000 rows: long enough (~0.1 s in a
    // debug build) to be killed in the middle of the experiment.
    std::fs::write(
        &spec,
        format!(
            r#"
name = "kill-test"
[data]
path = "{}"
target = "close"
[model]
kind = "seasonal-naive"
[space]
season_length = {{ randint = [1, 30] }}
[evaluation]
kind = "backtest"
folds = 60
horizon = 1
[tune]
metric = "backtest_mae"
samples = {n}
max_concurrent = 2
seed = 1
out = "{}"
"#,
            repo().join("datasets/msft_daily.csv").display(),
            out.display()
        ),
    )
    .unwrap();
    let mut child = forecast()
        .args(["tune", "--spec"])
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let runs = out.join("runs.jsonl");
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&runs).unwrap_or_default();
        if count_events(&text).1.len() >= 3 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "tune ended before it could be killed"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no trial finished"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = tuner::Store::open(&out).unwrap();
    let done = killed
        .state()
        .trials
        .iter()
        .filter(|t| t.status.is_finished())
        .count();
    assert!(done >= 3 && done < n, "{done} of {n} finished at the kill");
    drop(killed);

    let o = forecast()
        .args(["tune", "--resume", "--json", "--spec"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["trials"], n);

    let text = std::fs::read_to_string(&runs).unwrap();
    let (starts, finished) = count_events(&text);
    let store = tuner::Store::open(&out).unwrap();
    assert_eq!(store.state().trials.len(), n);
    let mut restarted = 0;
    for t in &store.state().trials {
        let id = t.id as u64;
        assert_eq!(t.status, tuner::TrialStatus::Completed, "trial {id}");
        // Ran to completion exactly once; started once, or twice if the kill hit it.
        assert_eq!(
            finished.get(&id),
            Some(&1),
            "trial {id} finished {:?} times",
            finished.get(&id)
        );
        assert_eq!(starts.get(&id), Some(&t.starts), "trial {id}");
        assert!(
            t.starts == 1 || t.starts == 2,
            "trial {id} started {} times",
            t.starts
        );
        restarted += usize::from(t.starts == 2);
    }
    assert!(
        restarted <= 2,
        "{restarted} trials restarted with max_concurrent = 2"
    );
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count(), n + 1);
    let ids: Vec<usize> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, (0..n).collect::<Vec<_>>());
    assert!(csv.lines().skip(1).all(|l| l.contains(",completed,")));
    assert!(out.join("best_model/model.json").is_file());
}

/// The best model of a study scored on a validation part forecasts from the period after
/// the file's last row, like `train --valid-fraction` (fitted on the training rows,
/// conditioned on all of them).
#[test]
fn the_best_model_of_a_validation_study_forecasts_after_the_last_row() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("valid.toml");
    let out = dir.path().join("exp");
    std::fs::write(
        &spec,
        format!(
            r#"
name = "valid-origin"
[data]
path = "{}"
target = "passengers"
[model]
kind = "seasonal-naive"
[space]
season_length = {{ grid = [6, 12] }}
[evaluation]
kind = "valid"
fraction = 0.2
[tune]
metric = "valid_mae"
samples = 1
search = "grid"
max_concurrent = 1
"#,
            repo().join("datasets/airpassengers.csv").display()
        ),
    )
    .unwrap();
    let o = forecast()
        .args(["tune", "--json", "--spec"])
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let best = out.join("best_model");
    let model: Value =
        serde_json::from_str(&std::fs::read_to_string(best.join("model.json")).unwrap()).unwrap();
    // 144 rows, the last 29 (20%) scored: fitted on 115, conditioned on all 144.
    assert_eq!(model["data"]["fitted_rows"], 115, "{}", model["data"]);
    assert_eq!(model["data"]["conditioned_rows"], 144);
    assert_eq!(model["config"]["season_length"], 12);
    let p = forecast()
        .args(["predict", "--horizon", "1", "--model"])
        .arg(&best)
        .output()
        .unwrap();
    let csv = String::from_utf8(p.stdout).unwrap();
    // The file ends at 1960-12; a seasonal naive forecast of 1961-01 is 1960-01's 417.
    assert!(csv.contains("\n1961-01-01,417,"), "{csv}");
}
