//! Helpers shared by the workspace's integration tests (a dev-dependency only).
//!
//! - The MLflow rule: a test that needs a real MLflow server reads its address from the
//!   environment (`eval "$(scripts/mlflow-test-server.sh up)"` sets it); without it the
//!   test is skipped with a loud notice, unless `FORECAST_REQUIRE_MLFLOW=1` (CI), where
//!   a missing server fails the test.
//! - HTTP: JSON GET and POST through reqwest, with the query string encoded properly.
//! - MLflow lookups through the REST API (an experiment's id and runs, a run's params,
//!   tags, metric steps and artifacts) and [`OwnMlflowServer`], a server a test can stop
//!   and start again.
//! - [`browser`]: pages opened in headless Chromium.
//! - [`pg`]: a fresh PostgreSQL database per test on the server at 127.0.0.1:5432, and a
//!   throwaway cluster of a test's own (restarts, password authentication).

pub mod browser;
pub mod pg;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Whether a missing MLflow server fails the tests (`FORECAST_REQUIRE_MLFLOW=1`).
pub fn mlflow_required() -> bool {
    std::env::var("FORECAST_REQUIRE_MLFLOW").is_ok_and(|v| v == "1")
}

/// The value of `var` (an MLflow server's URI or executable), or `None` after printing a
/// SKIPPED notice for `test`; panics instead when [`mlflow_required`].
pub fn env_or_skip(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if mlflow_required() {
                panic!("{test}: {var} is not set but FORECAST_REQUIRE_MLFLOW=1");
            }
            // Written past the test harness's capture so it is seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: {var} is not set (eval \"$(scripts/mlflow-test-server.sh up)\") ***\n"
            );
            None
        }
    }
}

/// The Python interpreter of a peer's venv (`FORECAST_<NAME>_PYTHON`, made by
/// `scripts/peer-venv.sh <name>`), or `None` after printing a SKIPPED notice for
/// `test`; panics instead under `FORECAST_REQUIRE_PEERS=1` (CI).
pub fn peer_python_or_skip(name: &str, test: &str) -> Option<String> {
    let var = format!("FORECAST_{}_PYTHON", name.to_uppercase().replace('-', "_"));
    match std::env::var(&var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("FORECAST_REQUIRE_PEERS").map_or(true, |v| v != "1"),
                "{test}: {var} is not set but FORECAST_REQUIRE_PEERS=1"
            );
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: {var} is not set (eval \"$(scripts/peer-venv.sh {name})\") ***\n"
            );
            None
        }
    }
}

/// The MLflow 3.x test server's URI (`FORECAST_MLFLOW_URI`), or skip; see [`env_or_skip`].
pub fn mlflow_uri_or_skip(test: &str) -> Option<String> {
    env_or_skip("FORECAST_MLFLOW_URI", test)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

/// GET `url` with `query` (encoded), assert a 2xx answer and return it as JSON.
pub fn get_json(url: &str, query: &[(&str, &str)]) -> Value {
    send("GET", url, client().get(url).query(query))
}

/// POST `body` as JSON to `url`, assert a 2xx answer and return it as JSON.
pub fn post_json(url: &str, body: &Value) -> Value {
    send("POST", url, client().post(url).json(body))
}

/// Sends `request` (`method` on `url`), asserts a 2xx answer and returns it as JSON.
fn send(method: &str, url: &str, request: reqwest::blocking::RequestBuilder) -> Value {
    let r = request
        .send()
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = r.status();
    let text = r.text().unwrap_or_default();
    assert!(status.is_success(), "{method} {url}: HTTP {status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {url}: not JSON ({e}): {text}"))
}

/// GET an MLflow REST endpoint (`PATH` under `/api/2.0/mlflow/`).
pub fn mlflow_get(uri: &str, path: &str, query: &[(&str, &str)]) -> Value {
    get_json(&format!("{uri}/api/2.0/mlflow/{path}"), query)
}

/// POST to an MLflow REST endpoint (`PATH` under `/api/2.0/mlflow/`).
pub fn mlflow_post(uri: &str, path: &str, body: &Value) -> Value {
    post_json(&format!("{uri}/api/2.0/mlflow/{path}"), body)
}

/// A local TCP port that nothing listens on (bound, read and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The id of the MLflow experiment named `name`.
pub fn mlflow_experiment_id(uri: &str, name: &str) -> String {
    mlflow_get(uri, "experiments/get-by-name", &[("experiment_name", name)])["experiment"]
        ["experiment_id"]
        .as_str()
        .unwrap_or_else(|| panic!("experiment {name} has no id"))
        .to_string()
}

/// Every run of the experiment `experiment_id` (up to 1000).
pub fn mlflow_search_runs(uri: &str, experiment_id: &str) -> Vec<Value> {
    let v = mlflow_post(
        uri,
        "runs/search",
        &json!({"experiment_ids": [experiment_id], "max_results": 1000}),
    );
    v["runs"].as_array().cloned().unwrap_or_default()
}

/// A run's `params` or `tags` (`what`, as under the run's `data`) as a key -> value map.
pub fn run_pairs(run: &Value, what: &str) -> BTreeMap<String, String> {
    run["data"][what]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().to_string(),
                p["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// JSON flattened to dotted keys (`a.b.c`) and string values (a string as itself, any
/// other scalar, an array or an empty object as its JSON text): what a config logged as
/// MLflow params looks like, computed independently of the tracking code.
pub fn flatten_json(v: &Value) -> BTreeMap<String, String> {
    fn walk(v: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(x, &key, out);
                }
            }
            _ if prefix.is_empty() => {}
            Value::String(s) => {
                out.insert(prefix.to_string(), s.clone());
            }
            other => {
                out.insert(prefix.to_string(), other.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(v, "", &mut out);
    out
}

/// The steps of the points of metric `key` of run `run_id`, in ascending order.
pub fn mlflow_metric_steps(uri: &str, run_id: &str, key: &str) -> Vec<i64> {
    let hist = mlflow_get(
        uri,
        "metrics/get-history",
        &[("run_id", run_id), ("metric_key", key)],
    );
    let mut steps: Vec<i64> = hist["metrics"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|m| m["step"].as_i64().unwrap_or(0))
        .collect();
    steps.sort_unstable();
    steps
}

/// The paths of the artifacts of run `run_id` under `path`, in ascending order.
pub fn mlflow_artifact_paths(uri: &str, run_id: &str, path: &str) -> Vec<String> {
    let files = mlflow_get(uri, "artifacts/list", &[("run_id", run_id), ("path", path)]);
    let mut names: Vec<String> = files["files"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// An MLflow 3.x server of a test's own, run by `scripts/mlflow-test-server.sh serve`
/// from the virtual environment of `FORECAST_MLFLOW_BIN` in its own process group, on a
/// port and in a temporary directory (database, artifacts, `server.log`) of its own, that
/// can be stopped and started again on both; stopped, and its directory removed, when
/// dropped.
pub struct OwnMlflowServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    auth: bool,
    child: Option<Child>,
}

/// The admin password of an [`OwnMlflowServer`] started with authentication.
pub const OWN_SERVER_ADMIN_PASSWORD: &str = "admin-password-0123";

impl OwnMlflowServer {
    /// A server (not started) for the `mlflow` executable in `FORECAST_MLFLOW_BIN`, with
    /// basic authentication when `auth` (admin password [`OWN_SERVER_ADMIN_PASSWORD`]);
    /// or `None` after a SKIPPED notice for `test` (see [`env_or_skip`]).
    pub fn or_skip(test: &str, auth: bool) -> Option<OwnMlflowServer> {
        let bin = env_or_skip("FORECAST_MLFLOW_BIN", test)?;
        Some(OwnMlflowServer {
            bin: PathBuf::from(bin),
            dir: tempfile::tempdir().expect("a directory for the server"),
            port: free_port(),
            auth,
            child: None,
        })
    }

    /// The server's URI (whether it is up or not).
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits (up to 2 minutes) until it answers `/health`.
    pub fn up(&mut self) {
        use std::os::unix::process::CommandExt;
        let venv = self.bin.parent().unwrap().parent().unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mlflow-test-server.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .arg("serve")
            .arg(venv)
            .arg(self.dir.path())
            .arg(self.port.to_string());
        if self.auth {
            cmd.arg("--auth")
                .env("MLFLOW_AUTH_ADMIN_PASSWORD", OWN_SERVER_ADMIN_PASSWORD)
                .env("MLFLOW_FLASK_SERVER_SECRET_KEY", "test-secret");
        }
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        cmd.stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        self.child = Some(cmd.spawn().unwrap());
        let t0 = Instant::now();
        let http = reqwest::blocking::Client::new();
        while t0.elapsed() < Duration::from_secs(120) {
            if http
                .get(format!("{}/health", self.uri()))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        panic!(
            "own MLflow server did not start; see {}",
            self.dir.path().join("server.log").display()
        );
    }

    /// Stops the server (its process group: TERM, then KILL after 15 s), if it runs.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let group = format!("-{}", c.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let t0 = Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if t0.elapsed() > Duration::from_secs(15) {
                    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for OwnMlflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}
