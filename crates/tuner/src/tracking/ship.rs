//! Shipping a spooled run to a tracking server, idempotently: every step is recorded in
//! the run's `shipped.json` right after the server accepted it, and every step is safe to
//! repeat when a crash came between the two (runs are found again by their
//! `forecast.run_id` tag, identical metric points are stored once by MLflow, params are
//! re-sent with the same values, artifacts are overwritten, model versions are looked up
//! by run before one is created).

use super::client::{KeyValue, MlflowClient};
use super::error::{Result, TrackingError};
use super::spool::{now_ms, Ledger, Registration, RunId, RunRecord, RunStatus, Shipment, Spool};

/// Tag holding the local run id on the server.
pub const RUN_ID_TAG: &str = "forecast.run_id";
/// MLflow's tag linking a child run to its parent.
pub const PARENT_TAG: &str = "mlflow.parentRunId";
/// Artifact path the model directory is logged under (and registered from).
pub const MODEL_ARTIFACT_PATH: &str = "model";

/// What one sync of one run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncReport {
    /// The MLflow run id.
    pub remote_run_id: Option<String>,
    /// Metric points sent by this sync.
    pub metrics_sent: u64,
    /// Artifact files sent by this sync.
    pub artifacts_sent: usize,
    /// The run has ended and everything about it is on the server.
    pub complete: bool,
    /// Things worth telling the user that did not stop the sync (no Model Registry).
    pub warnings: Vec<String>,
}

/// Ships everything of run `id` the server does not have yet. On failure the error is
/// also recorded as the run's `last_error` for this server.
pub fn sync_run(spool: &Spool, client: &MlflowClient, id: &RunId) -> Result<SyncReport> {
    let _lock = spool.lock_shipping(id)?;
    let mut ledger = spool.load_ledger(id)?;
    let result = sync_locked(spool, client, id, &mut ledger);
    let entry = ledger
        .destinations
        .entry(client.uri().to_string())
        .or_default();
    let new_error = result.as_ref().err().map(|e| e.to_string());
    if entry.last_error != new_error {
        entry.last_error = new_error;
        entry.updated = now_ms();
        spool.save_ledger(id, &ledger)?;
    }
    result
}

/// Ships every run in the spool that is not complete on this server, oldest first
/// (parents before children). Returns each run's outcome.
pub fn sync_all(spool: &Spool, client: &MlflowClient) -> Result<Vec<(RunId, Result<SyncReport>)>> {
    let mut out = Vec::new();
    for record in spool.list()? {
        if is_complete(spool, &record, client.uri())? {
            continue;
        }
        let r = sync_run(spool, client, &record.id);
        out.push((record.id, r));
    }
    Ok(out)
}

/// True when `record` has ended and all of it is on the server at `uri`.
pub fn is_complete(spool: &Spool, record: &RunRecord, uri: &str) -> Result<bool> {
    let ledger = spool.load_ledger(&record.id)?;
    let Some(s) = ledger.destinations.get(uri) else {
        return Ok(false);
    };
    let metric_bytes = std::fs::metadata(spool.run_dir(&record.id).join("metrics.jsonl"))
        .map(|m| m.len())
        .unwrap_or(0);
    Ok(record.status != RunStatus::Running
        && s.remote_run_id.is_some()
        && s.revision_shipped == Some(record.revision)
        && s.metrics_offset >= metric_bytes
        && record
            .artifacts
            .iter()
            .all(|a| s.artifacts_shipped.contains(&a.path))
        && s.status_shipped == Some(record.status)
        && (record.register_model.is_none() || s.registration.is_some()))
}

fn save_entry(
    spool: &Spool,
    id: &RunId,
    ledger: &mut Ledger,
    uri: &str,
    entry: &Shipment,
) -> Result<()> {
    let mut e = entry.clone();
    e.updated = now_ms();
    ledger.destinations.insert(uri.to_string(), e);
    spool.save_ledger(id, ledger)
}

/// Makes sure the run exists on the server; returns (experiment id, remote run id,
/// artifact uri) and records them.
fn ensure_remote(
    spool: &Spool,
    client: &MlflowClient,
    record: &RunRecord,
    ledger: &mut Ledger,
) -> Result<Shipment> {
    let uri = client.uri().to_string();
    let mut entry = ledger.destinations.get(&uri).cloned().unwrap_or_default();
    if entry.remote_run_id.is_some() {
        return Ok(entry);
    }
    let experiment_id = match &entry.experiment_id {
        Some(e) => e.clone(),
        None => {
            let e = client.ensure_experiment(&record.experiment)?;
            entry.experiment_id = Some(e.clone());
            save_entry(spool, &record.id, ledger, &uri, &entry)?;
            e
        }
    };
    let parent_remote = match &record.parent {
        Some(parent) => Some(ensure_parent(spool, client, parent)?),
        None => None,
    };
    let filter = format!("tags.`{RUN_ID_TAG}` = '{}'", record.id);
    let found = client.search_runs(&experiment_id, &filter)?;
    let remote = match found.into_iter().next() {
        Some(run) => run,
        None => {
            let mut tags = vec![
                KeyValue {
                    key: RUN_ID_TAG.into(),
                    value: record.id.to_string(),
                },
                KeyValue {
                    key: "mlflow.source.name".into(),
                    value: "forecast".into(),
                },
                KeyValue {
                    key: "mlflow.source.type".into(),
                    value: "LOCAL".into(),
                },
            ];
            if let Some(p) = parent_remote {
                tags.push(KeyValue {
                    key: PARENT_TAG.into(),
                    value: p,
                });
            }
            client.create_run(&experiment_id, &record.name, record.start_time, &tags)?
        }
    };
    entry.remote_run_id = Some(remote.run_id);
    entry.artifact_uri = Some(remote.artifact_uri);
    save_entry(spool, &record.id, ledger, &uri, &entry)?;
    Ok(entry)
}

fn ensure_parent(spool: &Spool, client: &MlflowClient, parent: &RunId) -> Result<String> {
    let record = spool.load_record(parent)?;
    let _lock = spool.lock_shipping(parent)?;
    let mut ledger = spool.load_ledger(parent)?;
    let entry = ensure_remote(spool, client, &record, &mut ledger)?;
    entry
        .remote_run_id
        .ok_or_else(|| TrackingError::Config(format!("parent run {parent} has no server id")))
}

fn sync_locked(
    spool: &Spool,
    client: &MlflowClient,
    id: &RunId,
    ledger: &mut Ledger,
) -> Result<SyncReport> {
    let uri = client.uri().to_string();
    let record = spool.load_record(id)?;
    let mut entry = ensure_remote(spool, client, &record, ledger)?;
    let run_id = entry
        .remote_run_id
        .clone()
        .expect("ensure_remote sets the run id");
    let mut report = SyncReport {
        remote_run_id: Some(run_id.clone()),
        ..SyncReport::default()
    };

    if entry.revision_shipped != Some(record.revision) {
        let params: Vec<KeyValue> = record
            .params
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let tags: Vec<KeyValue> = record
            .tags
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        client.log_batch_chunked(&run_id, &[], &params, &tags, |_| Ok(()))?;
        entry.revision_shipped = Some(record.revision);
        save_entry(spool, id, ledger, &uri, &entry)?;
    }

    let chunk = spool.read_metrics(id, entry.metrics_offset)?;
    if !chunk.points.is_empty() {
        let mut done = 0usize;
        client.log_batch_chunked(&run_id, &chunk.points, &[], &[], |n| {
            done += n;
            entry.metrics_offset = chunk.ends[done - 1];
            entry.metrics_shipped += n as u64;
            report.metrics_sent += n as u64;
            save_entry(spool, id, ledger, &uri, &entry)
        })?;
    }

    let artifact_uri = entry.artifact_uri.clone().unwrap_or_default();
    for art in &record.artifacts {
        if entry.artifacts_shipped.contains(&art.path) {
            continue;
        }
        let path = spool.artifact_file(id, &art.path);
        let bytes = std::fs::read(&path).map_err(|e| TrackingError::io(&path, e))?;
        client.upload_artifact(&artifact_uri, &art.path, bytes)?;
        entry.artifacts_shipped.insert(art.path.clone());
        report.artifacts_sent += 1;
        save_entry(spool, id, ledger, &uri, &entry)?;
    }

    // A run reopened after it ended (a resumed tuning experiment) goes back to RUNNING on
    // the server too; a run never ended has nothing to send.
    let reopened = record.status == RunStatus::Running && entry.status_shipped.is_some();
    if entry.status_shipped != Some(record.status)
        && (record.status != RunStatus::Running || reopened)
    {
        client.update_run(&run_id, record.status.as_str(), record.end_time)?;
        entry.status_shipped = Some(record.status);
        save_entry(spool, id, ledger, &uri, &entry)?;
    }

    if let (Some(name), None, true) = (
        &record.register_model,
        &entry.registration,
        record.status != RunStatus::Running,
    ) {
        let outcome = register(client, name, &run_id, &artifact_uri)?;
        if let Registration::Unsupported { message } = &outcome {
            report.warnings.push(format!(
                "model `{name}` not registered: the server has no Model Registry ({message}); the run itself is logged"
            ));
        }
        entry.registration = Some(outcome);
        save_entry(spool, id, ledger, &uri, &entry)?;
    }

    report.complete = is_complete(spool, &record, &uri)?;
    Ok(report)
}

fn register(
    client: &MlflowClient,
    name: &str,
    run_id: &str,
    artifact_uri: &str,
) -> Result<Registration> {
    let unsupported = |e: &TrackingError| {
        e.status() == Some(404) && e.server_code() != Some("RESOURCE_DOES_NOT_EXIST")
    };
    match client.ensure_registered_model(name) {
        Ok(()) => {}
        Err(e) if unsupported(&e) => {
            return Ok(Registration::Unsupported {
                message: e.to_string(),
            })
        }
        Err(e) => return Err(e),
    }
    let existing = client.model_versions_of_run(name, run_id)?;
    let version = match existing.into_iter().next() {
        Some(v) => v,
        None => {
            let source = format!(
                "{}/{MODEL_ARTIFACT_PATH}",
                artifact_uri.trim_end_matches('/')
            );
            client.create_model_version(name, &source, run_id)?
        }
    };
    Ok(Registration::Registered {
        name: name.to_string(),
        version,
    })
}
