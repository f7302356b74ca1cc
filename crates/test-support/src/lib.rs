//! Helpers shared by the workspace's integration tests (a dev-dependency only).
//!
//! - The MLflow rule: a test that needs a real MLflow server reads its address from the
//!   environment (`eval "$(scripts/mlflow-test-server.sh up)"` sets it); without it the
//!   test is skipped with a loud notice, unless `FORECAST_REQUIRE_MLFLOW=1` (CI), where
//!   a missing server fails the test.
//! - HTTP: JSON GET and POST through reqwest, with the query string encoded properly.

use serde_json::Value;
use std::io::Write;

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
    let r = client()
        .get(url)
        .query(query)
        .send()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    answer("GET", url, r)
}

/// POST `body` as JSON to `url`, assert a 2xx answer and return it as JSON.
pub fn post_json(url: &str, body: &Value) -> Value {
    let r = client()
        .post(url)
        .json(body)
        .send()
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    answer("POST", url, r)
}

fn answer(method: &str, url: &str, r: reqwest::blocking::Response) -> Value {
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
