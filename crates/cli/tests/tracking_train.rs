//! `forecast train` logging to a REAL MLflow server (`FORECAST_MLFLOW_URI`, see
//! scripts/mlflow-test-server.sh), checked through the REST API directly, and
//! `forecast runs list / show / sync`.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

mod common;
use common::{isolated as forecast, model_json, run_ok as ok, runs_json, runs_list, train_args};
use forecast_test_support::{
    flatten_json, mlflow_artifact_paths, mlflow_experiment_id, mlflow_get, mlflow_metric_steps,
    mlflow_search_runs, mlflow_uri_or_skip, run_pairs, OwnMlflowServer,
};

/// `forecast train --model MODEL` on AirPassengers into `out`, then `extra`; runs
/// recorded in the spool `runs`.
fn train_air(runs: &Path, model: &str, out: &Path, extra: &[&str]) -> Command {
    let out = out.to_str().unwrap();
    let mut c = forecast(runs);
    c.args(train_args(
        "datasets/airpassengers.csv",
        "passengers",
        model,
        out,
        extra,
    ));
    c
}

/// Params equal the flattened config of the model written to `out`.
fn assert_params_are_the_config(run: &Value, out: &Path) {
    let params = run_pairs(run, "params");
    assert_eq!(params, flatten_json(&model_json(out)["config"]));
}

#[test]
fn runs_are_recorded_locally_without_a_tracking_uri() {
    let runs = tempfile::tempdir().unwrap();
    let model = tempfile::tempdir().unwrap();
    ok(&mut train_air(
        runs.path(),
        "seasonal-naive",
        &model.path().join("m"),
        &[],
    ));
    let rows = runs_list(runs.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "FINISHED");
    assert_eq!(rows[0]["shipping"], "local");
    let id = rows[0]["id"].as_str().unwrap();
    let show = runs_json(runs.path(), &["show", &id[..20]]);
    assert_eq!(show["run"]["id"], id);
    assert!(show["run"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["path"] == "model/model.json"));
    assert!(show["metric_points"].as_u64().unwrap() >= 1);
}

#[test]
fn train_logs_params_metrics_artifacts_and_registers_then_runs_sync_ships_local_runs() {
    let Some(uri) = mlflow_uri_or_skip("train_logs_to_mlflow") else {
        return;
    };
    let runs = tempfile::tempdir().unwrap();
    let model = tempfile::tempdir().unwrap();
    let out = model.path().join("m");
    let exp = format!("cli-{}", std::process::id());
    let reg = format!("air-{}", std::process::id());
    ok(&mut train_air(
        runs.path(),
        "seasonal-naive",
        &out,
        &[
            "--test-fraction",
            "0.1",
            "--tracking-uri",
            &uri,
            "--experiment",
            &exp,
            "--register-model",
            &reg,
        ],
    ));

    let exp_id = mlflow_experiment_id(&uri, &exp);
    let runs_found = mlflow_search_runs(&uri, &exp_id);
    assert_eq!(runs_found.len(), 1);
    let run = &runs_found[0];
    let rid = run["info"]["run_id"].as_str().unwrap();
    assert_eq!(run["info"]["status"], "FINISHED");

    assert_params_are_the_config(run, &out);
    // The season length the fit inferred (12, monthly), not the unresolved null.
    let params = run_pairs(run, "params");
    assert_eq!(
        params.get("season_length").map(String::as_str),
        Some("12"),
        "{params:?}"
    );

    // Per-epoch metric history with the reporter's steps (baselines report one epoch, 1).
    assert_eq!(mlflow_metric_steps(&uri, rid, "train_loss"), vec![1]);
    let metric_keys: Vec<&str> = run["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert!(metric_keys.contains(&"test.metrics.mae"), "{metric_keys:?}");

    let names = mlflow_artifact_paths(&uri, rid, "model");
    assert!(
        names.iter().any(|n| n == "model/model.json") && names.iter().any(|n| n == "model/MLmodel"),
        "{names:?}"
    );

    let mv = mlflow_get(
        &uri,
        "model-versions/search",
        &[("filter", &format!("name='{reg}'"))],
    );
    let versions = mv["model_versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["run_id"], rid);

    // A run recorded with no tracking URI ships later with `runs sync --tracking-uri`.
    ok(
        train_air(runs.path(), "naive", &model.path().join("n"), &[])
            .env("MLFLOW_EXPERIMENT_NAME", &exp),
    );
    ok(forecast(runs.path()).args(["runs", "sync", "--tracking-uri", &uri]));
    assert_eq!(runs_list(runs.path()).len(), 2);
    assert_eq!(mlflow_search_runs(&uri, &exp_id).len(), 2);
    // Syncing again ships nothing new and duplicates nothing.
    ok(forecast(runs.path()).args(["runs", "sync", "--tracking-uri", &uri]));
    assert_eq!(mlflow_search_runs(&uri, &exp_id).len(), 2);
}

#[test]
fn train_with_the_server_down_finishes_and_runs_sync_ships_every_epoch_once() {
    let Some(mut server) = OwnMlflowServer::or_skip("train_with_the_server_down", false) else {
        return;
    };
    let uri = server.uri();
    // Nothing listens there while the model trains.
    let runs = tempfile::tempdir().unwrap();
    let model = tempfile::tempdir().unwrap();
    let out = model.path().join("lstm");
    let exp = format!("outage-cli-{}", std::process::id());
    let trained = train_air(
        runs.path(),
        "lstm",
        &out,
        &[
            "--horizon",
            "2",
            "--valid-fraction",
            "0.2",
            "--set",
            "epochs=3",
            "--set",
            "lookback=8",
            "--set",
            "hidden_size=4",
            "--set",
            "patience=0",
            "--tracking-uri",
            &uri,
            "--experiment",
            &exp,
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&trained.stderr);
    assert!(trained.status.success(), "{stderr}");
    assert!(stderr.contains("forecast runs sync"), "{stderr}");
    let list = runs_list(runs.path());
    let row = &list[0];
    assert_eq!(row["status"], "FINISHED");
    assert_ne!(row["shipping"], "shipped");
    let local_points = row["metric_points"].as_u64().unwrap();

    // The server comes up; `runs sync` (the run remembers its server) ships everything.
    server.up();
    ok(forecast(runs.path()).args(["runs", "sync"]));
    let exp_id = mlflow_experiment_id(&uri, &exp);
    let count_points = || -> (String, u64) {
        let found = mlflow_search_runs(&uri, &exp_id);
        assert_eq!(found.len(), 1);
        let rid = found[0]["info"]["run_id"].as_str().unwrap().to_string();
        assert_eq!(found[0]["info"]["status"], "FINISHED");
        let mut n = 0;
        for m in found[0]["data"]["metrics"].as_array().unwrap() {
            let key = m["key"].as_str().unwrap();
            let h = mlflow_get(
                &uri,
                "metrics/get-history",
                &[("run_id", &rid), ("metric_key", key)],
            );
            n += h["metrics"].as_array().unwrap().len() as u64;
        }
        (rid, n)
    };
    let (rid, n) = count_points();
    assert_eq!(n, local_points, "every point shipped, none twice");
    assert_eq!(
        mlflow_metric_steps(&uri, &rid, "train_loss"),
        vec![1, 2, 3],
        "one train_loss point per epoch"
    );
    // Params = the flattened config of the model written.
    assert_params_are_the_config(&mlflow_search_runs(&uri, &exp_id)[0], &out);
    // Syncing again sends nothing and duplicates nothing.
    ok(forecast(runs.path()).args(["runs", "sync"]));
    assert_eq!(count_points().1, local_points);
    assert_eq!(runs_list(runs.path())[0]["shipping"], "shipped");
}
