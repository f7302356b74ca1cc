//! `forecast train` logging to a REAL MLflow server (`FORECAST_MLFLOW_URI`, see
//! scripts/mlflow-test-server.sh), checked through the REST API directly, and
//! `forecast runs list / show / sync`.

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

mod common;
use common::{isolated as forecast, run_ok as ok};
use forecast_test_support::{env_or_skip, mlflow_get, mlflow_post, mlflow_uri_or_skip};

fn get(uri: &str, path: &str, q: &[(&str, &str)]) -> Value {
    mlflow_get(uri, path, q)
}

fn flatten(v: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(x, &key, out);
            }
        }
        Value::String(s) if !prefix.is_empty() => out.push((prefix.to_string(), s.clone())),
        other if !prefix.is_empty() => out.push((prefix.to_string(), other.to_string())),
        _ => {}
    }
}

#[test]
fn runs_are_recorded_locally_without_a_tracking_uri() {
    let runs = tempfile::tempdir().unwrap();
    let model = tempfile::tempdir().unwrap();
    ok(forecast(runs.path())
        .args([
            "train",
            "--data",
            "datasets/airpassengers.csv",
            "--target",
            "passengers",
            "--model",
            "seasonal-naive",
            "--out",
        ])
        .arg(model.path().join("m")));
    let list: Value =
        serde_json::from_str(&ok(forecast(runs.path()).args(["runs", "list", "--json"]))).unwrap();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "FINISHED");
    assert_eq!(rows[0]["shipping"], "local");
    let id = rows[0]["id"].as_str().unwrap();
    let show: Value =
        serde_json::from_str(&ok(forecast(runs.path()).args(["runs", "show", &id[..20]]))).unwrap();
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
    ok(forecast(runs.path())
        .args([
            "train",
            "--data",
            "datasets/airpassengers.csv",
            "--target",
            "passengers",
            "--model",
            "seasonal-naive",
            "--test-fraction",
            "0.1",
            "--tracking-uri",
            &uri,
            "--experiment",
            &exp,
            "--register-model",
            &reg,
            "--out",
        ])
        .arg(&out));

    let exp_id = get(
        &uri,
        "experiments/get-by-name",
        &[("experiment_name", &exp)],
    )["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let found = mlflow_post(&uri, "runs/search", &json!({"experiment_ids": [exp_id]}));
    let runs_found = found["runs"].as_array().unwrap();
    assert_eq!(runs_found.len(), 1);
    let run = &runs_found[0];
    let rid = run["info"]["run_id"].as_str().unwrap();
    assert_eq!(run["info"]["status"], "FINISHED");

    // Params equal the flattened config in model.json.
    let model_json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    let mut expected = Vec::new();
    flatten(&model_json["config"], "", &mut expected);
    expected.sort();
    let mut params: Vec<(String, String)> = run["data"]["params"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().into(),
                p["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    params.sort();
    assert_eq!(params, expected);
    // The season length the fit inferred (12, monthly), not the unresolved null.
    assert!(
        params.contains(&("season_length".to_string(), "12".to_string())),
        "{params:?}"
    );

    // Per-epoch metric history with the reporter's steps (baselines report one epoch, 1).
    let hist = get(
        &uri,
        "metrics/get-history",
        &[("run_id", rid), ("metric_key", "train_loss")],
    );
    let steps: Vec<i64> = hist["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(steps, vec![1]);
    let metric_keys: Vec<&str> = run["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert!(metric_keys.contains(&"test.metrics.mae"), "{metric_keys:?}");

    let files = get(
        &uri,
        "artifacts/list",
        &[("run_id", rid), ("path", "model")],
    );
    let names: Vec<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"model/model.json") && names.contains(&"model/MLmodel"),
        "{names:?}"
    );

    let mv = get(
        &uri,
        "model-versions/search",
        &[("filter", &format!("name='{reg}'"))],
    );
    let versions = mv["model_versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["run_id"], rid);

    // A run recorded with no tracking URI ships later with `runs sync --tracking-uri`.
    ok(forecast(runs.path())
        .env("MLFLOW_EXPERIMENT_NAME", &exp)
        .args([
            "train",
            "--data",
            "datasets/airpassengers.csv",
            "--target",
            "passengers",
            "--model",
            "naive",
            "--out",
        ])
        .arg(model.path().join("n")));
    ok(forecast(runs.path()).args(["runs", "sync", "--tracking-uri", &uri]));
    let list: Value =
        serde_json::from_str(&ok(forecast(runs.path()).args(["runs", "list", "--json"]))).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let found = mlflow_post(&uri, "runs/search", &json!({"experiment_ids": [exp_id]}));
    assert_eq!(found["runs"].as_array().unwrap().len(), 2);
    // Syncing again ships nothing new and duplicates nothing.
    ok(forecast(runs.path()).args(["runs", "sync", "--tracking-uri", &uri]));
    let found = mlflow_post(&uri, "runs/search", &json!({"experiment_ids": [exp_id]}));
    assert_eq!(found["runs"].as_array().unwrap().len(), 2);
}

/// An MLflow 3.x server of this test's own (`FORECAST_MLFLOW_BIN`), in its own process
/// group, that can be stopped and started again on the same port and database.
struct OwnServer {
    venv: std::path::PathBuf,
    dir: std::path::PathBuf,
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnServer {
    fn new(bin: &str, dir: &Path) -> OwnServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let venv = Path::new(bin).parent().unwrap().parent().unwrap();
        OwnServer {
            venv: venv.to_path_buf(),
            dir: dir.to_path_buf(),
            port,
            child: None,
        }
    }
    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn up(&mut self) {
        use std::os::unix::process::CommandExt;
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/mlflow-test-server.sh"
        );
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let child = Command::new("bash")
            .arg(script)
            .arg("serve")
            .arg(&self.venv)
            .arg(&self.dir)
            .arg(self.port.to_string())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let t0 = std::time::Instant::now();
        while t0.elapsed() < std::time::Duration::from_secs(120) {
            let ok = reqwest::blocking::get(format!("{}/health", self.uri()))
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        panic!(
            "own MLflow server did not start; see {}/server.log",
            self.dir.display()
        );
    }
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let group = format!("-{}", c.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let t0 = std::time::Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if t0.elapsed() > std::time::Duration::from_secs(15) {
                    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn search(uri: &str, exp_id: &str) -> Vec<Value> {
    let v = mlflow_post(uri, "runs/search", &json!({"experiment_ids": [exp_id]}));
    v["runs"].as_array().cloned().unwrap_or_default()
}

#[test]
fn train_with_the_server_down_finishes_and_runs_sync_ships_every_epoch_once() {
    let Some(bin) = env_or_skip("FORECAST_MLFLOW_BIN", "train_with_the_server_down") else {
        return;
    };
    let sdir = tempfile::tempdir().unwrap();
    let mut server = OwnServer::new(&bin, sdir.path());
    let uri = server.uri();
    // Nothing listens there while the model trains.
    let runs = tempfile::tempdir().unwrap();
    let model = tempfile::tempdir().unwrap();
    let out = model.path().join("lstm");
    let exp = format!("outage-cli-{}", std::process::id());
    let trained = forecast(runs.path())
        .args([
            "train",
            "--data",
            "datasets/airpassengers.csv",
            "--target",
            "passengers",
            "--model",
            "lstm",
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
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&trained.stderr);
    assert!(trained.status.success(), "{stderr}");
    assert!(stderr.contains("forecast runs sync"), "{stderr}");
    let list: Value =
        serde_json::from_str(&ok(forecast(runs.path()).args(["runs", "list", "--json"]))).unwrap();
    let row = &list.as_array().unwrap()[0];
    assert_eq!(row["status"], "FINISHED");
    assert_ne!(row["shipping"], "shipped");
    let local_points = row["metric_points"].as_u64().unwrap();

    // The server comes up; `runs sync` (the run remembers its server) ships everything.
    server.up();
    ok(forecast(runs.path()).args(["runs", "sync"]));
    let exp_id = get(
        &uri,
        "experiments/get-by-name",
        &[("experiment_name", &exp)],
    )["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let count_points = || -> (String, u64) {
        let found = search(&uri, &exp_id);
        assert_eq!(found.len(), 1);
        let rid = found[0]["info"]["run_id"].as_str().unwrap().to_string();
        assert_eq!(found[0]["info"]["status"], "FINISHED");
        let mut n = 0;
        for m in found[0]["data"]["metrics"].as_array().unwrap() {
            let key = m["key"].as_str().unwrap();
            let h = get(
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
    let hist = get(
        &uri,
        "metrics/get-history",
        &[("run_id", &rid), ("metric_key", "train_loss")],
    );
    let mut steps: Vec<i64> = hist["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["step"].as_i64().unwrap_or(0))
        .collect();
    steps.sort();
    assert_eq!(steps, vec![1, 2, 3], "one train_loss point per epoch");
    // Params = the flattened config of the model written.
    let model_json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    let mut expected = Vec::new();
    flatten(&model_json["config"], "", &mut expected);
    expected.sort();
    let run = &search(&uri, &exp_id)[0];
    let mut params: Vec<(String, String)> = run["data"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().into(),
                p["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    params.sort();
    assert_eq!(params, expected);
    // Syncing again sends nothing and duplicates nothing.
    ok(forecast(runs.path()).args(["runs", "sync"]));
    assert_eq!(count_points().1, local_points);
    let list: Value =
        serde_json::from_str(&ok(forecast(runs.path()).args(["runs", "list", "--json"]))).unwrap();
    assert_eq!(list[0]["shipping"], "shipped");
}
