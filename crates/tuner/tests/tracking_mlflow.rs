//! Tracking against REAL MLflow servers (no mocks), checked through the REST API directly.
//!
//! Needs `FORECAST_MLFLOW_URI` (an MLflow 3.x server), `FORECAST_MLFLOW2_URI` (2.x) and
//! `FORECAST_MLFLOW_BIN` (the 3.x `mlflow` executable, for tests that stop or
//! reconfigure their own server): `eval "$(scripts/mlflow-test-server.sh up)"`.
//! Without them each test says SKIPPED loudly on stderr; with `FORECAST_REQUIRE_MLFLOW=1`
//! (CI) a missing variable fails the test instead.

use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tuner::tracking::*;

use forecast_test_support::{
    env_or_skip, mlflow_artifact_paths, mlflow_experiment_id, mlflow_search_runs, run_pairs,
    OwnMlflowServer, OWN_SERVER_ADMIN_PASSWORD,
};

struct Rest {
    uri: String,
    auth: Option<(String, String)>,
    http: reqwest::blocking::Client,
}

impl Rest {
    fn new(uri: &str) -> Rest {
        Rest {
            uri: uri.trim_end_matches('/').to_string(),
            auth: None,
            http: reqwest::blocking::Client::new(),
        }
    }
    fn req(&self, r: reqwest::blocking::RequestBuilder) -> Value {
        let r = match &self.auth {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        };
        let resp = r.send().expect("server answers");
        let status = resp.status();
        let text = resp.text().unwrap();
        assert!(status.is_success(), "{status}: {text}");
        if text.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }
    fn get(&self, path: &str, q: &[(&str, &str)]) -> Value {
        self.req(
            self.http
                .get(format!("{}/api/2.0/mlflow/{path}", self.uri))
                .query(q),
        )
    }
    fn post(&self, path: &str, body: Value) -> Value {
        self.req(
            self.http
                .post(format!("{}/api/2.0/mlflow/{path}", self.uri))
                .json(&body),
        )
    }
    fn run(&self, run_id: &str) -> Value {
        self.get("runs/get", &[("run_id", run_id)])["run"].clone()
    }
    fn history(&self, run_id: &str, key: &str) -> Vec<(i64, f64)> {
        let v = self.get(
            "metrics/get-history",
            &[
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ],
        );
        let mut out: Vec<(i64, f64)> = v["metrics"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|m| {
                (
                    m["step"].as_i64().unwrap_or(0),
                    m["value"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .collect();
        out.sort_by(|a, b| a.partial_cmp(b).unwrap());
        out
    }
    fn runs_with_local_id(&self, experiment_id: &str, local: &RunId) -> Vec<Value> {
        let v = self.post(
            "runs/search",
            json!({"experiment_ids": [experiment_id],
                   "filter": format!("tags.`forecast.run_id` = '{local}'")}),
        );
        v["runs"].as_array().cloned().unwrap_or_default()
    }
    fn params(run: &Value) -> std::collections::BTreeMap<String, String> {
        run_pairs(run, "params")
    }
    fn tag(run: &Value, key: &str) -> Option<String> {
        run_pairs(run, "tags").remove(key)
    }
}

fn unique(name: &str) -> String {
    format!("{name}-{}", RunId::generate())
}

fn quiet_tracker(
    dir: &Path,
    uri: Option<&str>,
    experiment: &str,
    creds: Credentials,
) -> (Tracker, Arc<std::sync::Mutex<Vec<String>>>) {
    let dest = uri.map(|u| Destination::parse(u, creds, false).unwrap());
    let notes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let n2 = notes.clone();
    let opts = ShipperOptions {
        interval: Duration::from_millis(200),
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(1),
        ..ShipperOptions::default()
    };
    let t = Tracker::with_options(
        dir,
        dest,
        experiment,
        opts,
        Arc::new(move |m: &str| n2.lock().unwrap().push(m.to_string())),
    )
    .unwrap();
    (t, notes)
}

/// A client for `uri` (credentials as given) with the default retry policy.
fn client(uri: &str, creds: Credentials) -> MlflowClient {
    MlflowClient::new(
        Destination::parse(uri, creds, false).unwrap(),
        RetryPolicy::default(),
    )
    .unwrap()
}

/// A model directory with the two files `log_model` uploads.
fn model_dir() -> tempfile::TempDir {
    let model = tempfile::tempdir().unwrap();
    std::fs::write(model.path().join("model.json"), r#"{"kind":"naive"}"#).unwrap();
    std::fs::write(model.path().join("MLmodel"), "flavors: {}\n").unwrap();
    model
}

fn remote_id(spool: &Spool, id: &RunId, uri: &str) -> String {
    spool.load_ledger(id).unwrap().destinations[uri]
        .remote_run_id
        .clone()
        .unwrap()
}

#[test]
fn tuning_experiment_has_a_parent_run_with_one_child_per_trial() {
    let Some(uri) = env_or_skip("FORECAST_MLFLOW_URI", "tuning_parent_child") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let exp = unique("tune");
    let (tracker, notes) = quiet_tracker(dir.path(), Some(&uri), &exp, Credentials::None);
    let mut parent = tracker.start_run("tune-parent", None).unwrap();
    parent
        .log_params([("search", "random"), ("samples", "3")])
        .unwrap();
    let pid = parent.id().clone();
    let mut children = Vec::new();
    for trial in 0..3 {
        let mut c = tracker
            .start_run(&format!("trial-{trial}"), Some(&pid))
            .unwrap();
        c.log_params([("hidden_size", (32 << trial).to_string())])
            .unwrap();
        for epoch in 1..=4 {
            c.log_metrics(
                &[("valid_loss".into(), 1.0 / (epoch + trial) as f64)],
                epoch,
            )
            .unwrap();
        }
        children.push(c.finish(RunStatus::Finished).unwrap());
    }
    parent
        .log_metrics(&[("best_valid_loss".into(), 0.25)], 0)
        .unwrap();
    parent.finish(RunStatus::Finished).unwrap();
    assert!(
        tracker.flush(Duration::from_secs(60)),
        "notes: {:?}",
        notes.lock().unwrap()
    );

    let rest = Rest::new(&uri);
    let exp_id = mlflow_experiment_id(&uri, &exp);
    let all = mlflow_search_runs(&uri, &exp_id);
    assert_eq!(all.len(), 4, "one parent and three children");
    let parent_remote = remote_id(tracker.spool(), &pid, &uri);
    let parent_run = rest.run(&parent_remote);
    assert_eq!(Rest::tag(&parent_run, "mlflow.parentRunId"), None);
    assert_eq!(parent_run["info"]["status"], "FINISHED");
    for (trial, cid) in children.iter().enumerate() {
        let rid = remote_id(tracker.spool(), cid, &uri);
        let run = rest.run(&rid);
        assert_eq!(
            Rest::tag(&run, "mlflow.parentRunId").as_deref(),
            Some(parent_remote.as_str())
        );
        assert_eq!(run["info"]["status"], "FINISHED");
        assert_eq!(Rest::params(&run)["hidden_size"], (32 << trial).to_string());
        let h = rest.history(&rid, "valid_loss");
        assert_eq!(h.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(h[0].1, 1.0 / (1 + trial) as f64);
    }
}

#[test]
fn batches_are_chunked_and_a_resync_after_a_lost_ledger_duplicates_nothing() {
    let Some(uri) = env_or_skip("FORECAST_MLFLOW_URI", "chunking_and_resync") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let exp = unique("chunks");
    // Local only first: the run is shipped by `sync_run`, as `forecast runs sync` does.
    let (tracker, _) = quiet_tracker(dir.path(), None, &exp, Credentials::None);
    let mut run = tracker.start_run("big", None).unwrap();
    let params: Vec<(String, String)> = (0..230)
        .map(|i| (format!("p{i:03}"), format!("v{i}")))
        .collect();
    run.log_params(params.clone()).unwrap();
    run.set_tags((0..120).map(|i| (format!("t{i}"), "x".to_string())))
        .unwrap();
    for step in 0..1200 {
        run.log_metrics(
            &[
                ("a".into(), step as f64),
                ("b".into(), -(step as f64)),
                ("nan".into(), f64::NAN),
            ],
            step,
        )
        .unwrap();
    }
    let id = run.finish(RunStatus::Finished).unwrap();
    let client = client(&uri, Credentials::None);
    let rep = sync_run(tracker.spool(), &client, &id).unwrap();
    assert_eq!(rep.metrics_sent, 3600);
    assert!(rep.complete);
    let rid = rep.remote_run_id.clone().unwrap();
    let rest = Rest::new(&uri);
    let check = |rest: &Rest| {
        let run = rest.run(&rid);
        assert_eq!(Rest::params(&run).len(), 230);
        assert_eq!(rest.history(&rid, "a").len(), 1200);
        assert_eq!(rest.history(&rid, "b").len(), 1200);
        let nan = rest.history(&rid, "nan");
        assert_eq!(nan.len(), 1200);
        assert!(nan[0].1.is_nan());
    };
    check(&rest);
    // A crash after the server accepted everything but before the ledger was written:
    // the run is found again by its tag and identical points are not stored twice.
    std::fs::remove_file(tracker.spool().run_dir(&id).join("shipped.json")).unwrap();
    let rep2 = sync_run(tracker.spool(), &client, &id).unwrap();
    assert_eq!(rep2.remote_run_id.as_deref(), Some(rid.as_str()));
    assert_eq!(rep2.metrics_sent, 3600);
    check(&rest);
    let exp_id = client.get_experiment_by_name(&exp).unwrap().unwrap();
    assert_eq!(rest.runs_with_local_id(&exp_id, &id).len(), 1);
    // Nothing left: a third sync sends nothing.
    assert_eq!(sync_all(tracker.spool(), &client).unwrap().len(), 0);
}

fn full_path_on(uri: &str, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let model = model_dir();
    let exp = unique(label);
    let (tracker, notes) = quiet_tracker(dir.path(), Some(uri), &exp, Credentials::None);
    let mut run = tracker.start_run("full", None).unwrap();
    run.log_params([("order", "[1,1,1]")]).unwrap();
    run.set_tags([("forecast.model", "arima")]).unwrap();
    run.log_metrics(&[("mae".into(), 1.25)], 1).unwrap();
    run.log_metrics(&[("mae".into(), 1.0)], 2).unwrap();
    run.log_model(model.path(), Some(&unique("reg"))).unwrap();
    let id = run.finish(RunStatus::Finished).unwrap();
    assert!(
        tracker.flush(Duration::from_secs(60)),
        "{:?}",
        notes.lock().unwrap()
    );
    let rest = Rest::new(uri);
    let rid = remote_id(tracker.spool(), &id, uri);
    let r = rest.run(&rid);
    assert_eq!(r["info"]["status"], "FINISHED");
    assert_eq!(Rest::params(&r)["order"], "[1,1,1]");
    assert_eq!(rest.history(&rid, "mae"), vec![(1, 1.25), (2, 1.0)]);
    assert_eq!(
        mlflow_artifact_paths(uri, &rid, "model"),
        vec!["model/MLmodel", "model/model.json"]
    );
    let reg = tracker.spool().load_ledger(&id).unwrap().destinations[uri]
        .registration
        .clone();
    let Some(Registration::Registered { name, version }) = reg else {
        panic!("{reg:?}")
    };
    let mv = rest.get(
        "model-versions/get",
        &[("name", &name), ("version", &version)],
    );
    assert_eq!(mv["model_version"]["run_id"], rid.as_str());
}

#[test]
fn mlflow3_full_path_params_metrics_artifacts_registration() {
    let Some(uri) = env_or_skip("FORECAST_MLFLOW_URI", "mlflow3_full_path") else {
        return;
    };
    full_path_on(&uri, "v3");
}

#[test]
fn mlflow2_full_path_params_metrics_artifacts_registration() {
    let Some(uri) = env_or_skip("FORECAST_MLFLOW2_URI", "mlflow2_full_path") else {
        return;
    };
    full_path_on(&uri, "v2");
}

#[test]
fn server_stopped_mid_run_the_run_finishes_locally_and_sync_ships_it_once() {
    let Some(mut server) = OwnMlflowServer::or_skip("server_stopped_mid_run", false) else {
        return;
    };
    server.up();
    let uri = server.uri();
    let dir = tempfile::tempdir().unwrap();
    let exp = unique("outage");
    let (tracker, notes) = quiet_tracker(dir.path(), Some(&uri), &exp, Credentials::None);
    let mut run = tracker.start_run("outage", None).unwrap();
    run.log_params([("lr", "0.01")]).unwrap();
    for epoch in 1..=5 {
        run.log_metrics(&[("loss".into(), epoch as f64)], epoch)
            .unwrap();
    }
    // The run is still going, so the tracker still has it pending; its first points shipped.
    tracker.flush(Duration::from_secs(30));
    let ledger = tracker.spool().load_ledger(run.id()).unwrap();
    assert_eq!(ledger.destinations[&uri].metrics_shipped, 5);
    server.stop();
    // Training goes on against a dead server: every call succeeds (it only writes the spool).
    for epoch in 6..=40 {
        run.log_metrics(&[("loss".into(), epoch as f64), ("acc".into(), 0.5)], epoch)
            .unwrap();
    }
    let id = run.finish(RunStatus::Finished).unwrap();
    assert!(
        !tracker.flush(Duration::from_secs(5)),
        "nothing can ship while the server is down"
    );
    let rec = tracker.spool().load_record(&id).unwrap();
    assert_eq!(rec.status, RunStatus::Finished);
    assert!(!is_complete(tracker.spool(), &rec, &uri).unwrap());
    assert!(
        notes
            .lock()
            .unwrap()
            .iter()
            .any(|n| n.contains("unreachable")),
        "{:?}",
        notes.lock().unwrap()
    );
    drop(tracker);

    server.up();
    let client = client(&uri, Credentials::None);
    let spool = Spool::open(dir.path()).unwrap();
    let results = sync_all(&spool, &client).unwrap();
    assert_eq!(results.len(), 1);
    let rep = results[0].1.as_ref().unwrap();
    assert!(rep.complete);
    let rid = rep.remote_run_id.clone().unwrap();
    let rest = Rest::new(&uri);
    let loss = rest.history(&rid, "loss");
    assert_eq!(
        loss.iter().map(|p| p.0).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    assert_eq!(rest.history(&rid, "acc").len(), 35);
    assert_eq!(rest.run(&rid)["info"]["status"], "FINISHED");
    // Syncing again changes nothing.
    assert!(sync_all(&spool, &client).unwrap().is_empty());
    assert_eq!(rest.history(&rid, "loss").len(), 40);
}

#[test]
fn basic_auth_right_credentials_ship_wrong_ones_fail_clearly_and_no_secret_on_disk() {
    let Some(mut server) = OwnMlflowServer::or_skip("basic_auth", true) else {
        return;
    };
    server.up();
    let uri = server.uri();
    let mut admin = Rest::new(&uri);
    admin.auth = Some(("admin".into(), OWN_SERVER_ADMIN_PASSWORD.into()));
    let password = "tok-secret-0123456789abcdef";
    admin.post(
        "users/create",
        json!({"username": "dagsuser", "password": password}),
    );

    let dir = tempfile::tempdir().unwrap();
    let exp = unique("auth");
    // Wrong password: a clear 401, the run stays in the spool.
    let wrong = Credentials::Basic {
        username: "dagsuser".into(),
        password: "wrong-password-xyz".into(),
    };
    let (tracker, _) = quiet_tracker(dir.path(), None, &exp, Credentials::None);
    let mut run = tracker.start_run("auth", None).unwrap();
    run.log_params([("lr", "0.1")]).unwrap();
    run.log_metrics(&[("loss".into(), 0.5)], 1).unwrap();
    let id = run.finish(RunStatus::Finished).unwrap();
    let bad = client(&uri, wrong);
    let err = sync_run(tracker.spool(), &bad, &id).unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(!err.is_transient());
    assert!(
        err.to_string().contains("MLFLOW_TRACKING_USERNAME"),
        "{err}"
    );
    let rec = tracker.spool().load_record(&id).unwrap();
    assert!(!is_complete(tracker.spool(), &rec, &uri).unwrap());

    // Right credentials, given the way DagsHub users give them (user + token in the URI).
    let embedded = uri.replace("http://", &format!("http://dagsuser:{password}@"));
    let good = client(&embedded, Credentials::None);
    let rep = sync_run(tracker.spool(), &good, &id).unwrap();
    assert!(rep.complete);
    let mut user = Rest::new(&uri);
    user.auth = Some(("dagsuser".into(), password.into()));
    let rid = rep.remote_run_id.unwrap();
    assert_eq!(user.history(&rid, "loss"), vec![(1, 0.5)]);

    // The secrets appear nowhere in the spool.
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            for secret in [password, "wrong-password-xyz"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} contains a secret",
                    p.display()
                );
            }
        }
    }
}

/// A pass-through HTTP/1.1 proxy in front of a real server that answers the Model
/// Registry's endpoints with the plain 404 page a server without those routes gives
/// (DagsHub's hosted MLflow 2.x answers 404 to them). Every other request reaches the
/// real server unchanged. Returns the proxy's URI.
fn registry_less_proxy(upstream: &str) -> String {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = upstream.trim_end_matches('/').to_string();
    std::thread::spawn(move || {
        let http = reqwest::blocking::Client::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (method, target) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            let mut headers = Vec::new();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.trim_end().split_once(':') {
                    let (k, v) = (k.trim().to_string(), v.trim().to_string());
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.parse().unwrap_or(0);
                    }
                    headers.push((k, v));
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let registry =
                target.contains("/registered-models/") || target.contains("/model-versions/");
            let (status, ctype, bytes) = if registry {
                (
                    404,
                    "text/html".to_string(),
                    b"<!doctype html><title>404 Not Found</title><h1>Not Found</h1>".to_vec(),
                )
            } else {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let mut req = http.request(method, format!("{upstream}{target}"));
                for (k, v) in &headers {
                    let skip = ["host", "content-length", "connection", "transfer-encoding"];
                    if !skip.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                        req = req.header(k, v);
                    }
                }
                match req.body(body).send() {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let ctype = resp
                            .headers()
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("application/json")
                            .to_string();
                        (
                            status,
                            ctype,
                            resp.bytes().map(|b| b.to_vec()).unwrap_or_default(),
                        )
                    }
                    Err(_) => (502, "text/plain".to_string(), b"bad gateway".to_vec()),
                }
            };
            let mut stream = reader.into_inner();
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&bytes);
        }
    });
    format!("http://{addr}")
}

#[test]
fn mlflow2_without_a_model_registry_warns_and_the_run_still_ships() {
    let Some(real) = env_or_skip("FORECAST_MLFLOW2_URI", "mlflow2_registry_404") else {
        return;
    };
    let uri = registry_less_proxy(&real);
    let dir = tempfile::tempdir().unwrap();
    let model = model_dir();
    let exp = unique("noreg");
    let (tracker, notes) = quiet_tracker(dir.path(), Some(&uri), &exp, Credentials::None);
    let mut run = tracker.start_run("noreg", None).unwrap();
    run.log_params([("order", "[0,1,1]")]).unwrap();
    run.log_metrics(&[("mae".into(), 2.5)], 1).unwrap();
    let reg = unique("reg");
    run.log_model(model.path(), Some(&reg)).unwrap();
    let id = run.finish(RunStatus::Finished).unwrap();
    assert!(
        tracker.flush(Duration::from_secs(60)),
        "{:?}",
        notes.lock().unwrap()
    );
    // The run is complete on the (real) server behind the proxy, registration recorded as
    // unsupported, and the user was told why.
    let ledger = tracker.spool().load_ledger(&id).unwrap();
    let shipment = &ledger.destinations[&uri];
    assert!(
        matches!(
            shipment.registration,
            Some(Registration::Unsupported { .. })
        ),
        "{:?}",
        shipment.registration
    );
    let rec = tracker.spool().load_record(&id).unwrap();
    assert!(is_complete(tracker.spool(), &rec, &uri).unwrap());
    let warned = notes.lock().unwrap().clone();
    assert!(
        warned
            .iter()
            .any(|n| n.contains(&reg) && n.contains("no Model Registry")),
        "{warned:?}"
    );
    let rest = Rest::new(&real);
    let rid = shipment.remote_run_id.clone().unwrap();
    let r = rest.run(&rid);
    assert_eq!(r["info"]["status"], "FINISHED");
    assert_eq!(rest.history(&rid, "mae"), vec![(1, 2.5)]);
    assert_eq!(mlflow_artifact_paths(&real, &rid, "model").len(), 2);
    // Nothing was registered on the real server.
    let found = rest.get(
        "registered-models/search",
        &[("filter", &format!("name='{reg}'"))],
    );
    assert!(found["registered_models"]
        .as_array()
        .is_none_or(|a| a.is_empty()));
}
