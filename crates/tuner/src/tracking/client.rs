//! A blocking MLflow REST API 2.0 client: only calls the MLflow 2.x and 3.x lines share.

use super::config::{Credentials, Destination};
use super::error::{Result, TrackingError};
use super::spool::Metric;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// Per-request limits of `runs/log-batch` (MLflow's documented and observed limits).
pub mod limits {
    /// Metrics per request.
    pub const METRICS: usize = 1000;
    /// Params per request.
    pub const PARAMS: usize = 100;
    /// Tags per request.
    pub const TAGS: usize = 100;
    /// Metrics + params + tags per request.
    pub const TOTAL: usize = 1000;
}

/// When and how often to retry a request that failed for a transient reason
/// (unreachable server, 408, 429, 5xx). Other 4xx answers are never retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubles each time, with up to ±50 % jitter.
    pub initial_backoff: Duration,
    /// Largest delay between attempts.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// A single attempt.
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// The delay before retry number `retry` (0-based): exponential, capped, with jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let jitter = 0.5 + rand::random::<f64>(); // 0.5 ..= 1.5
        base.mul_f64(jitter).min(self.max_backoff)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// A key/value pair of MLflow params and tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// Key.
    pub key: String,
    /// Value (always a string on the wire).
    pub value: String,
}

/// The fields of a run we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRun {
    /// MLflow run id.
    pub run_id: String,
    /// Artifact root (`mlflow-artifacts:/1/<run>/artifacts`).
    pub artifact_uri: String,
}

/// A client for one tracking server.
#[derive(Debug, Clone)]
pub struct MlflowClient {
    http: reqwest::blocking::Client,
    destination: Destination,
    retry: RetryPolicy,
}

impl MlflowClient {
    /// A client for `destination`, retrying transient failures per `retry`.
    pub fn new(destination: Destination, retry: RetryPolicy) -> Result<MlflowClient> {
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .danger_accept_invalid_certs(destination.insecure_tls)
            .user_agent(concat!("forecast/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TrackingError::Config(format!("HTTP client: {e}")))?;
        Ok(MlflowClient {
            http,
            destination,
            retry,
        })
    }

    /// The server's URI (no credentials).
    pub fn uri(&self) -> &str {
        &self.destination.uri
    }

    fn authorize(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.destination.credentials {
            Credentials::None => req,
            Credentials::Basic { username, password } => req.basic_auth(username, Some(password)),
            Credentials::Bearer(token) => req.bearer_auth(token),
        }
    }

    /// Sends a request built by `build` (called once per attempt), retrying transient
    /// failures, and returns the body of a 2xx answer.
    fn send(
        &self,
        endpoint: &str,
        build: impl Fn() -> reqwest::blocking::RequestBuilder,
    ) -> Result<Vec<u8>> {
        let mut attempt = 0;
        loop {
            let result = self.send_once(endpoint, &build);
            match result {
                Err(e) if e.is_transient() && attempt + 1 < self.retry.attempts => {
                    std::thread::sleep(self.retry.delay(attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn send_once(
        &self,
        endpoint: &str,
        build: &impl Fn() -> reqwest::blocking::RequestBuilder,
    ) -> Result<Vec<u8>> {
        let unreachable = |e: reqwest::Error| TrackingError::Unreachable {
            endpoint: endpoint.to_string(),
            // `without_url`: the message never carries the URL (nor anything in it).
            message: error_chain(&e.without_url()),
        };
        let resp = self.authorize(build()).send().map_err(unreachable)?;
        let status = resp.status();
        let body = resp.bytes().map_err(unreachable)?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        let (code, message) = match serde_json::from_slice::<Value>(&body) {
            Ok(v) if v.get("error_code").is_some() || v.get("message").is_some() => (
                v.get("error_code")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                v.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            Ok(v) if v.get("detail").is_some() => (None, v["detail"].to_string()),
            _ => {
                let text = String::from_utf8_lossy(&body);
                let text = text.trim();
                let short: String = text.chars().take(300).collect();
                let hint = match status.as_u16() {
                    401 => " (check MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN)",
                    403 => " (the credentials lack permission, or the server rejected the Host header)",
                    _ => "",
                };
                let base = if short.is_empty() || short.starts_with('<') {
                    status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    short
                };
                (None, format!("{base}{hint}"))
            }
        };
        Err(TrackingError::Server {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            code,
            message,
        })
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/2.0/mlflow/{path}", self.destination.uri)
    }

    fn get_json(&self, path: &str, query: &[(&str, &str)]) -> Result<Value> {
        let url = self.api(path);
        let body = self.send(path, || self.http.get(&url).query(query))?;
        parse_body(path, &body)
    }

    fn post_json(&self, path: &str, payload: &Value) -> Result<Value> {
        let url = self.api(path);
        let body = self.send(path, || self.http.post(&url).json(payload))?;
        parse_body(path, &body)
    }

    /// The experiment id for `name`, `None` when there is no such experiment.
    pub fn get_experiment_by_name(&self, name: &str) -> Result<Option<String>> {
        match self.get_json("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(v) => Ok(v["experiment"]["experiment_id"]
                .as_str()
                .map(str::to_string)),
            Err(e) if e.server_code() == Some("RESOURCE_DOES_NOT_EXIST") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates an experiment and returns its id.
    pub fn create_experiment(&self, name: &str) -> Result<String> {
        let v = self.post_json("experiments/create", &json!({ "name": name }))?;
        string_field(&v, "experiment_id", "experiments/create")
    }

    /// The id of experiment `name`, creating it when missing (and coping with another
    /// client creating it at the same moment).
    pub fn ensure_experiment(&self, name: &str) -> Result<String> {
        if let Some(id) = self.get_experiment_by_name(name)? {
            return Ok(id);
        }
        match self.create_experiment(name) {
            Ok(id) => Ok(id),
            Err(e) if e.server_code() == Some("RESOURCE_ALREADY_EXISTS") => {
                self.get_experiment_by_name(name)?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a run.
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time: i64,
        tags: &[KeyValue],
    ) -> Result<RemoteRun> {
        let v = self.post_json(
            "runs/create",
            &json!({
                "experiment_id": experiment_id,
                "run_name": run_name,
                "start_time": start_time,
                "tags": tags,
            }),
        )?;
        remote_run(&v["run"], "runs/create")
    }

    /// Runs of an experiment matching an MLflow filter (`tags.x = 'y'`), all pages.
    pub fn search_runs(&self, experiment_id: &str, filter: &str) -> Result<Vec<RemoteRun>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut payload = json!({
                "experiment_ids": [experiment_id],
                "filter": filter,
                "max_results": 1000,
            });
            if let Some(t) = &token {
                payload["page_token"] = json!(t);
            }
            let v = self.post_json("runs/search", &payload)?;
            for run in v["runs"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                out.push(remote_run(run, "runs/search")?);
            }
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }

    /// Sets a run's status and end time.
    pub fn update_run(&self, run_id: &str, status: &str, end_time: Option<i64>) -> Result<()> {
        let mut payload = json!({ "run_id": run_id, "run_uuid": run_id, "status": status });
        if let Some(t) = end_time {
            payload["end_time"] = json!(t);
        }
        self.post_json("runs/update", &payload).map(drop)
    }

    /// One `runs/log-batch` request. Callers keep within [`limits`];
    /// [`MlflowClient::log_batch_chunked`] does it for them.
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<()> {
        self.post_json(
            "runs/log-batch",
            &json!({ "run_id": run_id, "metrics": metrics, "params": params, "tags": tags }),
        )
        .map(drop)
    }

    /// Logs any number of params, tags and metrics in as many requests as the server's
    /// limits need; `after_metrics(n)` is called after each request that carried metrics,
    /// with the number of metrics it carried (so callers can record progress).
    pub fn log_batch_chunked(
        &self,
        run_id: &str,
        metrics: &[Metric],
        params: &[KeyValue],
        tags: &[KeyValue],
        mut after_metrics: impl FnMut(usize) -> Result<()>,
    ) -> Result<()> {
        for chunk in params.chunks(limits::PARAMS) {
            self.log_batch(run_id, &[], chunk, &[])?;
        }
        for chunk in tags.chunks(limits::TAGS) {
            self.log_batch(run_id, &[], &[], chunk)?;
        }
        for chunk in metrics.chunks(limits::METRICS.min(limits::TOTAL)) {
            self.log_batch(run_id, chunk, &[], &[])?;
            after_metrics(chunk.len())?;
        }
        Ok(())
    }

    /// Uploads one file through the tracking server's artifact proxy.
    /// `artifact_uri` is the run's (`mlflow-artifacts:/1/<run>/artifacts`), `rel` the
    /// `/`-separated path under it.
    pub fn upload_artifact(&self, artifact_uri: &str, rel: &str, bytes: Vec<u8>) -> Result<()> {
        let Some(root) = artifact_uri.strip_prefix("mlflow-artifacts:") else {
            return Err(TrackingError::Config(format!(
                "artifact root `{artifact_uri}` is not served by the tracking server; \
                 start it with --serve-artifacts (the default) or use an experiment whose \
                 artifact location is mlflow-artifacts:/"
            )));
        };
        let root = root.trim_start_matches('/');
        let mut url = reqwest::Url::parse(&format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/",
            self.destination.uri
        ))
        .map_err(|e| TrackingError::Config(format!("artifact URL: {e}")))?;
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| TrackingError::Config("artifact URL cannot have a path".into()))?;
            segs.pop_if_empty();
            for s in root
                .split('/')
                .chain(rel.split('/'))
                .filter(|s| !s.is_empty())
            {
                segs.push(s);
            }
        }
        let endpoint = "mlflow-artifacts/artifacts";
        self.send(endpoint, || {
            self.http
                .put(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes.clone())
        })
        .map(drop)
    }

    /// Creates a registered model; an existing one of that name is fine.
    pub fn ensure_registered_model(&self, name: &str) -> Result<()> {
        match self.post_json("registered-models/create", &json!({ "name": name })) {
            Ok(_) => Ok(()),
            Err(e) if e.server_code() == Some("RESOURCE_ALREADY_EXISTS") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Versions of model `name` created from run `run_id`.
    pub fn model_versions_of_run(&self, name: &str, run_id: &str) -> Result<Vec<String>> {
        let filter = format!(
            "name='{}' and run_id='{}'",
            name.replace('\'', "\\'"),
            run_id
        );
        let v = self.get_json("model-versions/search", &[("filter", &filter)])?;
        Ok(v["model_versions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|m| m["version"].as_str().map(str::to_string))
            .collect())
    }

    /// Creates a model version of `name` from `source` (`runs:/<run>/model`); returns the version.
    pub fn create_model_version(&self, name: &str, source: &str, run_id: &str) -> Result<String> {
        let v = self.post_json(
            "model-versions/create",
            &json!({ "name": name, "source": source, "run_id": run_id }),
        )?;
        match &v["model_version"]["version"] {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(bad_answer(
                "model-versions/create",
                "no model_version.version",
            )),
        }
    }
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelVersion {
    /// The version number, as MLflow writes it (`"3"`).
    pub version: String,
    /// Where its files are (`runs:/<run>/model` or an `mlflow-artifacts:` URI).
    pub source: String,
    /// The run that logged it.
    pub run_id: String,
}

/// A file or folder in an artifact listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// Path relative to the folder listed.
    pub path: String,
    /// Whether it is a folder.
    pub is_dir: bool,
}

impl MlflowClient {
    /// Version `version` of registered model `name`, or its highest version for
    /// `"latest"`.
    pub fn model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let read = |m: &Value| -> Option<ModelVersion> {
            let version = match &m["version"] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some(ModelVersion {
                version,
                source: m["source"].as_str()?.to_string(),
                run_id: m["run_id"].as_str().unwrap_or("").to_string(),
            })
        };
        if version == "latest" {
            let filter = format!("name='{}'", name.replace('\'', "\\'"));
            let v = self.get_json("model-versions/search", &[("filter", &filter)])?;
            let best = v["model_versions"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .filter_map(read)
                .max_by_key(|m| m.version.parse::<u64>().unwrap_or(0));
            return best.ok_or_else(|| TrackingError::Server {
                endpoint: "model-versions/search".into(),
                status: 404,
                code: Some("RESOURCE_DOES_NOT_EXIST".into()),
                message: format!("registered model '{name}' has no versions"),
            });
        }
        let v = self.get_json(
            "model-versions/get",
            &[("name", name), ("version", version)],
        )?;
        read(&v["model_version"])
            .ok_or_else(|| bad_answer("model-versions/get", "no model_version"))
    }

    /// The artifact root of run `run_id` (`mlflow-artifacts:/<exp>/<run>/artifacts`).
    pub fn run_artifact_uri(&self, run_id: &str) -> Result<String> {
        let v = self.get_json("runs/get", &[("run_id", run_id)])?;
        v["run"]["info"]["artifact_uri"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| bad_answer("runs/get", "no run.info.artifact_uri"))
    }

    /// The URL of `rel` under an `mlflow-artifacts:` root, served by the tracking server.
    fn artifact_url(&self, artifact_uri: &str, rel: &str, listing: bool) -> Result<reqwest::Url> {
        let Some(root) = artifact_uri.strip_prefix("mlflow-artifacts:") else {
            return Err(TrackingError::Config(format!(
                "artifact root `{artifact_uri}` is not served by the tracking server \
                 (only mlflow-artifacts: roots can be fetched)"
            )));
        };
        let base = if listing {
            format!(
                "{}/api/2.0/mlflow-artifacts/artifacts",
                self.destination.uri
            )
        } else {
            format!(
                "{}/api/2.0/mlflow-artifacts/artifacts/",
                self.destination.uri
            )
        };
        let mut url = reqwest::Url::parse(&base)
            .map_err(|e| TrackingError::Config(format!("artifact URL: {e}")))?;
        let parts = root
            .trim_start_matches('/')
            .split('/')
            .chain(rel.split('/'))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>();
        if listing {
            url.query_pairs_mut().append_pair("path", &parts.join("/"));
        } else {
            let mut segs = url
                .path_segments_mut()
                .map_err(|_| TrackingError::Config("artifact URL cannot have a path".into()))?;
            segs.pop_if_empty();
            for s in parts {
                segs.push(s);
            }
        }
        Ok(url)
    }

    /// The entries of folder `rel` under an `mlflow-artifacts:` root.
    pub fn list_artifacts(&self, artifact_uri: &str, rel: &str) -> Result<Vec<ArtifactEntry>> {
        let url = self.artifact_url(artifact_uri, rel, true)?;
        let endpoint = "mlflow-artifacts/artifacts (list)";
        let body = self.send(endpoint, || self.http.get(url.clone()))?;
        let v = parse_body(endpoint, &body)?;
        Ok(v["files"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|f| {
                Some(ArtifactEntry {
                    path: f["path"].as_str()?.to_string(),
                    is_dir: f["is_dir"].as_bool().unwrap_or(false),
                })
            })
            .collect())
    }

    /// The bytes of file `rel` under an `mlflow-artifacts:` root.
    pub fn download_artifact(&self, artifact_uri: &str, rel: &str) -> Result<Vec<u8>> {
        let url = self.artifact_url(artifact_uri, rel, false)?;
        self.send("mlflow-artifacts/artifacts (download)", || {
            self.http.get(url.clone())
        })
    }
}

fn parse_body(endpoint: &str, body: &[u8]) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(body).map_err(|e| bad_answer(endpoint, &format!("not JSON: {e}")))
}

fn bad_answer(endpoint: &str, message: &str) -> TrackingError {
    TrackingError::Server {
        endpoint: endpoint.to_string(),
        status: 200,
        code: None,
        message: format!("unexpected answer: {message}"),
    }
}

fn string_field(v: &Value, key: &str, endpoint: &str) -> Result<String> {
    v[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| bad_answer(endpoint, &format!("no `{key}`")))
}

fn remote_run(run: &Value, endpoint: &str) -> Result<RemoteRun> {
    let info = &run["info"];
    let run_id = info["run_id"]
        .as_str()
        .or_else(|| info["run_uuid"].as_str())
        .ok_or_else(|| bad_answer(endpoint, "no run_id"))?;
    Ok(RemoteRun {
        run_id: run_id.to_string(),
        artifact_uri: info["artifact_uri"].as_str().unwrap_or("").to_string(),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_and_cap() {
        let p = RetryPolicy {
            attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        };
        for _ in 0..50 {
            let d0 = p.delay(0);
            assert!(
                d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(150),
                "{d0:?}"
            );
            let d3 = p.delay(3); // 800 ms ± 50 %
            assert!(
                d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(1200),
                "{d3:?}"
            );
            assert!(p.delay(30) <= Duration::from_secs(2));
        }
    }

    #[test]
    fn unreachable_server_is_a_transient_error_without_credentials() {
        // Port 9 on loopback: nothing listens there in a test environment.
        let dest = Destination::parse(
            "http://user:hunter2hunter2@127.0.0.1:9",
            Credentials::None,
            false,
        )
        .unwrap();
        let client = MlflowClient::new(dest, RetryPolicy::NONE).unwrap();
        let e = client.get_experiment_by_name("x").unwrap_err();
        assert!(e.is_transient(), "{e}");
        let text = format!("{e} {e:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
