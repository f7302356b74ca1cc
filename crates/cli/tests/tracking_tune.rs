//! `forecast tune` tracking: a parent run per experiment and a child run per trial, in the
//! local spool (`forecast runs list`) and on a REAL MLflow server (`FORECAST_MLFLOW_URI`,
//! see scripts/mlflow-test-server.sh), checked through the REST API directly.

use serde_json::Value;
use std::collections::BTreeMap;

mod common;
use common::{isolated as forecast, run_ok as ok, runs_json, runs_list};
use forecast_test_support::{
    flatten_json, free_port, mlflow_artifact_paths, mlflow_experiment_id, mlflow_get,
    mlflow_metric_steps, mlflow_search_runs, mlflow_uri_or_skip, run_pairs as pairs,
};

#[test]
fn tune_runs_are_recorded_locally_without_a_tracking_uri_and_resume_duplicates_none() {
    let runs = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let tune = |resume: bool| {
        let mut c = forecast(runs.path());
        c.args([
            "tune",
            "--spec",
            "experiments/airpassengers-baselines-grid.toml",
            "--json",
            "--out",
        ])
        .arg(&out);
        if resume {
            c.arg("--resume");
        }
        let summary: Value = serde_json::from_str(&ok(&mut c)).unwrap();
        summary
    };
    let summary = tune(false);
    let trials = summary["trials"].as_u64().unwrap() as usize;
    assert_eq!(trials, 16);
    let rows = runs_list(runs.path());
    assert_eq!(rows.len(), 1 + trials, "a parent run and one run per trial");
    let parents: Vec<&Value> = rows.iter().filter(|r| r["parent"].is_null()).collect();
    assert_eq!(parents.len(), 1);
    let parent = parents[0];
    assert_eq!(parent["name"], "airpassengers-baselines-grid");
    // The MLflow experiment defaults to the spec's name.
    assert_eq!(parent["experiment"], "airpassengers-baselines-grid");
    let mut names = Vec::new();
    for r in &rows {
        assert_eq!(r["status"], "FINISHED", "{r}");
        assert_eq!(r["shipping"], "local");
        if !r["parent"].is_null() {
            assert_eq!(r["parent"], parent["id"]);
            // Backtest scoring reports once per trial.
            assert!(r["metric_points"].as_u64().unwrap() >= 3, "{r}");
            names.push(r["name"].as_str().unwrap().to_string());
        }
    }
    names.sort();
    let mut expected: Vec<String> = (0..trials).map(|i| format!("trial-{i}")).collect();
    expected.sort();
    assert_eq!(names, expected);
    // The parent holds the best model and the summary.
    let show = runs_json(runs.path(), &["show", parent["id"].as_str().unwrap()]);
    assert_eq!(show["run"]["params"]["tune.search"], "grid");
    assert_eq!(show["run"]["tags"]["best.season_length"], "12");
    assert!(show["run"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["path"] == "model/model.json"));
    assert_eq!(
        show["latest_metrics"]["best.backtest_mase"]["value"],
        summary["best"]["metric"]
    );
    // The experiment directory maps the runs (one line for the parent, one per trial).
    let map = std::fs::read_to_string(out.join("tracking.jsonl")).unwrap();
    let lines: Vec<Value> = map
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1 + trials);
    assert_eq!(lines[0]["parent"], parent["id"]);

    // Resuming the finished experiment runs no trial and creates no run.
    tune(true);
    let again = runs_list(runs.path());
    assert_eq!(again.len(), 1 + trials);
    assert!(again.iter().all(|r| r["status"] == "FINISHED"));
    let show = runs_json(runs.path(), &["show", parent["id"].as_str().unwrap()]);
    assert_eq!(show["run"]["tags"]["tune.resumes"], "1");
    let map = std::fs::read_to_string(out.join("tracking.jsonl")).unwrap();
    assert_eq!(map.lines().count(), 1 + trials, "no run started on resume");
}

#[test]
fn tune_with_an_unreachable_server_succeeds_and_keeps_every_run_in_the_spool() {
    // A port nothing listens on.
    let uri = format!("http://127.0.0.1:{}", free_port());
    let runs = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = forecast(runs.path())
        .args([
            "tune",
            "--spec",
            "experiments/airpassengers-baselines-grid.toml",
            "--json",
            "--tracking-uri",
            &uri,
            "--out",
        ])
        .arg(dir.path().join("exp"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["trials"], 16);
    assert!(stderr.contains("forecast runs sync"), "{stderr}");
    let rows = runs_list(runs.path());
    assert_eq!(rows.len(), 17);
    for r in &rows {
        assert_eq!(r["status"], "FINISHED");
        assert_eq!(r["tracking_uri"], uri.as_str());
        assert_ne!(r["shipping"], "shipped", "{r}");
    }
}

const TINY_LSTM_ASHA: &str = r#"
name = "air-lstm-asha-tiny"
[data]
path = "datasets/airpassengers.csv"
target = "passengers"
[model]
kind = "lstm"
horizon = 2
transform = "log"
seed = 1
[model.config]
epochs = 4
lookback = 8
batch_size = 32
patience = 0
[space]
hidden_size = { choice = [4, 8] }
learning_rate = { loguniform = [1e-3, 3e-2] }
[evaluation]
kind = "valid"
fraction = 0.2
[tune]
metric = "valid_loss"
mode = "min"
samples = 4
max_concurrent = 1
search = "random"
scheduler = { kind = "asha", grace_period = 1, reduction_factor = 2, max_t = 4 }
seed = 3
"#;

#[test]
fn tune_logs_one_parent_run_and_one_child_run_per_trial_to_mlflow() {
    let Some(uri) = mlflow_uri_or_skip("tune_logs_to_mlflow") else {
        return;
    };
    let runs = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("tiny.toml");
    std::fs::write(&spec, TINY_LSTM_ASHA).unwrap();
    let out = dir.path().join("exp");
    let exp = format!("tune-cli-{}-{}", std::process::id(), dir.path().display())
        .replace(['/', '.'], "-");
    let tune = |resume: bool| -> Value {
        let mut c = forecast(runs.path());
        c.args([
            "tune",
            "--json",
            "--tracking-uri",
            &uri,
            "--experiment",
            &exp,
        ])
        .arg("--spec")
        .arg(&spec)
        .arg("--out")
        .arg(&out);
        if resume {
            c.arg("--resume");
        }
        serde_json::from_str(&ok(&mut c)).unwrap()
    };
    let summary = tune(false);
    let trials = summary["trials"].as_u64().unwrap() as usize;
    assert_eq!(trials, 4);

    let exp_id = mlflow_experiment_id(&uri, &exp);
    let found = mlflow_search_runs(&uri, &exp_id);
    assert_eq!(
        found.len(),
        1 + trials,
        "one parent and one child per trial"
    );
    let tag = |r: &Value, k: &str| pairs(r, "tags").get(k).cloned();
    let parents: Vec<&Value> = found
        .iter()
        .filter(|r| tag(r, "mlflow.parentRunId").is_none())
        .collect();
    assert_eq!(parents.len(), 1);
    let parent = parents[0];
    let parent_id = parent["info"]["run_id"].as_str().unwrap();
    assert_eq!(parent["info"]["status"], "FINISHED");
    assert_eq!(parent["info"]["run_name"], "air-lstm-asha-tiny");
    let pp = pairs(parent, "params");
    assert_eq!(pp["tune.metric"], "valid_loss");
    assert_eq!(pp["tune.search"], "random");
    assert_eq!(pp["tune.samples"], "4");
    assert_eq!(pp["tune.scheduler.kind"], "asha");
    assert_eq!(
        pp["tune.scheduler.reduction_factor"]
            .parse::<f64>()
            .unwrap(),
        2.0
    );
    assert_eq!(pp["space.hidden_size.choice"], "[4,8]");
    let best = parent["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == "best.valid_loss")
        .expect("best metric on the parent");
    assert_eq!(best["value"], summary["best"]["metric"]);
    let names = mlflow_artifact_paths(&uri, parent_id, "model");
    assert!(
        names.iter().any(|n| n == "model/model.json") && names.iter().any(|n| n == "model/MLmodel"),
        "{names:?}"
    );

    // Each child: linked to the parent, params = the trial's sampled config, one
    // valid_loss point per epoch it ran (steps 1..=epochs), FINISHED (stopped early by
    // ASHA included, tagged as such).
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("state.json")).unwrap()).unwrap();
    let mut seen = BTreeMap::new();
    let mut stopped = 0;
    for r in found
        .iter()
        .filter(|r| tag(r, "mlflow.parentRunId").is_some())
    {
        assert_eq!(tag(r, "mlflow.parentRunId").as_deref(), Some(parent_id));
        let rid = r["info"]["run_id"].as_str().unwrap();
        let name = r["info"]["run_name"].as_str().unwrap();
        let trial: usize = name.strip_prefix("trial-").unwrap().parse().unwrap();
        assert!(
            seen.insert(trial, rid.to_string()).is_none(),
            "{name} twice"
        );
        let t = &state["trials"][trial];
        assert_eq!(pairs(r, "params"), flatten_json(&t["params"]), "{name}");
        assert_eq!(r["info"]["status"], "FINISHED", "{name}");
        let epochs = t["history"].as_array().unwrap().len() as i64;
        assert!(epochs >= 1);
        assert_eq!(
            mlflow_metric_steps(&uri, rid, "valid_loss"),
            (1..=epochs).collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(
            tag(r, "tune.status").as_deref(),
            t["status"].as_str(),
            "{name}"
        );
        if t["status"] == "stopped" {
            stopped += 1;
            assert_eq!(tag(r, "tune.stop_reason").as_deref(), Some("scheduler"));
            // Stopped early: before max_t (a trial ASHA stops at max_t completed).
            assert!(epochs < 4, "{name}");
        } else {
            assert_eq!(epochs, 4, "{name}");
        }
    }
    assert_eq!(seen.len(), trials);
    assert_eq!(summary["stopped_early"], stopped);

    // Resuming the finished experiment continues the same parent run: nothing new.
    tune(true);
    let again = mlflow_search_runs(&uri, &exp_id);
    assert_eq!(again.len(), 1 + trials);
    let parent_again = mlflow_get(&uri, "runs/get", &[("run_id", parent_id)]);
    assert_eq!(parent_again["run"]["info"]["status"], "FINISHED");

    // And locally, `forecast runs list` shows them all, shipped.
    let rows = runs_list(runs.path());
    assert_eq!(rows.len(), 1 + trials);
    assert!(rows.iter().all(|r| r["shipping"] == "shipped"), "{rows:?}");
}
